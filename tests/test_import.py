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
    if fmt in ("lots-csv", "schwab", "fidelity", "beancount"):
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
            if p.account in ("Income:CapitalGains:Short", "Income:CapitalGains:Long"):
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
    if fmt == "schwab":  # Unrealized Gain/Loss, lot details: the symbol on its first lot only, money in cents
        lines = ['"Unrealized Gain/Loss - Lot Details for account Joint Tenant ...1234 as of 11/25/2026"', '""',
                 '"Symbol","Name","Open Date","Quantity","Price","Cost/Share","Market Value","Cost Basis",'
                 '"Gain/Loss $","Gain/Loss %","Holding Period","Disallowed Loss"']  # fmt: skip
        last = ""
        for lot in sorted(joint.lots, key=lambda lot: (lot.security, lot.acquired)):
            symbol, last = ("" if lot.security == last else lot.security), lot.security
            lines.append(f'"{symbol}","","{lot.acquired:%m/%d/%Y}","{lot.shares!r}","${price[lot.security]:,.2f}",'
                         f'"${lot.basis_per_share:,.2f}","${lot.shares * price[lot.security]:,.2f}",'
                         f'"${lot.cost_basis:,.2f}","--","--","--","--"')  # fmt: skip
        lines.append('"Account Total","","","","","","","","","","",""')
        path.write_text("\n".join(lines) + "\n")
        return [f"schwab:{path}"]
    if fmt == "fidelity":  # the lot-level download, with the core money market as the account's cash
        lines = ['"Account Number","Account Name","Symbol","Description","Date Acquired","Quantity","Last Price",'
                 '"Current Value","Cost Basis","Wash Sale Loss Disallowed","Term"']  # fmt: skip
        lines += [f'"X12341234","Joint WROS","{lot.security}","","{lot.acquired:%m/%d/%Y}","{lot.shares!r}",'
                  f'"${price[lot.security]:,.2f}","","${lot.cost_basis:,.2f}","--",""'
                  for lot in joint.lots]  # fmt: skip
        lines.append(
            f'"X12341234","Joint WROS","SPAXX**","HELD IN MONEY MARKET","","","","${joint.cash:,.2f}","","",""'
        )
        path.write_text("\n".join(lines) + "\n")
        return [f"fidelity:{path}"]
    raise AssertionError(fmt)


def _apply_orders(before_path: Path, orders: Path, *, from_sources: bool = False):
    """The household as the plan leaves it: the orders CSV read back and applied to the holdings solved."""
    from rebal_opt.connectors.assemble import load_scenario

    before = load_scenario(before_path) if from_sources else parse_scenario(yaml.safe_load(before_path.read_text()))
    return apply_executions(before, read_orders(orders, before.as_of), settle_contributions=True).scenario


