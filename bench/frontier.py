"""Cost of a 20-point tax / tracking-error frontier against single solves of the same household.

    python bench/frontier.py [--runs 3] [--securities 30 --lots 1000]

The household is bench/synthetic.py's, made taxable-only (no IRA or Roth to rebalance in for free) with
its lots at 45% of their cost (mostly gains), so that less tracking error really costs tax and the
frontier has a shape. Prints the median single solve
(`solve`, all phases), the median sweep, and their ratio (the target: a sweep costs at most 5 solves).
Both are measured in the same run, so the ratio is comparable across machines.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import household

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.engine import solve
from rebal_opt.solver.frontier import FRONTIER_POINTS, frontier


def taxable_household(securities: int, lots: int, seed: int) -> Scenario:
    data = household(securities, lots, seed=seed)
    data["accounts"] = [a for a in data["accounts"] if a["type"] == "taxable"]
    for lot in data["accounts"][0]["lots"]:
        lot["cost_per_share"] = round(lot["cost_per_share"] * 0.45, 2)  # mostly gains: trading costs tax
    return parse_scenario(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--securities", type=int, default=30)
    parser.add_argument("--lots", type=int, default=1000)
    args = parser.parse_args()
    scenario = taxable_household(args.securities, args.lots, seed=0)
    singles, sweeps = [], []
    shape = None
    for _ in range(args.runs):
        start = time.perf_counter()
        solve(scenario)
        singles.append(time.perf_counter() - start)
        start = time.perf_counter()
        curve = frontier(scenario)
        sweeps.append(time.perf_counter() - start)
        shape = curve
    single, sweep = statistics.median(singles), statistics.median(sweeps)
    print(f"household: {args.securities} securities / {args.lots} lots, taxable only; {args.runs} runs (medians)")
    print(f"single solve: {single:.3f} s")
    print(f"{FRONTIER_POINTS}-point frontier: {sweep:.3f} s = {sweep / single:.2f} single solves (target <= 5)")
    assert shape is not None
    distinct = len({(round(p.tax_due, 2), round(p.tracking_error, 8)) for p in shape.points})
    print(f"distinct plans on the curve: {distinct}; MILP solves: {shape.solves} (the phase's included); "
          f"weights solved: {sum(1 for p in shape.points if p.result.solver.solves)}")
    for p in shape.points:
        print(f"  tax_weight {p.tax_weight:8.4f}  tax due {p.result.tax.due_to_trades:12,.2f}  "
              f"tracking error {p.tracking_error:.5f}")


if __name__ == "__main__":
    main()
