"""rules.location (issue 13): asset location, through scenario files and the CLI.

The households are under tests/data/location/ (each file says what it expects and why) and scenarios/.
`tests/data/location/today/*.json` are the example households' plans as `rebal-opt solve --json` gave them
at commit 7c6027a, before rules.location existed: with the rule off (its default) every plan must be the
same. Holding costs are checked against arithmetic written out here from the formula of
solver/location.py's docstring, on a household with flat tax rates and made-up tickers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.scenario import AccountType
from rebal_opt.solver.data import build_data
from rebal_opt.solver.engine import choose_blocks
from rebal_opt.solver.location import harvest_value, holding_costs
from rebal_opt.solver.model import BuildOptions

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "location"
TODAY = sorted((DATA / "today").glob("*.json"))
MARKET = yaml.safe_load((ROOT / "models" / "data" / "market_assumptions.yaml").read_text())


@pytest.fixture
def plan(invoke, write_scenario):
    """`rebal-opt solve FILE --json` on a scenario file, with rules.location set (None: as written)."""

    def run(path: Path, location: Any = None) -> dict[str, Any]:
        if location is not None:
            data = yaml.safe_load(path.read_text())
            data.setdefault("rules", {})["location"] = location
            path = write_scenario(data, path.name)
        result = invoke("solve", path, "--json")
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["verified"] is True
        return payload

    return run


def holdings_after(path: Path, payload: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(account, ticker) -> shares after the plan: the file's lots and holdings, plus buys, less sells."""
    data = yaml.safe_load(path.read_text())
    shares: dict[tuple[str, str], float] = {}
    for account in data["accounts"]:
        for lot in account.get("lots", []):
            key = (account["id"], lot["security"])
            shares[key] = shares.get(key, 0.0) + lot["shares"]
        for ticker, n in account.get("holdings", {}).items():
            shares[(account["id"], ticker)] = shares.get((account["id"], ticker), 0.0) + n
    for t in payload["trades"]:
        key = (t["account"], t["security"])
        shares[key] = shares.get(key, 0.0) + (t["shares"] if t["action"] == "buy" else -t["shares"])
    return {k: v for k, v in shares.items() if v > 1e-6}


def trades(payload: dict[str, Any], action: str, account: str | None = None) -> set[str]:
    return {t["security"] for t in payload["trades"] if t["action"] == action and account in (None, t["account"])}


# The Done-when ------------------------------------------------------------------------------


def test_bonds_end_in_the_ira_when_free_to_move(plan) -> None:
    path = DATA / "bonds-belong-in-ira.yaml"
    on = plan(path)
    held = holdings_after(path, on)
    assert set(held) == {("brokerage", "VTI"), ("ira", "BND")}, held
    # The brokerage's BND lot (basis $74, price $75) is sold: $2,000 long-term at 15% + 3.8% NIIT + 5% state.
    assert on["realized"] == {"short_term": 0.0, "long_term": 2000.0}
    assert on["tax"]["due_to_trades"] == pytest.approx(2000 * (0.15 + 0.038 + 0.05), abs=0.01)
    # Rule off: every class is inside its band, nothing to do (today's behaviour).
    off = plan(path, "off")
    assert off["status"] == "no_trade_needed" and off["trades"] == []
    assert off.get("location") is None


