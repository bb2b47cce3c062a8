"""Multi-year unwind plans: the examples end to end, the baselines, the rules that shape a schedule."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import UnwindResult
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.lots import first_long_term_day
from rebal_opt.solver.tax.evaluate import evaluate_tax
from rebal_opt.solver.taxes import situation_from_scenario
from rebal_opt.solver.unwind import plan_periods
from rebal_opt.solver.unwind_report import _lot_line, baseline_equal_installments, unwind

ROOT = Path(__file__).parent.parent
FOUNDER = ROOT / "scenarios" / "founder-unwind.yaml"
MARIA = ROOT / "scenarios" / "maria-unwind-monthly.yaml"
WAIT = Path(__file__).parent / "data" / "unwind" / "wait-for-long-term.yaml"
WASH = Path(__file__).parent / "data" / "unwind" / "wash-blocked-loss.yaml"


@pytest.fixture(scope="module")
def founder() -> UnwindResult:
    return unwind(load_scenario(FOUNDER))


@pytest.fixture(scope="module")
def maria() -> UnwindResult:
    return unwind(load_scenario(MARIA))


def _sold(result: UnwindResult, year: int) -> float:
    return sum(s.shares for p in result.periods if p.tax_year == year for s in p.sold)


@pytest.mark.parametrize("name", ["founder", "maria"])
def test_plan_beats_both_baselines_and_meets_the_end_state(name: str, request: pytest.FixtureRequest) -> None:
    result: UnwindResult = request.getfixturevalue(name)
    scenario = load_scenario(FOUNDER if name == "founder" else MARIA)
    assert scenario.unwind is not None
    assert result.verified
    for baseline in result.baselines.values():
        assert result.totals.present_value <= baseline.present_value + 0.01
    assert result.periods[-1].weight_after <= scenario.unwind.max_weight + 1e-6
    weights = [p.weight_after for p in result.periods]
    assert weights[-1] < weights[0]


def test_founder_sells_more_in_the_low_income_year(founder: UnwindResult) -> None:
    scenario = load_scenario(FOUNDER)
    assert scenario.unwind is not None
    years = dict(scenario.unwind.years)
    years[2028] = years[2028].model_copy(update={"ordinary_income": None})  # no sabbatical
    without_sabbatical = unwind(
        scenario.model_copy(update={"unwind": scenario.unwind.model_copy(update={"years": years})})
    )
    assert _sold(founder, 2028) > _sold(without_sabbatical, 2028) + 100
    assert founder.totals.present_value < without_sabbatical.totals.present_value


def test_gifts_stay_within_the_budget_and_are_long_term_gain_lots(founder: UnwindResult) -> None:
    for p in founder.periods:
        assert sum(g.value for g in p.gifted) <= 60_000 + 0.01
        assert all(g.lot == "FOUNDER" for g in p.gifted)  # the lowest-basis long-term lot


def test_blackout_periods_have_no_sales(maria: UnwindResult) -> None:
    for p in maria.periods:
        if p.period in (4, 7):
            assert not p.sold and not p.gifted
    assert {p.tax_year for p in maria.periods} == {2026, 2027}  # the plan crosses a tax-year boundary


def test_short_term_lots_are_sold_only_after_they_turn_long_term(maria: UnwindResult) -> None:
    scenario: Scenario = load_scenario(MARIA)
    acquired = {lot.id: lot.acquired for a in scenario.accounts for lot in a.lots}
    for p in maria.periods:
        for s in p.sold:
            if s.gain > 0:
                assert s.term == "long"
                assert p.start >= first_long_term_day(acquired[s.lot])


def test_a_lot_weeks_from_long_term_waits_for_it() -> None:
    result = unwind(load_scenario(WAIT))
    new_sales = [(p.start, s) for p in result.periods for s in p.sold if s.lot == "NEW"]
    assert new_sales and all(s.term == "long" for _, s in new_sales)
    assert result.periods[-1].weight_after == pytest.approx(0.0, abs=1e-9)
    assert sum(s.shares for _, s in new_sales) == 400


def test_cli_json_plot_and_csv(tmp_path: Path) -> None:
    plot = tmp_path / "unwind.png"
    table = tmp_path / "unwind.csv"
    run = CliRunner().invoke(cli, ["unwind", str(FOUNDER), "--json", "--plot", str(plot), "--csv", str(table)])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert payload["status"] == "optimal" and payload["security"] == "ACME"
    period = payload["periods"][0]
    assert {"period", "start", "tax_year", "sold", "gifted", "realized", "tax", "weight_after"} <= set(period)
    assert {"without_plan", "with_plan"} == set(period["tax"])
    assert set(payload["totals"]) >= {"tax_due_to_plan", "present_value"}
    assert set(payload["baselines"]) == {"sell_now", "equal_installments"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert table.read_text().startswith("period,start,tax_year,action")


def test_cli_without_an_unwind_section_is_a_clear_error() -> None:
    run = CliRunner().invoke(cli, ["unwind", str(ROOT / "scenarios" / "sarah-70-30.yaml")])
    assert run.exit_code == 2
    assert "no unwind section" in run.stderr


# Baselines follow the plan's rules (wash-blocked-loss.yaml: flat price 100; OLD 1000 sh at 40, LOSS 300 at
# 130, KEEP 50 at 150 on do_not_sell, DRIP 20 at 98 bought 2026-11-20; quarters from 2026-12-01).
FIRST_QUARTER = frozenset({"OLD", "DRIP"})  # LOSS is inside DRIP's wash-sale window on 2026-12-01
LATER_QUARTERS = frozenset({"OLD", "DRIP", "LOSS"})


@pytest.fixture(scope="module")
def wash() -> UnwindResult:
    return unwind(load_scenario(WASH))


def _taxes(scenario: Scenario, realized: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """Tax due to a schedule over 2026 and 2027 (2026's carryforward into 2027) and its present value at
    4%, each year evaluated with and without it (nothing realized so far in this household)."""
    due = pv = 0.0
    carry = (0.0, 0.0)
    for i, year in enumerate((2026, 2027)):
        without = replace(situation_from_scenario(scenario), year=year)
        short, long = realized.get(year, (0.0, 0.0))
        with_plan = evaluate_tax(
            replace(without, short_term=short, long_term=long, carryforward_short=carry[0], carryforward_long=carry[1])
        )
        carry = (with_plan.carryforward_short_next, with_plan.carryforward_long_next)
        caused = with_plan.total_tax - evaluate_tax(without).total_tax
        due += caused
        pv += caused / 1.04**i
    return due, pv


def test_the_plan_sees_the_wash_window_and_do_not_sell(wash: UnwindResult) -> None:
    first = wash.periods[0]
    assert not any(s.lot in ("LOSS", "KEEP") for s in first.sold)
    assert not any(s.lot == "KEEP" for p in wash.periods for s in p.sold)


def test_sell_now_waits_for_the_wash_window_and_keeps_do_not_sell(wash: UnwindResult) -> None:
    scenario = load_scenario(WASH)
    total = wash.totals.shares_sold + wash.totals.shares_gifted
    assert 1020 < total <= 1320  # the plan sells LOSS too; KEEP stays
    # By hand: the first quarter sells DRIP (20 x +2, short-term) and all of OLD (1000 x +60); LOSS waits
    # for the second quarter (2027-03-01), where the rest is sold at -30 a share.
    realized = {2026: (40.0, 60_000.0), 2027: (0.0, -30.0 * (total - 1020))}
    due, pv = _taxes(scenario, realized)
    sell_now = wash.baselines["sell_now"]
    assert sell_now.shares_sold == total
    assert sell_now.realized.short_term == pytest.approx(40.0)
    assert sell_now.realized.long_term == pytest.approx(60_000.0 - 30.0 * (total - 1020))
    assert sell_now.tax_due_to_plan == pytest.approx(due, abs=0.01)
    assert sell_now.present_value == pytest.approx(pv, abs=0.01)


def test_the_plan_is_no_worse_than_a_baseline_that_keeps_its_rules(wash: UnwindResult) -> None:
    # risk_weight 0: the plan minimizes the present value of tax alone, and each baseline is a schedule it
    # could have chosen (within the 0.1% gap).
    for baseline in wash.baselines.values():
        assert wash.totals.present_value <= baseline.present_value * 1.001 + 0.01


def equal_installments_by_hand_rules(total: float) -> list[dict[str, float]]:
    """The equal-installment baseline of wash-blocked-loss.yaml, with the lots each quarter may sell given
    by hand (LOSS not in the first quarter, KEEP never)."""
    scenario = load_scenario(WASH)
    assert scenario.unwind is not None
    periods = plan_periods(scenario, scenario.unwind)
    sellable = [FIRST_QUARTER, *[LATER_QUARTERS] * 3]
    return baseline_equal_installments(scenario, scenario.unwind, periods, sellable, total)


def test_equal_installments_carry_what_a_quarter_cannot_sell() -> None:
    # 1318 shares: 329 a quarter, the last 331. Q1 sells DRIP and 309 of OLD; Q2 LOSS (highest basis,
    # now free) and 29 of OLD; Q3 and Q4 the rest of OLD.
    assert equal_installments_by_hand_rules(1318) == [
        {"DRIP": 20, "OLD": 309},
        {"LOSS": 300, "OLD": 29},
        {"OLD": 329},
        {"OLD": 331},
    ]


def test_an_installment_below_min_trade_waits() -> None:
    # 12 shares, 3 a quarter: $300 is under min_trade ($500), so a quarter's 3 shares wait for the next;
    # 6 shares ($600) are sold, from the highest basis the quarter may sell.
    assert equal_installments_by_hand_rules(12) == [{}, {"LOSS": 6}, {}, {"LOSS": 6}]


@pytest.mark.parametrize(
    ("held", "owed", "whole", "line"),
    [(20.5, 30.0, True, 20.5), (100.0, 9.5, True, 9.0), (100.0, 9.5, False, 9.5), (3.0, 3.0, True, 3.0)],
)
def test_lot_lines_are_whole_shares_or_the_whole_lot(held: float, owed: float, whole: bool, line: float) -> None:
    assert _lot_line(held, owed, whole) == line