@pytest.mark.parametrize("fmt", ["lots-csv", "ibkr-csv", "schwab", "fidelity"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    """Import -> solve -> orders -> apply -> the broker's next export -> re-import: the lots the plan said.

    For a broker file the round trip depends on the test writing that file as the broker would, so it shows
    that the importer keeps what an export of the new holdings says: every lot left or bought, its date, shares
    and basis (to the cent, as brokers print it)."""
    scenario_path = _imported(tmp_path, fmt)
    orders = tmp_path / "orders.csv"
    _solve(tmp_path, scenario_path, "--orders", str(orders))
    after = _apply_orders(scenario_path, orders)
    again = import_files(POLICY, _write_like(fmt, after, tmp_path / "next.csv")).scenario
    # Lot by lot, the re-imported holdings are what the plan said (ids aside: brokers number lots their own way).
    assert lot_set(again) == lot_set(after)
    bought = {lot for lot in lot_set(after) if lot[3] == after.as_of}
    assert bought and lot_set(after) - bought != JOINT  # the plan bought, and sold lots whole or in part
    if fmt in ("lots-csv", "fidelity"):
        assert again.account("joint").cash == pytest.approx(after.account("joint").cash, abs=0.01)


def _sale_lines(entries) -> list[tuple[str, Decimal, object, str, Decimal]]:
    """Each lot line of the ledger's sales: (lot id, shares, cost, income account, income), read from the
    postings (a lot reduction followed by the income posting that names the lot)."""
    from beancount.core import data as bc

    out = []
    for entry in entries:
        if not isinstance(entry, bc.Transaction) or "rebal-opt" not in entry.tags:
            continue
        pending = None
        for p in entry.postings:
            if p.cost is not None and p.units.number < 0:
                pending = p
            elif p.account.startswith("Income:CapitalGains:") and pending is not None and "lot" in p.meta:
                out.append((p.meta["lot"], -pending.units.number, pending.cost, p.account, p.units.number))
                pending = None
    return out


@pytest.mark.parametrize("route", ["--ledger-for", "source"])
def test_beancount_round_trip(tmp_path: Path, route: str) -> None:
    """The plan written for the household's own ledger, appended to it, loads with beancount and re-imports to
    the lots the plan said; its realized gains are the plan's. `--ledger-for` names the ledger; `source` is a
    scenario whose account reads the ledger itself (then --ledger writes for it without being told)."""
    from beancount import loader

    own = tmp_path / "household.beancount"
    own.write_text((DATA / "ledger.beancount").read_text())
    orders, plan_file = tmp_path / "orders.csv", tmp_path / "plan.beancount"
    if route == "--ledger-for":
        scenario_path = _imported(tmp_path, "beancount")
        plan = _solve(tmp_path, scenario_path, "--orders", str(orders), "--ledger", str(plan_file),
                      "--ledger-for", str(own))  # fmt: skip
    else:
        data = yaml.safe_load(POLICY.read_text())
        data["accounts"][0]["source"] = f"beancount:{own.name}"
        data["accounts"][2]["source"] = f"lots-csv:{DATA / 'work401k.csv'}"
        data["targets"] = {"us_equity": 0.1, "intl_equity": 0.45, "bonds": 0.4, "cash": 0.05}
        data["objective"] = {"tax_weight": 0.2}
        scenario_path = tmp_path / "household.yaml"
        scenario_path.write_text(yaml.safe_dump(data, sort_keys=False))
        plan = _solve(tmp_path, scenario_path, "--orders", str(orders), "--ledger", str(plan_file))
    text = plan_file.read_text()
    assert "Assets:Rebal" not in text and "Assets:Schwab:Joint  -" in text  # the ledger's own accounts
    assert "Equity:Opening-Balances" not in text  # only the plan: nothing to leave out when appending
    combined = tmp_path / "combined.beancount"
    combined.write_text(own.read_text() + "\n" + text)
    entries, errors, _ = loader.load_file(str(combined))
    assert errors == []
    after = _apply_orders(scenario_path, orders, from_sources=route == "source")
    again = import_files(POLICY, [f"beancount:{combined}"]).scenario
    assert lot_set(again) == lot_set(after)
    lines = _sale_lines(entries)
    assert lines and {lot for lot, *_ in lines} == {s["lot"] for t in plan["trades"] for s in t.get("lots") or []}
    # Cash: the ledger books the plan's gains in cents, so each lot line may move it by half a cent.
    assert again.account("joint").cash == pytest.approx(after.account("joint").cash, abs=0.005 * len(lines) + 1e-9)
    for term in ("short", "long"):
        booked = -sum(amount for _, _, _, account, amount in lines if account.endswith(term.title()))
        assert float(booked) == pytest.approx(plan["realized"][f"{term}_term"], abs=1e-9)
    # The IRA (its cash and funds in one ledger account): positions as the plan said; its sales took the ledger's
    # lots first in, first out, and their untaxed gain is booked apart from the realized gains.
    assert any(t["account"] == "ira" and t["action"] == "sell" for t in plan["trades"])
    ira, ira_after = again.account("ira"), after.account("ira")
    assert ira.holdings.keys() == ira_after.holdings.keys()
    for ticker, shares in ira_after.holdings.items():
        assert ira.holdings[ticker] == pytest.approx(shares, abs=1e-9)
    assert ira.cash == pytest.approx(ira_after.cash, abs=0.01)
    assert "Income:CapitalGains:Tax-Advantaged" in text


def test_whole_shares_orders_and_ledger(tmp_path: Path) -> None:
    """rules.whole_shares: the orders CSV and the basket carry whole numbers (no '12.000000'), a fraction only
    where a fractional lot or position is sold whole; the ledger books each lot line at that lot's cost and
    date, with the plan's gain."""
    import re

    from beancount import loader

    scenario_path = _imported(tmp_path, "lots-csv")
    data = yaml.safe_load(scenario_path.read_text())
    data["rules"]["whole_shares"] = True
    scenario_path.write_text(yaml.safe_dump(data, sort_keys=False))
    orders, basket, ledger = tmp_path / "o.csv", tmp_path / "b.csv", tmp_path / "p.beancount"
    plan = _solve(tmp_path, scenario_path, "--orders", str(orders), "--ledger", str(ledger))
    _solve(tmp_path, scenario_path, "--orders", str(basket), "--orders-format", "ibkr-basket")
    s = parse_scenario(data)
    lots = {lot.id: lot for a in s.accounts for lot in a.lots}
    held = {(a.id, t): n for a in s.accounts for t, n in a.holdings.items()}
    written = re.compile(r"\d+(\.\d*[1-9])?")  # no trailing zeros, no '12.000000'

    def whole_or_all(text: str, entire: float) -> bool:
        return bool(re.fullmatch(r"\d+", text)) or float(text) == pytest.approx(entire, abs=1e-9)

    rows = list(csv.DictReader(orders.open()))
    assert any(row["lots"] for row in rows), "the fixture plan should sell lots"
    for row in rows:
        assert written.fullmatch(row["shares"]), row
        sold = [part.rpartition(":") for part in filter(None, row["lots"].split(";"))]
        for lot_id, _, n in sold:
            assert written.fullmatch(n) and whole_or_all(n, lots[lot_id].shares), row
        if sold:
            assert float(row["shares"]) == pytest.approx(sum(float(n) for *_, n in sold), abs=1e-9)
        else:
            assert whole_or_all(row["shares"], held.get((row["account"], row["security"]), -1.0)), row
    quantities = [line.split(",")[1] for line in basket.read_text().splitlines()[1:]]
    assert quantities == [row["shares"] for row in rows]
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    plan_lines = {s["lot"]: s for t in plan["trades"] for s in t.get("lots") or []}
    booked = _sale_lines(entries)
    assert {lot for lot, *_ in booked} == set(plan_lines)
    for lot_id, n, cost, account, income in booked:
        lot = lots[lot_id]
        assert float(n) == pytest.approx(plan_lines[lot_id]["shares"], abs=1e-9)
        assert cost.date == lot.acquired and float(cost.number) == pytest.approx(lot.basis_per_share, rel=1e-12)
        assert account.endswith(plan_lines[lot_id]["term"].title())
        assert float(-income) == pytest.approx(plan_lines[lot_id]["gain"], abs=1e-9)


def test_ledger_for_errors(tmp_path: Path) -> None:
    """--ledger-for: a ledger beancount cannot load fails before the solve; a ledger without the plan's lots
    fails naming the lot, and neither the orders nor the ledger file is written."""
    scenario_path = _imported(tmp_path, "lots-csv")
    runner = CliRunner()
    broken = tmp_path / "broken.beancount"
    broken.write_text((DATA / "ledger.beancount").read_text().replace("{150.20 USD", "{150.20 USD BAD"))
    result = runner.invoke(cli, ["solve", str(scenario_path), "--ledger", str(tmp_path / "p"), "--ledger-for",
                                 str(broken)])  # fmt: skip
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert "--ledger-for" in result.stderr and "broken.beancount: row" in result.stderr
    result = runner.invoke(cli, ["solve", str(scenario_path), "--ledger-for", str(DATA / "ledger.beancount")])
    assert result.exit_code == 2 and "give --ledger FILE too" in result.stderr
    other = tmp_path / "other.beancount"  # the same household, but the VTI lot of 2019 cost 150.00 a share
    other.write_text((DATA / "ledger.beancount").read_text().replace("{150.20 USD", "{150.00 USD"))
    orders, ledger = tmp_path / "o.csv", tmp_path / "p.beancount"
    result = runner.invoke(cli, ["solve", str(scenario_path), "--orders", str(orders), "--ledger", str(ledger),
                                 "--ledger-for", str(other)])  # fmt: skip
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "holds no lot of VTI acquired 2019-03-14 at 150.2000 USD" in errors[0]
    assert not orders.exists() and not ledger.exists()


def test_ledger_for_leaves_out_accounts_it_does_not_hold(tmp_path: Path) -> None:
    scenario_path = _imported(tmp_path, "lots-csv")
    ledger = tmp_path / "p.beancount"
    result = CliRunner().invoke(cli, ["solve", str(scenario_path), "--ledger", str(ledger), "--ledger-for",
                                      str(DATA / "ledger.beancount")])  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "left out" in line]
    assert notes and all("ira" in n or "work401k" in n for n in notes)
    assert "; left out: " in ledger.read_text()


# --- plan funds listed by CUSIP ----------------------------------------------------------------------------


def test_fidelity_cusip_rows_by_name_or_policy() -> None:
    outcome = import_files(DATA / "policy-401k.yaml", [f"fidelity:{DATA / 'fidelity-401k.csv'}"])
    s = outcome.scenario
    assert s.account("k401").holdings == {"VGFNM076": 210.5, "99999B103": 25000, "VBTLX": 1550}
    assert s.securities["VGFNM076"].asset_class == "us_equity" and s.securities["VGFNM076"].plan_only
    assert s.securities["99999B103"].asset_class == "bonds" and s.securities["99999B103"].price == 1.0
    assert any("CUSIP 99999A105" in n and "VGFNM076" in n for n in outcome.notes)


def test_fidelity_unknown_cusip_is_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text((DATA / "policy-401k.yaml").read_text().replace('  "99999B103": {asset_class: bonds}\n', ""))
    source = f"fidelity:{DATA / 'fidelity-401k.csv'}"
    result = CliRunner().invoke(cli, ["import", "--policy", str(policy), source])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert f"{DATA / 'fidelity-401k.csv'}: row 3, column Symbol: '99999B103' (ACME STABLE VALUE FUND)" in errors[0]
    assert "add it to the policy's securities with its asset class" in errors[0]


def test_lookup_by_name() -> None:
    from rebal_opt.models.securities import lookup_name

    assert lookup_name("VANGUARD TOTAL STOCK MARKET INDEX FUND ADMIRAL SHARES").ticker == "VTSAX"
    assert lookup_name("Vanguard Institutional 500 Index Trust - Unit A").ticker == "VGFNM076"
    assert lookup_name("VANG TOT STK MKT IDX ADM") is None  # abbreviated: no guess
    assert lookup_name("Vanguard Total Stock Market Index Fund") is None  # which share class? several
    assert lookup_name("") is None
