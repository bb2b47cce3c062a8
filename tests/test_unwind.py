"""Multi-year unwind plans: the examples end to end, the baselines, the rules that shape a schedule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import UnwindResult
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.lots import first_long_term_day
from rebal_opt.solver.unwind_report import unwind

ROOT = Path(__file__).parent.parent
FOUNDER = ROOT / "scenarios" / "founder-unwind.yaml"
MARIA = ROOT / "scenarios" / "maria-unwind-monthly.yaml"
WAIT = Path(__file__).parent / "data" / "unwind" / "wait-for-long-term.yaml"


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
