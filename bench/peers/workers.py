"""One timed solve in its own process, for `run.py`: the solve call alone, data loaded and imports done.

    python bench/peers/workers.py rebal-opt SCENARIO.yaml --out OUT.json [--time-limit S] [--mip-gap G] [--abs-gap D]
    .venv/bin/python bench/peers/workers.py peer INSTANCE_DIR --out OUT.json

`rebal-opt` runs in the project's Python: `load_scenario` first, then `solve(scenario, time_limit)` under
the timer. `peer` runs in the benchmark's venv (TaxRebalance installed there only): the CLI's own reading
of its inputs first (`taxrebalance/cli.py`), then `rebalance(...)` under the timer. Each writes one JSON
object: seconds, outcome, the plan, and the process's peak memory. The peer's branch imports nothing
from rebal-opt.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


class _Clock:
    """Wall and CPU seconds (all threads of this process) since it was made. CPU time is the steadier
    figure on a machine shared with other work."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> dict[str, float]:
        return {"seconds": time.perf_counter() - self.wall, "cpu_seconds": time.process_time() - self.cpu}


def run_rebal_opt(
    scenario_path: Path, time_limit: float | None, mip_gap: float | None = None, abs_gap: float | None = None
) -> dict[str, Any]:
    from rebal_opt.models.loading import load_scenario
    from rebal_opt.solver.engine import InfeasiblePlan, SolverFailure, solve

    scenario = load_scenario(scenario_path)
    clock = _Clock()
    try:
        gaps: dict[str, float] = {}
        if mip_gap is not None:
            gaps["mip_gap"] = mip_gap
        if abs_gap is not None:
            gaps["abs_gap_dollars"] = abs_gap
        result = solve(scenario, time_limit=time_limit, **gaps)
    except InfeasiblePlan as error:
        return {**clock.read(), "outcome": "infeasible", "error": error.detail}
    except SolverFailure as error:
        return {**clock.read(), "outcome": "no_plan", "error": str(error)}
    return {**clock.read(), "outcome": result.status, "result": result.model_dump(mode="json")}


def run_peer(directory: Path) -> dict[str, Any]:
    from taxrebalance import Portfolio, RebalanceConfig, UnitedStatesLots, rebalance

    # As taxrebalance/cli.py reads them.
    prices = json.loads((directory / "prices.json").read_text())
    targets = json.loads((directory / "targets.json").read_text())
    covariance = json.loads((directory / "covariance.json").read_text())
    options = json.loads((directory / "config.json").read_text())
    cash = float(options.pop("cash", 0))
    config = RebalanceConfig(**options)
    portfolio = Portfolio.from_tax_lots(directory / "lots.csv", prices=prices, cash=cash)
    policy = UnitedStatesLots()
    clock = _Clock()
    result = rebalance(portfolio, target_weights=targets, covariance=covariance, tax_policy=policy, config=config)
    times = clock.read()
    outcome = "feasible" if result.feasible else "infeasible"
    return {**times, "outcome": outcome, "result": result.to_dict()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one timed solve (used by run.py)")
    parser.add_argument("tool", choices=("rebal-opt", "peer"))
    parser.add_argument("input", type=Path, help="rebal-opt: the scenario file; peer: the instance directory")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--mip-gap", type=float, default=None, help="rebal-opt: relative gap (engine default)")
    parser.add_argument("--abs-gap", type=float, default=None, help="rebal-opt: absolute gap, dollars (engine default)")
    args = parser.parse_args(argv)
    try:
        if args.tool == "rebal-opt":
            record = run_rebal_opt(args.input, args.time_limit, args.mip_gap, args.abs_gap)
        else:
            record = run_peer(args.input)
    except Exception as error:  # recorded, not raised: the runner goes on with the next run
        record = {"seconds": None, "outcome": "error", "error": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc(limit=8)}
    record["peak_mb"] = _peak_mb()
    args.out.write_text(json.dumps(record, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
