"""Validation errors, table-driven: every rule of the scenario contract gets an invalid input.

Each case is tests/data/base.yaml with one edit. It is run through `parse_scenario` (the problem must be
reported with its YAML path and a message naming the fix) and through `rebal-opt validate` (exit 2, one
line per problem on stderr, nothing on stdout, no traceback).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rebal_opt.models.errors import Problem, ScenarioError
from rebal_opt.models.loading import load_scenario, parse_scenario
from rebal_opt.models.tax_tables import FIRST_TABLE_YEAR
from rebal_opt.models.yaml_io import read_yaml_file

BASE = Path(__file__).parent / "data" / "base.yaml"
BASE_DATA = read_yaml_file(BASE)

Edit = Callable[[dict[str, Any]], None]


def base_data() -> dict[str, Any]:
    return copy.deepcopy(BASE_DATA)


def _parts(path: str) -> list[str | int]:
    """'accounts[0].lots[1].shares' -> ['accounts', 0, 'lots', 1, 'shares']."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return parts


def _parent(data: Any, path: str) -> tuple[Any, str | int]:
    *head, last = _parts(path)
    for part in head:
        data = data[part]
    return data, last


def put(path: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        parent[key] = value

    return edit


def drop(path: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        del parent[key]

    return edit


def rename(path: str, new_key: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        parent[new_key] = parent.pop(key)

    return edit


def append(path: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        parent, key = _parent(data, path)
        parent[key].append(value)

    return edit


def both(*edits: Edit) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        for e in edits:
            e(data)

    return edit


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@dataclass(frozen=True)
class Case:
    id: str
    edit: Edit
    path: str
    fragment: str


LOT0 = "accounts[0].lots[0]"
RISK = "objective.risk_model"

CASES = [
    # unknown keys, with the closest valid key
    Case(
        "unknown-key-lot",
        rename(f"{LOT0}.cost_per_share", "cost_per_shar"),
        f"{LOT0}.cost_per_shar",
        "unknown key 'cost_per_shar' (did you mean 'cost_per_share'?)",
    ),
    Case(
        "unknown-key-top-level",
        rename("targets", "tagrets"),
        "tagrets",
        "unknown key 'tagrets' (did you mean 'targets'?)",
    ),
    Case(
        "unknown-key-security",
        put("securities.VTI.wash_grp", "x"),
        "securities.VTI.wash_grp",
        "did you mean 'wash_group'?",
    ),
    Case(
        "unknown-key-no-close-match",
        put(f"{RISK}.vol", {}),
        f"{RISK}.vol",
        "unknown key 'vol'; valid keys: volatility, correlation",
    ),
    # targets and weights
    Case("targets-sum", put("targets.bonds", 0.40), "targets", "weights sum to 1.1; they must sum to 1"),
    Case("targets-sum-beyond-tolerance", put("targets.bonds", 0.30001), "targets", "must sum to 1"),
    Case("weight-above-1", put("targets.bonds", 1.3), "targets.bonds", "must be less than or equal to 1"),
    Case("weight-below-0", put("targets.bonds", -0.1), "targets.bonds", "must be greater than or equal to 0"),
    Case(
        "split-weight-above-1",
        put("securities.AOR.asset_class.us_equity", 1.4),
        "securities.AOR.asset_class.us_equity",
        "must be less than or equal to 1",
    ),
    Case("band-above-1", put("bands.absolute", 1.5), "bands.absolute", "must be less than or equal to 1"),
    Case("relative-band-negative", put("bands.relative", -0.25), "bands.relative", "greater than or equal to 0"),
    # references to securities and accounts
    Case(
        "lot-unknown-security",
        put(f"{LOT0}.security", "VTII"),
        f"{LOT0}.security",
        "unknown security 'VTII' (did you mean 'VTI'?)",
    ),
    Case(
        "holdings-unknown-security",
        put("accounts[1].holdings.BNDX", 10),
        "accounts[1].holdings.BNDX",
        "unknown security 'BNDX'",
    ),
    Case(
        "buyable-unknown-security",
        put("accounts[1].buyable[2]", "VTT"),
        "accounts[1].buyable[2]",
        "unknown security 'VTT'",
    ),
    Case(
        "recent-trade-unknown-account",
        put("recent_trades[0].account", "iraa"),
        "recent_trades[0].account",
        "unknown account 'iraa' (did you mean 'ira'?); accounts are brokerage, ira, roth",
    ),
    Case(
        "recent-trade-unknown-security",
        put("recent_trades[0].security", "VOO"),
        "recent_trades[0].security",
        "unknown security 'VOO'",
    ),
    Case(
        "planned-unknown-account",
        put("planned_purchases[0].account", "401k"),
        "planned_purchases[0].account",
        "unknown account '401k'",
    ),
    Case(
        "planned-unknown-security",
        put("planned_purchases[0].security", "BDN"),
        "planned_purchases[0].security",
        "unknown security 'BDN' (did you mean 'BND'?)",
    ),
    Case(
        "do-not-sell-unknown",
        append("rules.do_not_sell", "B9"),
        "rules.do_not_sell[1]",
        "'B9' is neither a security nor a lot id",
    ),
    Case(
        "do-not-buy-unknown",
        put("rules.do_not_buy[0]", "VTSAXX"),
        "rules.do_not_buy[0]",
        "unknown security 'VTSAXX' (did you mean 'VTSAX'?)",
    ),
    # asset classes and funds
    Case(
        "class-without-target",
        put("securities.VXUS.asset_class", "emerging"),
        "securities.VXUS.asset_class",
        "asset class 'emerging' has no target; add it to targets (0 is allowed)",
    ),
    Case(
        "fund-split-class-without-target",
        put("securities.AOR.asset_class", {"us_equity": 0.6, "reits": 0.4}),
        "securities.AOR.asset_class",
        "asset class 'reits' has no target",
    ),
    Case(
        "fund-split-sum",
        put("securities.AOR.asset_class.bonds", 0.3),
        "securities.AOR.asset_class",
        "the fund's split sums to 0.9; it must sum to 1",
    ),
    # prices, shares, costs, dates of lots
    Case("price-zero", put("securities.VTI.price", 0), "securities.VTI.price", "must be greater than 0"),
    Case("price-negative", put("securities.BND.price", -74.0), "securities.BND.price", "must be greater than 0"),
    Case("price-not-a-number", put("securities.VTI.price", "abc"), "securities.VTI.price", "must be a number"),
    Case("lot-shares-zero", put(f"{LOT0}.shares", 0), f"{LOT0}.shares", "must be greater than 0"),
    Case(
        "lot-shares-negative",
        put("accounts[0].lots[1].shares", -5),
        "accounts[0].lots[1].shares",
        "must be greater than 0",
    ),
    Case(
        "holdings-shares-zero", put("accounts[1].holdings.BND", 0), "accounts[1].holdings.BND", "must be greater than 0"
    ),
    Case("both-cost-fields", put(f"{LOT0}.cost_total", 20000), LOT0, "give exactly one of cost_per_share / cost_total"),
    Case("neither-cost-field", drop(f"{LOT0}.cost_per_share"), LOT0, "give exactly one of cost_per_share / cost_total"),
    Case("cost-negative", put(f"{LOT0}.cost_per_share", -1), f"{LOT0}.cost_per_share", "greater than or equal to 0"),
    Case(
        "acquired-after-as-of",
        put(f"{LOT0}.acquired", _date("2026-11-26")),
        f"{LOT0}.acquired",
        "2026-11-26 is after as_of 2026-11-25; a lot must be acquired on or before as_of",
    ),
    # uniqueness
    Case(
        "duplicate-account-id",
        put("accounts[2].id", "ira"),
        "accounts[2].id",
        "duplicate account id 'ira' (also accounts[1]); ids must be unique",
    ),
    Case(
        "duplicate-lot-id",
        put("accounts[0].lots[2].id", "B1"),
        "accounts[0].lots[2].id",
        "duplicate lot id 'B1' (also accounts[0].lots[0])",
    ),
    Case(
        "duplicate-lot-id-across-accounts",
        put(
            "accounts[2].lots",
            [{"id": "B1", "security": "VTSAX", "shares": 5, "cost_total": 600, "acquired": _date("2024-01-05")}],
        ),
        "accounts[2].lots[0].id",
        "lot ids must be unique across the household",
    ),
    Case(
        "explicit-lot-id-collides-with-auto-id",
        put("accounts[0].lots[2].id", "brokerage:2"),
        "accounts[0].lots[2].id",
        "duplicate lot id 'brokerage:2' (also accounts[0].lots[1])",
    ),
    # wash-sale windows
    Case(
        "recent-trade-too-old",
        put("recent_trades[0].date", _date("2026-10-25")),
        "recent_trades[0].date",
        "2026-10-25 is outside the 30 days up to as_of (2026-10-26 to 2026-11-25)",
    ),
    Case(
        "recent-trade-after-as-of",
        put("recent_trades[0].date", _date("2026-11-26")),
        "recent_trades[0].date",
        "outside the 30 days up to as_of",
    ),
    Case(
        "planned-purchase-on-as-of",
        put("planned_purchases[0].date", _date("2026-11-25")),
        "planned_purchases[0].date",
        "2026-11-25 is not after as_of 2026-11-25",
    ),
    Case(
        "planned-purchase-before-as-of",
        put("planned_purchases[0].date", _date("2026-11-01")),
        "planned_purchases[0].date",
        "belongs in recent_trades",
    ),
    # tax
    Case(
        "tax-year-before-first-table",
        put("tax.year", FIRST_TABLE_YEAR - 1),
        "tax.year",
        f"no tax table before {FIRST_TABLE_YEAR} (got {FIRST_TABLE_YEAR - 1})",
    ),
    Case(
        "tax-year-from-as-of-before-first-table",
        both(
            drop("tax.year"),
            put("as_of", _date(f"{FIRST_TABLE_YEAR - 1}-11-25")),
            put("recent_trades", []),
            put("planned_purchases", []),
        ),
        "tax.year",
        "give flat rates under tax.rates",
    ),
    Case(
        "flat-rate-at-least-1",
        put("tax.rates", {"short_term": 1.2, "long_term": 0.15}),
        "tax.rates.short_term",
        "must be less than 1",
    ),
    Case("state-rate-at-least-1", put("tax.state_rate", 5), "tax.state_rate", "must be less than 1"),
    Case(
        "carryforward-negative",
        put("tax.carryforward.long_term", -3000),
        "tax.carryforward.long_term",
        "greater than or equal to 0",
    ),
    Case(
        "filing-status",
        put("tax.filing_status", "married"),
        "tax.filing_status",
        "must be 'single', 'married_joint', 'married_separate' or 'head_of_household'",
    ),
    Case("deduction", put("tax.deduction", "itemized"), "tax.deduction", "must be 'standard' or a number"),
    # accounts
    Case(
        "holdings-in-taxable-account",
        put("accounts[0].holdings", {"VTI": 10}),
        "accounts[0].holdings",
        "a taxable account needs lots",
    ),
    Case(
        "account-type",
        put("accounts[2].type", "roth"),
        "accounts[2].type",
        "must be 'taxable', 'tax_deferred' or 'tax_exempt'",
    ),
    Case("lots-not-a-list", put("accounts[0].lots", 5), "accounts[0].lots", "must be a list"),
    # risk model
    Case(
        "risk-model-unknown-class",
        put(f"{RISK}.volatility.us_equty", 0.15),
        f"{RISK}.volatility.us_equty",
        "unknown asset class 'us_equty' (did you mean 'us_equity'?)",
    ),
    Case(
        "risk-model-correlation-unknown-class",
        put(f"{RISK}.correlation", {"bonds.gold": 0.2}),
        f"{RISK}.correlation.bonds.gold",
        "unknown asset class 'gold'",
    ),
    Case(
        "risk-model-correlation-key",
        put(f"{RISK}.correlation", {"bonds": 0.2}),
        f"{RISK}.correlation.bonds",
        "key must name two different classes as 'class_a.class_b'",
    ),
    Case(
        "risk-model-correlation-range",
        put(f"{RISK}.correlation", {"us_equity.bonds": 1.5}),
        f"{RISK}.correlation.us_equity.bonds",
        "must be less than or equal to 1",
    ),
    Case(
        "risk-model-missing-volatility",
        put("targets", {"us_equity": 0.5, "intl_equity": 0.2, "bonds": 0.25, "crypto": 0.05}),
        f"{RISK}.volatility",
        "no volatility for asset class 'crypto'",
    ),
    # required fields and formats
    Case("missing-as-of", drop("as_of"), "as_of", "is required; add it"),
    Case("missing-lot-acquired", drop(f"{LOT0}.acquired"), f"{LOT0}.acquired", "is required; add it"),
    Case("missing-filing-status", drop("tax.filing_status"), "tax.filing_status", "is required"),
    Case("missing-price", drop("securities.BND.price"), "securities.BND.price", "is required"),
    Case("bad-date", put("as_of", "2026-13-01"), "as_of", "must be a date written YYYY-MM-DD"),
]


def _problems(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def _assert_reported(problems: list[Problem], case: Case) -> None:
    matching = [p for p in problems if p.path == case.path and case.fragment in p.message]
    assert matching, f"expected '{case.path}: ...{case.fragment}...' among:\n" + "\n".join(map(str, problems))


def test_base_scenario_is_valid() -> None:
    scenario = parse_scenario(base_data())
    assert scenario.accounts[0].lots[1].id == "brokerage:2"  # a lot without id is named <account>:<n>


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_parse_reports_problem(case: Case) -> None:
    data = base_data()
    case.edit(data)
    _assert_reported(_problems(data), case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli_validate_reports_problem(case: Case, invoke, write_scenario) -> None:
    data = base_data()
    case.edit(data)
    problems = _problems(data)
    path = write_scenario(data)
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    # one line per problem, each naming the file and the YAML path
    assert result.stderr.splitlines() == [f"error: {path}: {p}" for p in problems]
    assert f"error: {path}: {case.path}: " in result.stderr
    assert case.fragment in result.stderr


@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: c.id)
def test_cli_check_reports_problem_too(case: Case, invoke, write_scenario) -> None:
    data = base_data()
    case.edit(data)
    result = invoke("check", "--json", write_scenario(data))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{case.path}: " in result.stderr


# --- inputs that look suspicious but are valid ---------------------------------------------------

VALID = [
    ("targets-within-tolerance", put("targets.bonds", 0.3000001)),
    (
        "tax-year-before-first-table-with-rates",
        both(put("tax.year", FIRST_TABLE_YEAR - 1), put("tax.rates", {"short_term": 0.32, "long_term": 0.15})),
    ),
    ("recent-trade-30-days-before", put("recent_trades[0].date", _date("2026-10-26"))),
    ("recent-trade-on-as-of", put("recent_trades[0].date", _date("2026-11-25"))),
    ("planned-purchase-day-after", put("planned_purchases[0].date", _date("2026-11-26"))),
    ("lot-acquired-on-as-of", put(f"{LOT0}.acquired", _date("2026-11-25"))),
    (
        "tax-deferred-account-with-lots",
        put("accounts[1].lots", [{"security": "BND", "shares": 3, "cost_total": 200, "acquired": _date("2024-01-02")}]),
    ),
    ("relative-band-off", put("bands.relative", None)),
    ("do-not-sell-lot-id-auto", put("rules.do_not_sell", ["brokerage:2", "VXUS"])),
    ("zero-target-class", put("targets", {"us_equity": 0.5, "intl_equity": 0.2, "bonds": 0.3, "gold": 0.0})),
    ("itemized-deduction", put("tax.deduction", 31500)),
    (
        "absolute-tracking-needs-no-volatility",
        both(
            put("targets", {"us_equity": 0.5, "intl_equity": 0.2, "bonds": 0.25, "crypto": 0.05}),
            put("objective.tracking", "absolute"),
        ),
    ),
]


@pytest.mark.parametrize(("name", "edit"), VALID, ids=[v[0] for v in VALID])
def test_valid_variant(name: str, edit: Edit, invoke, write_scenario) -> None:
    data = base_data()
    edit(data)
    parse_scenario(data)
    result = invoke("validate", write_scenario(data))
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout


def test_target_class_without_security_is_legal_and_noted_by_check(invoke, write_scenario) -> None:
    data = base_data()
    data["targets"] = {"us_equity": 0.45, "intl_equity": 0.2, "bonds": 0.3, "alternatives": 0.05}
    parse_scenario(data)
    result = invoke("check", "--json", write_scenario(data))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["classes"]["alternatives"]["held"] is False
    assert "asset class 'alternatives' has a target but no security in the file to hold it" in report["notes"]
    table = invoke("check", write_scenario(data))
    assert "(no security)" in table.stdout


# --- problems of the file itself -----------------------------------------------------------------

BASE_TEXT = BASE.read_text(encoding="utf-8")

FILE_CASES = [
    ("not-yaml", "as_of: [2026-11-25\ntax: {filing_status: single\n", "not valid YAML at line"),
    (
        "duplicate-key",
        BASE_TEXT.replace("securities:\n", "securities:\n  BND: {price: 70.00, asset_class: bonds}\n", 1),
        "duplicate key 'BND' (line",
    ),
    ("a-list", "- as_of: 2026-11-25\n", "must be a YAML mapping"),
    ("empty", "", "must be a YAML mapping"),
    ("binary", None, "cannot be read"),
]


@pytest.mark.parametrize(("name", "text", "fragment"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_file(name: str, text: str | None, fragment: str, tmp_path: Path, invoke) -> None:
    path = tmp_path / "scenario.yaml"
    if text is None:
        path.write_bytes(b"\xff\xfe\x00as_of")
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert [p.path for p in info.value.problems] == ["(file)"]
    assert fragment in info.value.problems[0].message
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: (file): ")
    assert fragment in lines[0]


def test_missing_file(tmp_path: Path, invoke) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(path)
    for command in ("validate", "check"):
        result = invoke(command, path)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == f"error: {path}: (file): no such file; check the path\n"


def test_directory_is_bad_input(tmp_path: Path, invoke) -> None:
    result = invoke("validate", tmp_path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "is a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path, invoke) -> None:
    # ON Semiconductor's ticker, and Norway-like 'NO', must not become booleans (YAML 1.2 rules).
    text = BASE_TEXT.replace(
        "securities:\n",
        "securities:\n  ON: {price: 95.00, asset_class: us_equity, wash_group: NO}\n",
        1,
    ).replace("holdings: {VTSAX: 20}", "holdings: {VTSAX: 20, ON: 3}")
    text = text.replace("do_not_buy: [VTSAX]", "do_not_buy: [VTSAX, ON]")
    path = tmp_path / "on.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    assert "ON" in scenario.securities
    assert scenario.securities["ON"].wash_group == "NO"
    assert scenario.account("roth").holdings == {"VTSAX": 20, "ON": 3}
    assert scenario.rules.do_not_buy == ["VTSAX", "ON"]
    assert invoke("validate", path).exit_code == 0


def test_yaml_1_2_booleans_still_parse(tmp_path: Path) -> None:
    text = BASE_TEXT.replace("    holdings: {VTSAX: 20}", "    holdings: {VTSAX: 20}\n    tradable: false")
    text = text.replace("  min_trade: 100", "  min_trade: 100\n  whole_shares: true")
    path = tmp_path / "bools.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.account("roth").tradable is False
    assert scenario.rules.whole_shares is True


def test_yes_no_in_a_boolean_field(tmp_path: Path) -> None:
    # The YAML loader keeps `no` a string; a boolean field still reads it as false (pydantic's lax bools),
    # so YAML 1.1 spellings do no harm where a boolean is expected.
    path = tmp_path / "no.yaml"
    path.write_text(BASE_TEXT.replace("    holdings: {VTSAX: 20}", "    holdings: {VTSAX: 20}\n    tradable: no"))
    assert load_scenario(path).account("roth").tradable is False


def test_every_problem_is_reported_at_once() -> None:
    data = base_data()
    put("securities.VTI.price", 0)(data)
    put(f"{LOT0}.shares", -1)(data)
    put("accounts[2].type", "roth")(data)
    paths = {p.path for p in _problems(data)}
    assert {"securities.VTI.price", f"{LOT0}.shares", "accounts[2].type"} <= paths


def test_semantic_problems_are_all_reported_in_file_order() -> None:
    data = base_data()
    put("targets.bonds", 0.4)(data)
    put(f"{LOT0}.security", "VTII")(data)
    put("recent_trades[0].account", "iraa")(data)
    assert [p.path for p in _problems(data)] == [
        "targets",
        f"{LOT0}.security",
        "recent_trades[0].account",
    ]


def test_fund_split_weight_out_of_range_is_one_problem() -> None:
    data = base_data()
    put("securities.AOR.asset_class.us_equity", 1.4)(data)
    assert [str(p) for p in _problems(data)] == [
        "securities.AOR.asset_class.us_equity: must be less than or equal to 1"
    ]


def test_infinite_price_is_rejected() -> None:
    data = base_data()
    put("securities.VTI.price", float("inf"))(data)
    assert [p.path for p in _problems(data)] == ["securities.VTI.price"]


def test_numeric_ticker_key_is_reported_at_its_yaml_path() -> None:
    data = base_data()
    data["securities"][7203] = {"price": 10.0, "asset_class": "us_equity"}
    assert [p.path for p in _problems(data)] == ["securities.7203"]
