"""Solve-time benchmark: synthetic households end to end, model building and HiGHS time apart.

    python bench/solve.py                 # 30/1,000, 100/5,000, 500/20,000; 5 runs each (medians)
    python bench/solve.py --quick         # 10/100, 30/1,000, 100/5,000; 3 runs each
    python bench/solve.py --no-warm-start # plain HiGHS on the MILP, no relaxation start (for comparison)
    python bench/solve.py --sizes 500x20000 --runs 3 --json out.json

Each run is `bench/synthetic.household(n, lots, seed)` → `parse_scenario` → `solve(scenario,
time_limit)`, the product's own path with every phase (the buy-only phase first, then the main MILP)
and the verifier. Per size it prints the medians of:

* end to end: the `solve` call;
* build: our model building plus cvxpy's compile, every phase (`SolverInfo.build_seconds`);
* HiGHS: HiGHS's own run time, every run (relaxation, start, MILP; `SolverInfo.solve_seconds`);
* other: the rest of `solve` (checks, arrays, plan extraction, verification);

with the status, gap, solves and the main model's binaries / rows / columns, and how its plan was
found (`rounded`: the relaxation start, proven within the gap without running the MILP; `+milp`: HiGHS
ran from it; `milp`: HiGHS alone).

Machines differ, so every figure is also printed as a ratio against two baselines measured in the same
run: `LP` — HiGHS's time on the LP relaxation of the same main model (how fast this machine's HiGHS is
on this very model), and `ref` — a fixed reference workload (build, compile and LP-solve the 30/1,000
household, seed 0: Python, cvxpy and HiGHS in the proportions of a small solve).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import household

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver import engine, highs
from rebal_opt.solver.data import build_data
from rebal_opt.solver.engine import build_problem, solve
from rebal_opt.solver.model import BuildOptions
from rebal_opt.solver.verify import PlanVerificationError
from rebal_opt.solver.warmstart import relaxation_lp_seconds

FULL_SIZES = [(30, 1000), (100, 5000), (500, 20000)]
QUICK_SIZES = [(10, 100), (30, 1000), (100, 5000)]
TARGETS = {(30, 1000): 1.0, (100, 5000): 5.0, (500, 20000): 30.0}
"""Seconds end to end (the issue's targets): proven optimal at the first two, within 0.1% at the third."""


@dataclass
class Run:
    """One `solve` of one household."""

    seconds: float
    build: float
    highs: float
    status: str
    gap: float | None
    solves: int
    start: str
    size: highs.ModelSize | None


@dataclass
class SizeResult:
    securities: int
    lots: int
    runs: list[Run] = field(default_factory=list)
    lp_seconds: float = 0.0

    def median(self, pick: Callable[[Run], float]) -> float:
        return statistics.median(pick(r) for r in self.runs)


class Recorder:
    """Wraps the engine's `run_highs` to keep each solve's outcome (model size, how the plan was found)."""

    def __init__(self, warm_start: bool) -> None:
        self.warm_start = warm_start
        self.outcomes: list[highs.SolveOutcome] = []
        self._original = engine.run_highs

    def __enter__(self) -> Recorder:
        def recording(
            problem: Any, time_limit: float | None, mip_gap: float = highs.DEFAULT_MIP_GAP, **options: Any
        ) -> Any:
            outcome = self._original(problem, time_limit, mip_gap, **{**options, "warm_start": self.warm_start})
            self.outcomes.append(outcome)
            return outcome

        engine.run_highs = recording  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        engine.run_highs = self._original


def scenario_for(securities: int, lots: int, seed: int) -> Scenario:
    return parse_scenario(household(securities, lots, seed=seed))


def solve_once(scenario: Scenario, time_limit: float, warm_start: bool) -> Run:
    """`solve` end to end; a plan the verifier rejects is reported as `verify_failed`, with its times."""
    with Recorder(warm_start) as recorder:
        start = time.perf_counter()
        try:
            result = solve(scenario, time_limit=time_limit)
            status, gap, solves = result.status, result.solver.mip_gap, result.solver.solves
            build, solver = result.solver.build_seconds or 0.0, result.solver.solve_seconds or 0.0
        except PlanVerificationError:
            status, gap, solves = "verify_failed", None, len(recorder.outcomes)
            build = solver = float("nan")
        seconds = time.perf_counter() - start
    if build != build:  # the verifier raised: rebuild the split from the recorded outcomes
        build = sum(o.seconds - o.solver_seconds for o in recorder.outcomes)
        solver = sum(o.solver_seconds for o in recorder.outcomes)
        gap = recorder.outcomes[-1].mip_gap if recorder.outcomes else None
    main = recorder.outcomes[-1] if recorder.outcomes else None
    return Run(seconds, build, solver, status, gap, solves, main.start if main else "", main.size if main else None)


def main_model_lp_seconds(scenario: Scenario, repeats: int) -> float:
    """Median HiGHS time on the LP relaxation of the main model (sales allowed, new cash spent)."""
    data = build_data(scenario)
    built = build_problem(data, BuildOptions(cash_spent=scenario.rules.contributions_first))
    with highs.solver_output_off_stdout():
        compiled = highs.compile_problem(built.problem)
        times = [relaxation_lp_seconds(compiled.lp, highs.highs_options(highs.DEFAULT_MIP_GAP)) for _ in range(repeats)]
    return statistics.median(times)


def reference_seconds(repeats: int) -> float:
    """Median time of the fixed reference workload: build, compile and LP-solve the 30/1,000 household."""
    scenario = scenario_for(30, 1000, 0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        main_model_lp_seconds(scenario, 1)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fmt_gap(gap: float | None) -> str:
    return "-" if gap is None else f"{gap:.1e}"


def report(results: list[SizeResult], reference: float, warm_start: bool) -> list[dict[str, Any]]:
    """Print the table and return the same figures as records."""
    print(f"reference workload (30/1,000 build + compile + LP): {reference:.3f} s")
    print(f"warm start: {'on' if warm_start else 'off'}")
    header = (
        f"{'size':>12} {'runs':>4} {'status':>13} {'gap':>8} {'solves':>6} {'e2e s':>7} {'build s':>7} "
        f"{'HiGHS s':>7} {'other s':>7} {'LP s':>6} {'target':>7}  {'binaries':>8} {'rows':>6} {'cols':>6}  start"
    )
    print(header)
    records = []
    for r in results:
        e2e, build, solver = r.median(lambda x: x.seconds), r.median(lambda x: x.build), r.median(lambda x: x.highs)
        other = e2e - build - solver
        statuses = sorted({x.status for x in r.runs})
        gaps = [x.gap for x in r.runs if x.gap is not None]
        gap = max(gaps) if gaps else None
        size = r.runs[-1].size
        target = TARGETS.get((r.securities, r.lots))
        verdict = "-" if target is None else ("ok" if e2e < target and "verify_failed" not in statuses else "MISS")
        starts = ",".join(sorted({x.start for x in r.runs}))
        print(
            f"{r.securities:>5}/{r.lots:<6} {len(r.runs):>4} {'/'.join(statuses):>13} {fmt_gap(gap):>8} "
            f"{r.runs[-1].solves:>6} {e2e:>7.3f} {build:>7.3f} {solver:>7.3f} {other:>7.3f} {r.lp_seconds:>6.3f} "
            f"{verdict:>7}  {size.binaries if size else 0:>8} {size.rows if size else 0:>6} "
            f"{size.cols if size else 0:>6}  {starts}"
        )
        records.append(
            {
                "securities": r.securities,
                "lots": r.lots,
                "runs": len(r.runs),
                "status": statuses,
                "gap": gap,
                "solves": r.runs[-1].solves,
                "seconds": {"end_to_end": e2e, "build": build, "highs": solver, "other": other, "lp": r.lp_seconds},
                "ratio_to_lp": {"end_to_end": e2e / r.lp_seconds, "build": build / r.lp_seconds,
                                "highs": solver / r.lp_seconds},
                "ratio_to_reference": {"end_to_end": e2e / reference, "build": build / reference,
                                       "highs": solver / reference},
                "target_seconds": target,
                "size": None if size is None else size.__dict__,
                "start": starts,
            }
        )
    print()
    print("ratios (machine-independent):  e2e/LP  build/LP  HiGHS/LP  |  e2e/ref  build/ref  HiGHS/ref")
    for rec in records:
        lp, ref = rec["ratio_to_lp"], rec["ratio_to_reference"]
        print(
            f"{rec['securities']:>5}/{rec['lots']:<6}                {lp['end_to_end']:>7.1f} {lp['build']:>9.1f} "
            f"{lp['highs']:>9.1f}  |  {ref['end_to_end']:>7.2f} {ref['build']:>10.2f} {ref['highs']:>10.2f}"
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller households (10/100, 30/1,000, 100/5,000)")
    parser.add_argument("--sizes", help="comma-separated SECURITIESxLOTS, e.g. 30x1000,500x20000")
    parser.add_argument("--runs", type=int, help="runs per size (default 5, or 3 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="household seed (the same household every run)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve")
    parser.add_argument("--no-warm-start", action="store_true", help="plain HiGHS MILP, no relaxation start")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
    runs = args.runs or (3 if args.quick else 5)
    warm_start = not args.no_warm_start
    reference = reference_seconds(5)
    results = []
    for securities, lots in sizes:
        scenario = scenario_for(securities, lots, args.seed)
        result = SizeResult(securities, lots)
        for _ in range(runs):
            result.runs.append(solve_once(scenario, args.time_limit, warm_start))
        result.lp_seconds = main_model_lp_seconds(scenario, 5)
        results.append(result)
        print(f"... {securities}/{lots} done ({runs} runs)", file=sys.stderr, flush=True)
    records = report(results, reference, warm_start)
    if args.json:
        meta = {"reference_seconds": reference, "warm_start": warm_start, "seed": args.seed,
                "time_limit": args.time_limit}
        Path(args.json).write_text(json.dumps({"meta": meta, "sizes": records}, indent=2))


if __name__ == "__main__":
    main()
