"""`rebal-opt import` and `rebal-opt securities`, and the order/ledger files of the planning commands.

Thin: the importers live in rebal_opt.connectors, the security master in rebal_opt.models.securities.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
import yaml

from rebal_opt.models.result import Trade
from rebal_opt.models.scenario import Scenario

from .files import OutputFile, atomic_write

if TYPE_CHECKING:
    from rebal_opt.connectors.beancount_ledger import Ledger

ORDER_FORMATS = ("csv", "ibkr-basket")


class LedgerFile(click.ParamType):
    """A beancount ledger to write the plan for: loaded when the command line is read, so that a ledger
    beancount cannot load fails at once (exit 2, one line) rather than after the solve."""

    name = "ledger"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from rebal_opt.connectors.beancount_plan import ledger_for
        from rebal_opt.models.errors import ScenarioError

        if not isinstance(value, str):
            return value
        try:
            return ledger_for(value)
        except ScenarioError as exc:
            self.fail("; ".join(exc.lines()), param, ctx)


def order_options(command):  # type: ignore[no-untyped-def]
    """--orders, --orders-format, --ledger and --ledger-for, shared by the planning commands."""

    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("ledger_for") is not None and kwargs.get("ledger_path") is None:
            raise click.UsageError("--ledger-for says which ledger --ledger FILE is for; give --ledger FILE too")
        return command(*args, **kwargs)

    for option in reversed(
        [
            click.option(
                "--orders",
                "orders_path",
                type=OutputFile(),
                metavar="FILE",
                help="Also write the plan's orders to FILE.csv (one row per order, with the lots a sale takes).",
            ),
            click.option(
                "--orders-format",
                type=click.Choice(ORDER_FORMATS),
                default="csv",
                show_default=True,
                help="csv: rebal-opt's orders CSV; ibkr-basket: a TWS BasketTrader file.",
            ),
            click.option(
                "--ledger",
                "ledger_path",
                type=OutputFile(),
                metavar="FILE",
                help="Also write the plan as beancount transactions to FILE.beancount.",
            ),
            click.option(
                "--ledger-for",
                "ledger_for",
                type=LedgerFile(),
                metavar="LEDGER",
                help="Write --ledger for your beancount LEDGER: postings to the accounts that hold the lots there, "
                "to append to it (default when an account's source: is a beancount ledger).",
            ),
        ]
    ):
        checked = option(checked)
    return checked


def write_orders(
    scenario: Scenario,
    trades: Sequence[Trade],
    orders_path: str | None,
    orders_format: str,
    ledger_path: str | None,
    ledger_for: Ledger | None = None,
    periods: Sequence[tuple[int, dt.date]] = (),
) -> None:
    """Write the orders and the ledger, each whole or not at all (both are made before either is written)."""
    from rebal_opt.connectors.beancount_plan import plan_ledger
    from rebal_opt.connectors.orders import ibkr_basket, orders_csv

    files: list[tuple[str, str]] = []
    if orders_path is not None:
        text = (
            ibkr_basket(scenario, trades) if orders_format == "ibkr-basket" else orders_csv(scenario, trades, periods)
        )
        files.append((orders_path, text))
    if ledger_path is not None:
        text, notes = plan_ledger(scenario, trades, [d for _, d in periods], ledger_for)
        for note in notes:
            click.echo(f"note: {ledger_path}: {note}", err=True)
        files.append((ledger_path, text))
    for path, text in files:
        atomic_write(path, text)


def register(cli: click.Group, guarded) -> None:  # type: ignore[no-untyped-def]
    @cli.command("import")
    @click.option(
        "--policy",
        "policy_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=str),
        help="The policy: a scenario file whose accounts may have no lots or holdings.",
    )
    @click.argument("sources", nargs=-1, metavar="FORMAT:PATH...")
    @click.option(
        "-o",
        "output",
        type=OutputFile(),
        metavar="FILE",
        help="Write the scenario to FILE (default: stdout).",
    )
    @guarded
    def import_(policy_path: str, sources: tuple[str, ...], output: str | None) -> None:
        """Write a complete scenario from POLICY plus broker exports.

        FORMAT is one of lots-csv, schwab, fidelity, vanguard, ibkr-flex, ofx, beancount. Rows that are not
        positions are reported as notes on stderr; a file that can't be read is one error line naming the
        file, row and column (exit 2)."""
        from rebal_opt.connectors.assemble import import_files

        outcome = import_files(policy_path, sources)
        for note in outcome.notes:
            click.echo(f"note: {note}", err=True)
        text = yaml.safe_dump(outcome.data, sort_keys=False, allow_unicode=True, width=120)
        if output is None:
            click.echo(text, nl=False)
        else:
            atomic_write(output, text)
            n_lots = sum(len(a.lots) for a in outcome.scenario.accounts)
            click.echo(f"{output}: {len(outcome.scenario.accounts)} accounts, {n_lots} lots", err=True)

    @cli.command()
    @click.argument("tickers", nargs=-1, required=True, metavar="TICKER...")
    @click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON object.")
    @guarded
    def securities(tickers: tuple[str, ...], as_json: bool) -> None:
        """Show what the security master knows about each TICKER (exit 2 when one is unknown)."""
        import json

        from rebal_opt.models.securities import load_master, lookup

        from .main import EXIT_BAD_INPUT, fail

        found = {t.upper(): lookup(t) for t in tickers}
        if as_json:
            click.echo(json.dumps({t: (i.fields() if i else None) for t, i in found.items()}, indent=2))
        else:
            for t, info in found.items():
                if info is None:
                    continue
                click.echo(f"{t}: {info.name}")
                for key, value in info.fields().items():
                    if key not in ("ticker", "name") and value not in ("", None):
                        click.echo(f"  {key}: {value}")
        unknown = [t for t, i in found.items() if i is None]
        if unknown:
            from difflib import get_close_matches

            hints = [f"{t}" + (f" (did you mean {m[0]}?)" if (m := get_close_matches(t, load_master(), 1)) else "")
                     for t in unknown]  # fmt: skip
            fail(EXIT_BAD_INPUT, f"not in the security master: {', '.join(hints)}; give asset_class in the scenario")