def test_bonds_belong_in_ira_location_before_and_after(plan) -> None:
    """Per account, a year: Σ dollars held × cost per dollar, by hand. MFJ, $300,000 of wages: the 24%
    bracket, NIIT (MAGI over $250,000), 15% on qualified dividends, 5% state; BND and VTI 0.03% a year
    (the security master); withdrawals at 24% + 5% (no investment income, so no NIIT)."""
    path = DATA / "bonds-belong-in-ira.yaml"
    payload = plan(path)
    loc = payload["location"]
    ordinary, qualified, withdrawal = 0.24 + 0.038 + 0.05, 0.15 + 0.038 + 0.05, 0.24 + 0.05
    assert loc["rates"] == pytest.approx(
        {"ordinary": ordinary, "qualified": qualified, "tax_exempt": 0.05, "withdrawal": withdrawal}
    )
    fee = 0.0003
    per_dollar = {
        ("taxable", "BND"): fee + 0.035 * ordinary,
        ("taxable", "VTI"): fee + 0.014 * (0.05 * ordinary + 0.95 * qualified),
        ("tax_deferred", "BND"): fee + withdrawal * (0.04 - fee),
        ("tax_deferred", "VTI"): fee + withdrawal * (0.07 - fee),
    }
    cash = {"taxable": 0.03 * ordinary, "tax_deferred": withdrawal * 0.03}
    kind = {"brokerage": "taxable", "ira": "tax_deferred"}
    prices = {"BND": 75.0, "VTI": 300.0}
    assert loc["by_account"]["brokerage"]["before"] == pytest.approx(150_000 * per_dollar[("taxable", "BND")], abs=0.01)
    assert loc["by_account"]["ira"]["before"] == pytest.approx(150_000 * per_dollar[("tax_deferred", "VTI")], abs=0.01)
    for account in ("brokerage", "ira"):
        after = holdings_after(path, payload)
        held = sum(n * prices[t] * per_dollar[(kind[a], t)] for (a, t), n in after.items() if a == account)
        expected = held + payload["cash_after"][account] * cash[kind[account]]
        assert loc["by_account"][account]["after"] == pytest.approx(expected, abs=0.02)
    assert loc["before"] == pytest.approx(sum(v["before"] for v in loc["by_account"].values()), abs=0.02)
    assert loc["after"] < loc["before"] / 2
    # What the swap is worth over 10 years at 4%: yearly taxes over the annuity, deferred tax on growth at
    # the end; each of VTI and BND is alone in its wash group, so fees do not count in the comparison.
    annuity = sum(1.04**-k for k in range(1, 11))
    at_end = 10 * 1.04**-10
    taxed_now = 0.035 * ordinary - 0.014 * (0.05 * ordinary + 0.95 * qualified)  # BND's and VTI's distributions
    swap = taxed_now * annuity + withdrawal * (0.07 - 0.04) * at_end
    assert loc["present_value"] == pytest.approx(150_000 * swap, rel=2e-3)  # $60 of spread stays in cash


def test_muni_fund_stays_taxable(plan) -> None:
    path = DATA / "muni-stays-taxable.yaml"
    on = plan(path)
    assert "VTEB" not in trades(on, "sell")
    assert trades(on, "buy", "brokerage") <= {"VTEB", "MUB", "VTI"}
    assert not trades(on, "buy", "ira") & {"VTEB", "MUB"}
    held = holdings_after(path, on)
    assert held[("brokerage", "VTEB")] >= 1500
    # Today's optimizer buys the taxable bond fund in the brokerage with the bonus.
    off = plan(path, "off")
    assert "BND" in trades(off, "buy", "brokerage")


def test_entrepreneur_keeps_its_muni_fund_in_the_brokerage(plan) -> None:
    """The example the issue names: with the rule on, VTEB is not sold and the brokerage buys no taxable
    bond fund (the $491,600 swap of the issue is `yearend`'s VTEB → MUB loss harvest: MUB is a muni fund)."""
    on = plan(ROOT / "scenarios" / "entrepreneur-founder-stock.yaml", "on")
    assert "VTEB" not in trades(on, "sell")
    assert "BND" not in trades(on, "buy", "ana-brokerage")
    assert on["location"]["after"] <= on["location"]["before"]


def test_purchase_that_blocks_a_harvest_is_not_made(plan) -> None:
    path = DATA / "purchase-blocks-harvest.yaml"
    off = plan(path, "off")
    assert "FXAIX" in trades(off, "buy")
    assert [b["securities"] for b in off["wash_sale"]["blocked"]] == [["VOO"]]
    on = plan(path)
    assert "FXAIX" not in trades(on, "buy") and on["wash_sale"]["blocked"] == []


