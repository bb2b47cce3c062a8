"""Tests of the peer benchmark's pieces that do not depend on the solver's speed.

    pytest bench/peers/test_peers.py          # not collected by CI's `pytest` (testpaths = tests)

The generator (deterministic, the issue's shape, both tools agree on every lot's term, `rebal-opt
validate` accepts it, rebal-opt reads the same covariance), the peer's CLI accepting its inputs, and the
recomputation of compare.py against hand-computed tiny cases and against each tool's own figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from compare import (
    Plan,
    evaluate,
    flat_tax,
    is_long_term,
    limited_tax,
    plan_from_peer,
    plan_from_rebal_opt,
)
from instances import (
    FACTORS,
    RECENT_DAYS,
    TERM_BOUNDARY_DAYS,
    Instance,
    Lot,
    generate,
    scenario_dict,
    write_instance,
)

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE / ".venv" / "bin" / "python"
PEER_SIZES = [(10, 100), (30, 1000), (250, 750), (100, 3000), (500, 1500)]
needs_peer = pytest.mark.skipif(not PEER_PYTHON.exists(), reason="run bench/peers/run.py once to create the venv")


# ---- generator ----------------------------------------------------------------------------------------


def test_deterministic_for_a_seed() -> None:
    a, b, c = generate(30, 300, seed=4), generate(30, 300, seed=4), generate(30, 300, seed=5)
    assert a.lots == b.lots and np.array_equal(a.covariance, b.covariance) and a.cash == b.cash
    assert a.lots != c.lots


@pytest.mark.parametrize(("n", "m"), [*PEER_SIZES, (500, 20000)])
def test_shape_of_the_issue(n: int, m: int) -> None:
    inst = generate(n, m, seed=0)
    assert len(inst.tickers) == n and len(inst.lots) == m
    assert len({lot.lot_id for lot in inst.lots}) == m
    assert {lot.ticker for lot in inst.lots} == set(inst.tickers)  # every security held
    assert abs(inst.targets.sum() - 1) < 1e-12 and (inst.targets > 0).all()
    loss = np.mean([inst.at_loss(lot) for lot in inst.lots])
    assert 0.15 <= loss <= 0.35
    days = np.array([inst.days_held(lot) for lot in inst.lots])
    assert (days >= 1).all()
    assert ((days <= 30).sum() > 0 and ((days > 30) & (days <= RECENT_DAYS)).sum() > 0) or m < 300
    assert not ((days >= TERM_BOUNDARY_DAYS[0]) & (days <= TERM_BOUNDARY_DAYS[1])).any()
    assert 0.01 <= inst.cash / inst.equity <= 0.04
    # factor magnitudes: vols 8–18%, specific 15–35%
    vols = np.sqrt(np.diag(inst.factor_covariance))
    assert ((vols >= 0.08) & (vols <= 0.18)).all() and inst.factor_covariance.shape == (len(FACTORS),) * 2
    assert ((np.sqrt(inst.specific_variance) >= 0.15) & (np.sqrt(inst.specific_variance) <= 0.35)).all()
    assert np.linalg.eigvalsh(inst.covariance).min() > 0
    assert inst.tracking_error_before() > 0


@pytest.mark.parametrize(("n", "m"), PEER_SIZES)
def test_both_tools_agree_on_every_lots_term(n: int, m: int) -> None:
    """TaxRebalance: long at days_held >= 365; U.S. rule: sold after the anniversary."""
    inst = generate(n, m, seed=1)
    for lot in inst.lots:
        assert (inst.days_held(lot) >= 365) == is_long_term(lot.acquired, inst.as_of), lot


def test_prior_30d_flag_is_a_wash_sale_of_another_recent_lot() -> None:
    inst = generate(30, 1000, seed=0)
    window = inst.as_of - dt.timedelta(days=30)
    flagged = 0
    for lot in inst.lots:
        others = [o for o in inst.lots if o.ticker == lot.ticker and o.lot_id != lot.lot_id and o.acquired >= window]
        assert inst.prior_30d_replacement(lot) == (inst.at_loss(lot) and bool(others))
        flagged += inst.prior_30d_replacement(lot)
    assert 0 < flagged < sum(inst.at_loss(lot) for lot in inst.lots)  # some loss lots blocked, not all


@pytest.mark.parametrize(("n", "m"), [(10, 100), (30, 1000), (250, 750)])
@pytest.mark.parametrize("dense", [False, True])
def test_rebal_opt_validate_accepts(tmp_path: Path, n: int, m: int, dense: bool) -> None:
    inst = generate(n, m, seed=0)
    write_instance(inst, tmp_path, dense_risk=dense)
    path = tmp_path / ("scenario-dense.yaml" if dense else "scenario.yaml")
    done = subprocess.run(["rebal-opt", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dense", [False, True])
def test_rebal_opt_reads_the_same_covariance(tmp_path: Path, dense: bool) -> None:
    """The scenario (either form) gives rebal-opt the covariance the peer gets."""
    from rebal_opt.models.loading import load_scenario
    from rebal_opt.models.risk import class_risk

    inst = generate(30, 200, seed=2)
    write_instance(inst, tmp_path, dense_risk=dense)
    scenario = load_scenario(tmp_path / ("scenario-dense.yaml" if dense else "scenario.yaml"))
    risk = class_risk(list(inst.tickers), scenario.objective.risk_model)
    assert np.allclose(risk.covariance, inst.covariance, rtol=1e-9, atol=1e-12)
    peer = np.array(json.loads((tmp_path / "covariance.json").read_text()))
    assert np.array_equal(peer, inst.covariance)


def test_budget_goes_into_rules() -> None:
    data = scenario_dict(generate(10, 100), max_tracking_error=0.0123)
    assert data["rules"]["max_tracking_error"] == 0.0123
    assert data["tax"]["rates"] == {"short_term": 0.35, "long_term": 0.2}
    assert data["rules"]["costs"]["spread_bps"] == 10
    # The peer keeps cash while it sells: rebal-opt's contributions-first rule would forbid its plan.
    assert data["rules"]["contributions_first"] is False


@needs_peer
@pytest.mark.parametrize(("n", "m"), [(10, 100), (30, 200)])
def test_peer_cli_accepts_its_inputs(tmp_path: Path, n: int, m: int) -> None:
    inst = generate(n, m, seed=0)
    write_instance(inst, tmp_path)
    out = tmp_path / "peer.json"
    cmd = [str(PEER_PYTHON), "-m", "taxrebalance", "--jurisdiction", "US", "--portfolio", str(tmp_path / "lots.csv"),
           "--prices", str(tmp_path / "prices.json"), "--targets", str(tmp_path / "targets.json"),
           "--covariance", str(tmp_path / "covariance.json"), "--config", str(tmp_path / "config.json"),
           "--output", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["summary"]["feasible"]
    # The peer sees the household we wrote: its starting weights are ours.
    ours = inst.held_shares * inst.prices / inst.equity
    theirs = np.array([result["initial_weights"][t] for t in inst.tickers])
    assert np.allclose(theirs, ours, atol=1e-9)
    # A second implementation of the plan's figures: the peer's own.
    ev = evaluate(inst, plan_from_peer(result))
    assert ev.violations == []
    trades = result["trades"]
    assert ev.short_term + ev.long_term == pytest.approx(sum(t.get("realized_gain_loss", 0) for t in trades), abs=0.05)
    assert ev.trading_cost == pytest.approx(result["summary"]["transaction_cost"], abs=0.01)
    # The peer's TE divides by the starting equity; ours by the post-trade total: close, not equal.
    assert ev.tracking_error == pytest.approx(result["summary"]["tracking_error"], rel=0.01)


def test_rebal_opt_figures_match_ours(tmp_path: Path) -> None:
    """compare.py against rebal-opt's own report of a plan (narrow bands, so that it trades)."""
    from rebal_opt.models.loading import load_scenario
    from rebal_opt.solver.engine import solve

    inst = generate(10, 100, seed=0, bands={"absolute": 0.05, "relative": 0.25})
    write_instance(inst, tmp_path)
    result = solve(load_scenario(tmp_path / "scenario.yaml"), time_limit=30).model_dump(mode="json")
    if not result["trades"]:
        pytest.skip(f"rebal-opt made no trade ({result['status']})")
    ev = evaluate(inst, plan_from_rebal_opt(result))
    assert ev.violations == []
    assert ev.short_term == pytest.approx(result["realized"]["short_term"], abs=0.05)
    assert ev.long_term == pytest.approx(result["realized"]["long_term"], abs=0.05)
    assert ev.trading_cost == pytest.approx(result["costs"], abs=0.05)
    assert ev.tracking_error == pytest.approx(result["tracking_error"]["after"], rel=1e-3, abs=1e-6)
    assert ev.wash_exposed_sales == 0  # rebal-opt avoids wash sales


