"""Importers (each format from its fixture under tests/data/import, and malformed copies), the security master,
the menu rule, orders and ledger output, and the import -> solve -> orders -> apply -> re-import round trip."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.connectors.assemble import import_files
from rebal_opt.connectors.orders import read_orders
from rebal_opt.models.errors import ScenarioError
from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.securities import KINDS, MASTER_COLUMNS, class_vocabulary, parse_class
from rebal_opt.solver.execution import apply_executions

DATA = Path(__file__).parent / "data" / "import"
POLICY = DATA / "policy.yaml"
LOT_SOURCES = {
    "lots-csv": ["lots-csv:lots.csv"],
    "schwab": ["schwab:schwab-lots.csv", "schwab:schwab-positions.csv"],
    "fidelity": ["fidelity:fidelity-lots.csv", "fidelity:fidelity-positions.csv"],
    "ibkr-xml": ["ibkr-flex:ibkr.xml"],
    "ibkr-csv": ["ibkr-flex:ibkr.csv"],
    "beancount": ["beancount:ledger.beancount"],
}
# What every lot-level fixture says the joint account holds: (security, shares, basis, acquired).
JOINT = {
    ("VTI", 120.0, 18024.0, dt.date(2019, 3, 14)),
    ("VTI", 3.417, 974.19, dt.date(2025, 12, 20)),
    ("VXUS", 300.0, 21000.0, dt.date(2022, 6, 1)),
    ("BND", 200.0, 15200.0, dt.date(2025, 2, 10)),
}


def sources(names: list[str]) -> list[str]:
    return [f"{n.split(':')[0]}:{DATA / n.split(':', 1)[1]}" for n in names]


def lot_set(scenario, account: str = "joint") -> set[tuple[str, float, float, dt.date]]:
    return {
        (lot.security, round(lot.shares, 6), round(lot.cost_basis, 2), lot.acquired)
        for lot in scenario.account(account).lots
    }


@pytest.mark.parametrize("fmt", sorted(LOT_SOURCES))
def test_each_lot_format_gives_the_same_lots(fmt: str) -> None:
    outcome = import_files(POLICY, sources(LOT_SOURCES[fmt]))
    s = outcome.scenario
    assert lot_set(s) == JOINT
    assert s.securities["VTI"].price == 310.25
    assert s.account("work401k").holdings == {"VIIIX": 55.5, "VBTLX": 900}  # the account's own source:
    if fmt in ("lots-csv", "fidelity", "ibkr-xml"):  # the others' fixtures carry no cash for the joint account
        assert s.account("joint").cash == pytest.approx(4500.0)
    if fmt in ("lots-csv", "schwab", "fidelity"):
        assert s.account("ira").holdings == {"BND": 400, "VXUS": 150}
        assert s.account("ira").cash == pytest.approx(800.0)


@pytest.mark.parametrize(
    ("source", "holdings", "cash"),
    [
        ("ofx:statement.ofx", {"BND": 400, "VXUS": 150}, 800.0),
        ("vanguard:vanguard.csv", {"BND": 400, "VXUS": 150, "VMFXX": 800}, 0.0),
        ("schwab:schwab-positions.csv", {"BND": 400, "VXUS": 150}, 800.0),
        ("fidelity:fidelity-positions.csv", {"BND": 400, "VXUS": 150}, 800.0),
    ],
)
def test_position_formats_fill_tax_advantaged_accounts(source: str, holdings: dict, cash: float) -> None:
    s = import_files(POLICY, sources([source])).scenario
    assert s.account("ira").holdings == holdings
    assert s.account("ira").cash == pytest.approx(cash)


def test_skipped_rows_are_notes_never_silent() -> None:
    notes = import_files(POLICY, sources(LOT_SOURCES["schwab"])).notes
    assert any("skipped option AAPL" in n for n in notes)
    assert any("disallowed wash-sale loss of 35.00" in n for n in notes)
    fidelity = import_files(POLICY, sources(LOT_SOURCES["fidelity"])).notes
    assert any("pending activity" in n for n in fidelity)


def test_positions_only_export_cannot_fill_a_taxable_account(tmp_path: Path) -> None:
    text = (DATA / "schwab-positions.csv").read_text().replace("...5678", "...1234")
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(ScenarioError, match="needs lots with acquired dates"):
        import_files(POLICY, [f"schwab:{tmp_path / 'p.csv'}"])


MALFORMED = [
    ("lots-csv", "lots.csv", "120,18024.00", "12x,18024.00", r"lots\.csv: row 2, column shares: '12x' is not a number"),
    ("lots-csv", "lots.csv", "2022-06-01", "2022-13-45", r"row 4, column acquired: '2022-13-45' is not a date"),
    ("schwab", "schwab-lots.csv", '"$18,024.00"', '"$18,O24.00"', r"schwab-lots\.csv: row 4, column Cost Basis"),
    ("schwab", "schwab-lots.csv", "Open Date", "Opened", r"needs lots with acquired dates"),
    ("fidelity", "fidelity-lots.csv", '"03/14/2019"', '"14.03.2019"', r"row 2, column Date Acquired"),
    ("ibkr-flex", "ibkr.xml", 'position="300"', 'position="3OO"', r"OpenPosition #4 \(VXUS\), field position"),
    (
        "ibkr-flex",
        "ibkr.xml",
        "</OpenPositions>",
        "</OpenPosition>",
        r"ibkr\.xml: row \d+, column \d+: not well",
    ),
    ("ibkr-flex", "ibkr.csv", '"20220601;110000"', '"sometime"', r"ibkr\.csv: row 4, field openDateTime"),
    ("vanguard", "vanguard.csv", "400.0000", "four hundred", r"vanguard\.csv: row 2, column Shares"),
    ("ofx", "statement.ofx", "<UNITS>400", "<UNITS>four", r"statement\.ofx: \(file\): not a readable OFX"),
    ("beancount", "ledger.beancount", "300 VXUS {70.00 USD}", "300 VXUS {70.00 USD", r"ledger\.beancount: row \d+"),
]


@pytest.mark.parametrize(("fmt", "name", "old", "new", "message"), MALFORMED)
def test_malformed_files_give_one_line_with_file_and_row(
    tmp_path: Path, fmt: str, name: str, old: str, new: str, message: str
) -> None:
    text = (DATA / name).read_text()
    assert old in text
    (tmp_path / name).write_text(text.replace(old, new, 1))
    result = CliRunner().invoke(cli, ["import", "--policy", str(POLICY), f"{fmt}:{tmp_path / name}"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert str(tmp_path / name) in errors[0]
    import re

    assert re.search(message, errors[0]), errors[0]


def test_unmapped_broker_account_is_an_error(tmp_path: Path) -> None:
    text = (DATA / "ibkr.csv").read_text().replace("U1234", "U9999")
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(ScenarioError, match="account U9999: is not in the policy"):
        import_files(POLICY, [f"ibkr-flex:{tmp_path / 'x.csv'}"])


def test_import_through_the_cli_writes_a_valid_scenario(tmp_path: Path) -> None:
    out = tmp_path / "household.yaml"
    runner = CliRunner()
    result = runner.invoke(cli, ["import", "--policy", str(POLICY), *sources(LOT_SOURCES["ibkr-xml"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["validate", str(out)]).exit_code == 0
    stdout = runner.invoke(cli, ["import", "--policy", str(POLICY), *sources(LOT_SOURCES["lots-csv"])])
    assert stdout.exit_code == 0 and yaml.safe_load(stdout.stdout)["accounts"][0]["id"] == "joint"


# --- the security master -------------------------------------------------------------------------------------


def test_master_integrity() -> None:
    text = (Path(__file__).parents[1] / "models" / "data" / "securities.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) >= 300
    assert tuple(rows[0]) == MASTER_COLUMNS
    tickers = [r["ticker"] for r in rows]
    assert len(set(tickers)) == len(tickers)
    vocabulary = set(class_vocabulary())
    for r in rows:
        assert r["source"].strip() and r["as_of"].strip(), r["ticker"]
        assert r["kind"] in KINDS
        split = parse_class(r["asset_class"])
        classes = [split] if isinstance(split, str) else list(split or {})
        assert set(classes) <= vocabulary, r["ticker"]
        if isinstance(split, dict):
            assert sum(split.values()) == pytest.approx(1.0)
        if split is None:
            assert "give asset_class" in r["note"], r["ticker"]
        if not r["expense_ratio"]:
            assert "expense ratio" in r["note"], r["ticker"]  # never guessed: empty with a note
        else:
            assert 0 <= float(r["expense_ratio"]) < 0.03, r["ticker"]
        assert r["wash_group"].startswith(("index:", "fund:"))
    by_ticker = {r["ticker"]: r for r in rows}
    # Funds on one index and share classes of one fund share a wash group (the BND / FXNAX case).
    assert by_ticker["BND"]["wash_group"] == by_ticker["FXNAX"]["wash_group"] == by_ticker["AGG"]["wash_group"]
    assert by_ticker["VTI"]["wash_group"] == by_ticker["VTSAX"]["wash_group"]
    assert by_ticker["VOO"]["wash_group"] == by_ticker["IVV"]["wash_group"] == by_ticker["FXAIX"]["wash_group"]
    assert by_ticker["VTI"]["wash_group"] != by_ticker["ITOT"]["wash_group"]  # different indexes: substitutes


def test_securities_command() -> None:
    result = CliRunner().invoke(cli, ["securities", "VTI", "fxnax"])
    assert result.exit_code == 0 and "CRSP US Total Market" in result.output and "FXNAX" in result.output
    assert CliRunner().invoke(cli, ["securities", "NOPEX"]).exit_code == 2


def _scenario(securities: dict, accounts: list) -> dict:
    return {
        "as_of": "2026-11-25",
        "tax": {"filing_status": "single", "ordinary_income": 90000},
        "targets": {"us_equity": 0.6, "bonds": 0.4},
        "securities": securities,
        "accounts": accounts,
    }


def test_known_tickers_need_no_class_and_classes_widen_to_the_targets() -> None:
    s = parse_scenario(_scenario({"VB": {"price": 200}, "BND": {"price": 70}, "VTIP": {"price": 50}},
                                 [{"id": "a", "type": "tax_exempt", "holdings": {"VB": 10}}]))  # fmt: skip
    assert s.securities["VB"].asset_class == "us_equity"  # small_cap_equity widened: no target for it
    assert s.securities["VTIP"].asset_class == "bonds"
    assert s.wash_group("BND") == "index:bloomberg-us-aggregate"
    with pytest.raises(ScenarioError, match="NOPEX is not in the security master"):
        parse_scenario(_scenario({"NOPEX": {"price": 1}}, [{"id": "a", "type": "tax_exempt"}]))


def test_menu_rule() -> None:
    securities = {"VTI": {"price": 300}, "VIIIX": {"price": 460}, "BND": {"price": 70}}
    s = parse_scenario(
        _scenario(
            securities,
            [
                {"id": "brokerage", "type": "taxable"},
                {"id": "roth", "type": "tax_exempt", "plan": "roth_ira"},
                {"id": "k401", "type": "tax_deferred", "plan": "401k", "holdings": {"VIIIX": 10}},
                {"id": "k403", "type": "tax_deferred", "plan": "403b", "buyable": ["VIIIX", "BND"]},
            ],
        )
    )
    assert s.account("brokerage").buyable == ["VTI", "BND"]  # never a plan-only fund
    assert s.account("roth").buyable == ["VTI", "BND"]
    assert s.account("k401").buyable == ["VIIIX"]  # no menu given: the funds it holds
    assert s.account("k403").buyable == ["VIIIX", "BND"]
    with pytest.raises(ScenarioError, match="only offered inside employer plans"):
        parse_scenario(_scenario(securities, [{"id": "b", "type": "taxable", "buyable": ["VIIIX"]}]))


# --- orders, ledger, round trip ----------------------------------------------------------------------------


def _imported(tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / "household.yaml"
    result = CliRunner().invoke(cli, ["import", "--policy", str(POLICY), *sources(LOT_SOURCES[fmt]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    # A contribution and a tilted target make the plan sell lots (some at a gain, some at a loss) and buy.
    data = yaml.safe_load(out.read_text())
    data["targets"] = {"us_equity": 0.1, "intl_equity": 0.45, "bonds": 0.4, "cash": 0.05}
    data["objective"] = {"tax_weight": 0.2}
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _solve(tmp_path: Path, scenario: Path, *extra: str) -> dict:
    import json

    result = CliRunner().invoke(cli, ["solve", str(scenario), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_orders_basket_and_ledger(tmp_path: Path) -> None:
    from beancount import loader
    from beancount.core import data as bc

    scenario = _imported(tmp_path, "lots-csv")
    orders, basket, ledger = tmp_path / "o.csv", tmp_path / "b.csv", tmp_path / "p.beancount"
    plan = _solve(tmp_path, scenario, "--orders", str(orders), "--ledger", str(ledger))
    _solve(tmp_path, scenario, "--orders", str(basket), "--orders-format", "ibkr-basket")
    sells = [t for t in plan["trades"] if t["action"] == "sell" and t["account"] == "joint"]
    assert sells, "the fixture plan should sell lots in the taxable account"
    rows = list(csv.DictReader(orders.open()))
    assert len(rows) == len(plan["trades"])
    for row in rows:
        if row["action"] == "sell" and row["account"] == "joint":
            assert row["cost_basis_method"] == "SPECIFIC_LOT" and row["lots"] and row["lot_acquired"]
    header = basket.read_text().splitlines()[0]
    assert header == "Action,Quantity,Symbol,SecType,Exchange,Currency,TimeInForce,OrderType,BasketTag,Account"
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    # Independently of the writer: each sale's gain is units × price − units × cost, from the parsed postings.
    gains = {"short": Decimal(0), "long": Decimal(0)}
    booked = {"short": Decimal(0), "long": Decimal(0)}
    for entry in entries:
        if not isinstance(entry, bc.Transaction) or "sell" not in (entry.narration or ""):
            continue
        for p in entry.postings:
            if p.cost is not None and p.units.number < 0:
                term = "long" if (entry.date - p.cost.date).days > 365 else "short"
                gains[term] += -p.units.number * (p.price.number - p.cost.number)
            if p.account.startswith("Income:CapitalGains:"):
                booked[p.account.rsplit(":", 1)[1].lower()] -= p.units.number
    for term in ("short", "long"):
        assert float(booked[term]) == pytest.approx(plan["realized"][f"{term}_term"], abs=0.01 * len(rows))
        assert float(gains[term]) == pytest.approx(plan["realized"][f"{term}_term"], abs=0.01 * len(rows))


def _write_like(fmt: str, scenario, path: Path) -> list[str]:
    """The household after the plan, written back in the broker's format (what the next export would say)."""
    joint = scenario.account("joint")
    price = {t: s.price for t, s in scenario.securities.items()}
    if fmt == "lots-csv":
        lines = ["account,account_type,security,shares,cost_basis,acquired,price"]
        lines += [f"joint,taxable,{lot.security},{lot.shares!r},{lot.cost_basis!r},{lot.acquired},{price[lot.security]}"
                  for lot in joint.lots]  # fmt: skip
        lines.append(f"joint,taxable,CASH,{joint.cash!r},,,")
        for account in ("ira",):
            a = scenario.account(account)
            lines += [f"{account},tax_deferred,{t},{n!r},,,{price[t]}" for t, n in a.holdings.items()]
            lines.append(f"{account},tax_deferred,CASH,{a.cash!r},,,")
        path.write_text("\n".join(lines) + "\n")
        return [f"lots-csv:{path}"]
    if fmt == "ibkr-csv":
        lines = ['"ClientAccountID","CurrencyPrimary","AssetClass","Symbol","Quantity","MarkPrice","CostBasisMoney",'
                 '"OpenDateTime","LevelOfDetail"']  # fmt: skip
        lines += [f'"U1234","USD","STK","{lot.security}","{lot.shares!r}","{price[lot.security]}","{lot.cost_basis!r}",'
                  f'"{lot.acquired:%Y%m%d};100000","LOT"' for lot in joint.lots]  # fmt: skip
        path.write_text("\n".join(lines) + "\n")
        return [f"ibkr-flex:{path}"]
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["lots-csv", "ibkr-csv"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    scenario_path = _imported(tmp_path, fmt)
    orders = tmp_path / "orders.csv"
    ledger = tmp_path / "plan.beancount"
    _solve(tmp_path, scenario_path, "--orders", str(orders), "--ledger", str(ledger))
    before = parse_scenario(yaml.safe_load(scenario_path.read_text()))
    after = apply_executions(before, read_orders(orders, before.as_of), settle_contributions=True).scenario
    if fmt == "beancount":  # the plan's transactions appended to the household's own ledger
        plan_part = ledger.read_text().split("; --- the plan ---", 1)[1]
        opens = [line for line in ledger.read_text().splitlines() if " open " in line and "Rebal" in line]
        text = (DATA / "ledger.beancount").read_text().replace("Assets:Schwab:Joint", "Assets:Rebal:Joint")
        text = text.replace("Assets:Rebal:Joint:Cash USD", "Assets:Rebal:Joint:Cash")
        extra = "\n".join(o for o in opens if o.split()[-1] not in text)
        extra += "\n2015-01-01 open Income:CapitalGains:Short USD\n2015-01-01 open Income:CapitalGains:Long USD"
        extra += "\n2015-01-01 open Expenses:Trading USD\n"
        (tmp_path / "ledger.beancount").write_text(text + "\n" + extra + plan_part)
        policy = yaml.safe_load(POLICY.read_text())
        policy["accounts"][0]["broker_account"] = "Assets:Rebal:Joint"
        (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
        (tmp_path / "work401k.csv").write_text((DATA / "work401k.csv").read_text())
        again = import_files(tmp_path / "policy.yaml", [f"beancount:{tmp_path / 'ledger.beancount'}"]).scenario
    else:
        again = import_files(POLICY, _write_like(fmt, after, tmp_path / "next.csv")).scenario
    # Lot by lot, the re-imported holdings are what the plan said (ids aside: brokers number lots their own way).
    assert lot_set(again) == lot_set(after)
    assert again.account("joint").cash == pytest.approx(after.account("joint").cash, abs=0.02)