def test_harvest_value_by_hand() -> None:
    """The $6,000 short-term VOO loss: $3,000 against wages this year, $3,000 carried to next year's (same
    income): single, $180,000 of wages, the 24% bracket + 5% state, no NIIT (MAGI under $200,000)."""
    s = load_scenario(DATA / "purchase-blocks-harvest.yaml")
    assert harvest_value(s, -6000.0, 0.0) == pytest.approx(2 * 3000 * (0.24 + 0.05), abs=0.01)


def test_no_two_securities_of_one_wash_group_bought_in_one_account(plan) -> None:
    path = ROOT / "scenarios" / "sarah-70-30.yaml"
    groups = {t: spec["wash_group"] for t, spec in yaml.safe_load(path.read_text())["securities"].items()}

    def duplicates(payload: dict[str, Any]) -> list[tuple[str, str]]:
        bought = [(t["account"], groups[t["security"]]) for t in payload["trades"] if t["action"] == "buy"]
        return sorted({k for k in bought if bought.count(k) > 1})

    today = json.loads((DATA / "today" / "sarah-70-30.json").read_text())
    assert duplicates(today), "today's plan buys BND and VBTLX (one portfolio) in the Roth"
    assert duplicates(plan(path, "on")) == []


# Rule off: today's plans ------------------------------------------------------------------------------


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": payload["status"],
        "trades": [
            (
                t["account"],
                t["security"],
                t["action"],
                t["shares"],
                t["amount"],
                [(x["lot"], x["shares"], x["gain"], x["term"]) for x in t.get("lots") or []],
            )
            for t in payload["trades"]
        ],
        "realized": payload["realized"],
        "tax": payload["tax"],
    }


@pytest.mark.parametrize("saved", TODAY, ids=lambda p: p.stem)
def test_rule_off_restores_todays_plans(saved: Path, plan) -> None:
    """No `location` key (its default, off): the plan, lots, realized gains and tax of commit 7c6027a."""
    today = json.loads(saved.read_text())
    path = ROOT / "scenarios" / today["scenario"]
    assert "location" not in (yaml.safe_load(path.read_text()).get("rules") or {})
    payload = plan(path)
    assert "location" not in payload or payload["location"] is None
    assert _comparable(payload) == _comparable(today)


def test_rule_off_builds_todays_objective() -> None:
    """`location: off` (or false) chooses the same blocks as no key at all, and no location term."""
    path = ROOT / "scenarios" / "sarah-70-30.yaml"
    absent = load_scenario(path)
    names = {}
    for value in ("off", False, None, "on"):
        s = absent
        if value is not None:
            s = absent.model_copy(update={"rules": absent.rules.model_copy(update={"location": value})})
        s = type(absent).model_validate(s.model_dump(by_alias=True))
        for options in (BuildOptions(), BuildOptions(allow_sells=False)):
            names[(value, options.allow_sells)] = [b.name for b in choose_blocks(build_data(s), options)]
    for allow_sells in (True, False):
        assert names[("off", allow_sells)] == names[(None, allow_sells)] == names[(False, allow_sells)]
        assert not any("location" in n for n in names[(None, allow_sells)])
        assert any("location" in n for n in names[("on", allow_sells)])


# Holding costs by hand ------------------------------------------------------------------------------