# ---- recomputation on hand-computed cases -------------------------------------------------------------


def test_long_term_is_more_than_one_year() -> None:
    sold = dt.date(2026, 11, 25)
    assert not is_long_term(dt.date(2025, 11, 25), sold)  # exactly one year: short
    assert is_long_term(dt.date(2025, 11, 24), sold)
    assert not is_long_term(dt.date(2024, 2, 29), dt.date(2025, 2, 28))
    assert is_long_term(dt.date(2024, 2, 29), dt.date(2025, 3, 1))


@pytest.mark.parametrize(
    ("short", "long", "expected"),
    [
        (1000, 2000, 0.35 * 1000 + 0.20 * 2000),
        (5000, -2000, 0.35 * 3000),  # long-term loss offsets short-term gain
        (-2000, 5000, 0.20 * 3000),  # short-term loss offsets long-term gain
        (-10000, 2000, -0.35 * 3000),  # net loss 8,000: 3,000 allowed
        (-1000, -500, -0.35 * 1500),
        (-500, 500, 0.0),
    ],
)
def test_limited_tax(short: float, long: float, expected: float) -> None:
    assert limited_tax(short, long, 0.35, 0.20) == pytest.approx(expected)


def test_flat_tax() -> None:
    assert flat_tax(-10000, 2000, 0.35, 0.20) == pytest.approx(-3500 + 400)