def test_holding_costs_by_hand_in_each_account_type(plan) -> None:
    """tests/data/location/holding-costs.yaml: flat rates, the scenario's own yields and fees."""
    path = DATA / "holding-costs.yaml"
    assert (MARKET["expected_return"]["us_equity"], MARKET["expected_return"]["bonds"]) == (0.07, 0.04)
    assert MARKET["expected_return"]["municipal_bonds"] == 0.035
    ordinary, qualified, state, withdrawal = 0.32 + 0.05, 0.15 + 0.05, 0.05, 0.22
    stock_taxable = 0.001 + 0.015 * (0.1 * ordinary + 0.9 * qualified)
    muni_taxable = (0.04 - 0.035) + 0.002 + 0.028 * state  # return given up against bonds, fee, state tax
    bond_deferred_paid, bond_deferred_owed = 0.0005, withdrawal * (0.04 - 0.0005)
    stock_roth = 0.001

    costs = holding_costs(load_scenario(path))
    assert costs.yearly(AccountType.TAXABLE, "STOCKX") == pytest.approx(stock_taxable, abs=1e-12)
    assert costs.yearly(AccountType.TAXABLE, "MUNIX") == pytest.approx(muni_taxable, abs=1e-12)
    assert costs.yearly(AccountType.TAX_DEFERRED, "BONDX") == pytest.approx(bond_deferred_paid + bond_deferred_owed)
    assert costs.yearly(AccountType.TAX_EXEMPT, "STOCKX") == pytest.approx(stock_roth, abs=1e-12)
    # Over 5 years at 3%: a yearly cost over the annuity, the deferred tax at the end.
    annuity = 1 / 1.03 + 1 / 1.03**2 + 1 / 1.03**3 + 1 / 1.03**4 + 1 / 1.03**5
    at_end = 5 / 1.03**5
    assert costs.present_value(AccountType.TAXABLE, "MUNIX") == pytest.approx(muni_taxable * annuity)
    assert costs.present_value(AccountType.TAX_DEFERRED, "BONDX") == pytest.approx(
        bond_deferred_paid * annuity + bond_deferred_owed * at_end
    )

    payload = plan(path)
    loc = payload["location"]
    assert loc["rates"] == pytest.approx(
        {"ordinary": ordinary, "qualified": qualified, "tax_exempt": state, "withdrawal": withdrawal}
    )
    assert {a: v["before"] for a, v in loc["by_account"].items()} == pytest.approx(
        {"brokerage": 10_000 * (stock_taxable + muni_taxable), "ira": 15_000 * 0.00919, "roth": 5_000 * stock_roth},
        abs=0.005,
    )
    # The plan (no spread, no gain on the lot) moves $5,000 of MUNIX out of the brokerage for STOCKX, and
    # the Roth's $5,000 of STOCKX into BONDX; in the comparison a fee counts only above the cheapest of its
    # wash group (each security here is alone in its own: 0), and the class references cancel.
    assert {(t["account"], t["security"], t["action"], t["amount"]) for t in payload["trades"]} == {
        ("brokerage", "MUNIX", "sell", 5000.0),
        ("brokerage", "STOCKX", "buy", 5000.0),
        ("roth", "STOCKX", "sell", 5000.0),
        ("roth", "BONDX", "buy", 5000.0),
    }
    no_fee_stock = stock_taxable - 0.001
    no_fee_muni = muni_taxable - 0.002
    assert loc["present_value"] == pytest.approx(5000 * (no_fee_muni - no_fee_stock) * annuity, abs=0.01)


# Input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "parsed"), [("on", "on"), ("off", "off"), ("true", "on"), ("false", "off")])
def test_rules_location_parses(written: str, parsed: str, tmp_path: Path) -> None:
    text = (DATA / "bonds-belong-in-ira.yaml").read_text().replace("location: on", f"location: {written}")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert load_scenario(path).rules.location == parsed


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("rules", "location", "maybe"), "rules.location"),
        (("rules", "location", 1), "rules.location"),
        (("rules", "location", None), "rules.location"),
        (("objective", "location_horizon_years", 0), "objective.location_horizon_years"),
        (("objective", "location_discount_rate", -0.01), "objective.location_discount_rate"),
        (("objective", "withdrawal_tax_rate", 1.5), "objective.withdrawal_tax_rate"),
        (("objective", "location_horizon_years", True), "objective.location_horizon_years"),
    ],
)
def test_bad_location_input_is_one_line_exit_2(edit: tuple[str, str, Any], field: str, invoke, write_scenario) -> None:
    section, key, value = edit
    data = yaml.safe_load((DATA / "bonds-belong-in-ira.yaml").read_text())
    data.setdefault(section, {})[key] = value
    result = invoke("solve", write_scenario(data))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.stderr
    assert "Traceback" not in result.output