def _tiny() -> Instance:
    """A 100 (target 50%, variance 0.04), B 50 (target 50%, variance 0.09), uncorrelated; cash 500."""
    as_of = dt.date(2026, 11, 25)
    return Instance(
        name="tiny",
        as_of=as_of,
        tickers=("A", "B"),
        prices=np.array([100.0, 50.0]),
        targets=np.array([0.5, 0.5]),
        loadings=np.zeros((2, 4)),
        factor_covariance=np.zeros((4, 4)),
        specific_variance=np.array([0.04, 0.09]),
        lots=(
            Lot("L1", "A", 10, 80.0, dt.date(2020, 1, 1)),  # long-term gain 20/share
            Lot("L2", "A", 5, 120.0, dt.date(2026, 11, 10)),  # recent; short-term loss 20/share
            Lot("L3", "B", 10, 60.0, dt.date(2026, 6, 1)),  # short-term loss 10/share
            Lot("L4", "B", 4, 55.0, dt.date(2026, 11, 20)),  # recent: L3 sold at a loss is a wash sale
        ),
        cash=500.0,
        bands={"absolute": 1.0, "relative": None},
        realized_short_term=0.0,
    )


def test_tiny_plan_by_hand() -> None:
    inst = _tiny()
    assert inst.equity == 1500 + 700 + 500
    plan = Plan(buys={"B": 0.0005}, sales={"L1": 5, "L2": 5, "L3": 10})
    ev = evaluate(inst, plan)
    assert ev.violations == []
    assert ev.long_term == pytest.approx(100)  # L1: 5 × 20
    assert ev.short_term == pytest.approx(-200)  # L2: 5 × −20, L3: 10 × −10
    assert ev.realized_loss == pytest.approx(200)
    assert ev.wash_exposed_sales == 1 and ev.wash_exposed_loss == pytest.approx(100)  # L3 (L4 recent; B bought)
    assert ev.usable_loss == pytest.approx(100)  # L2: its own purchase does not wash it
    assert (ev.usable_short_term, ev.usable_long_term) == (pytest.approx(-100), pytest.approx(100))
    assert ev.tax_flat == pytest.approx(-70 + 20)
    assert ev.tax_limited == pytest.approx(-35)  # net −100, all of it allowed
    assert ev.usable_tax_flat == pytest.approx(-35 + 20)
    assert ev.usable_tax_limited == pytest.approx(0)  # −100 short offsets +100 long


def test_earlier_gains_make_every_harvested_loss_usable() -> None:
    """With 10,000 of short-term gains realized earlier, the plan's −200 short / +100 long all counts:
    (9,800 × 0.35 + 100 × 0.20) − 10,000 × 0.35 = −50."""
    inst = dataclasses.replace(_tiny(), realized_short_term=10_000.0)
    ev = evaluate(inst, Plan(buys={"B": 0.0005}, sales={"L1": 5, "L2": 5, "L3": 10}))
    assert ev.tax_limited == pytest.approx(-50)
    assert ev.gross_notional == pytest.approx(1500.025)
    assert ev.trading_cost == pytest.approx(1.500025)
    assert ev.cash_after == pytest.approx(500 + 1500 - 0.025 - 1.500025)
    assert (ev.rows, ev.dust_rows, ev.fractional_rows) == (4, 1, 1)  # the 0.0005-share purchase
    total = 500 + 200.025 + 1998.474975
    d_a, d_b = 500 / total - 0.5, 200.025 / total - 0.5
    assert ev.tracking_error == pytest.approx((0.04 * d_a**2 + 0.09 * d_b**2) ** 0.5, rel=1e-12)


def test_tiny_crumbs_and_violations() -> None:
    inst = _tiny()
    ev = evaluate(inst, Plan(sales={"L1": 9.9995, "L4": 4.5}, buys={"A": 2.0}))
    # L1 leaves 0.0005 shares (a crumb); L4 is oversold
    assert ev.dust_rows == 1
    assert any("L4 oversold" in v for v in ev.violations)
    ev = evaluate(inst, Plan(sales={"L1": 9.995}))  # leaves 0.005 shares = $0.50: a crumb by value
    assert ev.dust_rows == 1
    tiny = replace(inst, lots=(*inst.lots, Lot("L5", "A", 0.004, 90.0, dt.date(2021, 1, 4))))
    assert evaluate(tiny, Plan(sales={"L5": 0.004})).dust_rows == 0  # a whole tiny lot sold: cleared, not dust
    assert evaluate(tiny, Plan(sales={"L5": 0.002})).dust_rows == 1
    ev = evaluate(inst, Plan(buys={"A": 100.0}))
    assert any("cash overdrawn" in v for v in ev.violations)


def test_hold_plan_is_the_starting_point() -> None:
    inst = generate(30, 300, seed=3)
    ev = evaluate(inst, Plan())
    assert ev.tracking_error == pytest.approx(inst.tracking_error_before(), rel=1e-12)
    assert ev.rows == ev.dust_rows == ev.wash_exposed_sales == 0 and ev.tax_flat == 0


def test_plan_readers() -> None:
    ro = {"trades": [
        {"action": "buy", "security": "A", "shares": 2.5},
        {"action": "sell", "security": "B", "shares": 3,
         "lots": [{"lot": "L3", "shares": 2}, {"lot": "L4", "shares": 1}]},
    ]}  # fmt: skip
    assert plan_from_rebal_opt(ro) == Plan(buys={"A": 2.5}, sales={"L3": 2.0, "L4": 1.0})
    peer = {"trades": [{"ticker": "A", "side": "BUY", "shares": 2.5, "lot_id": None},
                       {"ticker": "B", "side": "SELL", "lot_id": "L3", "shares": 2.0}]}  # fmt: skip
    assert plan_from_peer(peer) == Plan(buys={"A": 2.5}, sales={"L3": 2.0})


def test_time_spent_reads_the_result_s_own_account(tmp_path: Path) -> None:
    """run.py's per-size line of where rebal-opt's time went comes from the result's `solver.time`, as solved."""
    from run import time_spent

    from rebal_opt.models.loading import load_scenario
    from rebal_opt.solver.engine import solve

    write_instance(generate(30, 200, seed=1), tmp_path)
    result = solve(load_scenario(tmp_path / "scenario.yaml"), time_limit=60, mip_gap=1e-3, abs_gap_dollars=100)
    record = {"runs": [{"rebal_opt": {"result": result.model_dump(mode="json")}}]}
    line = time_spent(record)
    assert line.startswith("build ") and "compile " in line and "conic search " in line and "nodes" in line
    assert time_spent({"runs": [{"rebal_opt": {"outcome": "no_plan"}}]}) == ""
