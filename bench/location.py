"""What rules.location is worth: each household solved with the rule off (today's plans) and on.

For every household: the yearly cost of holding after each plan (solver/location.py: tax on taxable
distributions, tax owed later on tax-deferred growth, expense ratios, return given up against the class),
measured with the same figures for both plans; the difference a year in dollars and in basis points of the
household; the tax each plan realizes now; the tracking error after; trades and turnover. The location
value of a plan is `yearly cost after (off) − yearly cost after (on)`: positive when the rule saves.

    python bench/location.py                       # the example households (scenarios/*.yaml)
    python bench/location.py --synthetic 20        # 20 generated 3-account households (bench/synthetic.py)
    python bench/location.py --synthetic 20 --in-band   # the same, already inside their bands

Timings are the solves' wall seconds (the rule adds no binaries but the in-band phase solves where the
rule off would not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import household

from rebal_opt.models.loading import load_scenario, parse_scenario
from rebal_opt.models.result import Result
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.engine import solve
from rebal_opt.solver.household import account_values
from rebal_opt.solver.location import location_summary
from rebal_opt.solver.plan import state_after

ROOT = Path(__file__).parent.parent


def with_location(scenario: Scenario, value: str) -> Scenario:
    return scenario.model_copy(update={"rules": scenario.rules.model_copy(update={"location": value})})


def measure(scenario: Scenario) -> dict[str, Any]:
    on = with_location(scenario, "on")
    out: dict[str, Any] = {"name": scenario.label, "value": sum(account_values(scenario).values())}
    for label, variant in (("off", with_location(scenario, "off")), ("on", on)):
        start = time.perf_counter()
        result: Result = solve(variant)
        seconds = time.perf_counter() - start
        shares, cash = state_after(on, result.trades)
        summary = location_summary(on, shares, cash)  # the same figures for both plans
        out[label] = {
            "cost_before": summary.before,
            "cost_after": summary.after,
            "tax": result.tax.due_to_trades,
            "te": result.tracking_error.after,
            "trades": len(result.trades),
            "turnover": sum(t.amount for t in result.trades) / 2 / out["value"],
            "seconds": seconds,
            "status": result.status,
        }
    out["saving"] = out["off"]["cost_after"] - out["on"]["cost_after"]
    out["bps"] = out["saving"] / out["value"] * 1e4
    return out


def in_band(data: dict[str, Any]) -> dict[str, Any]:
    """The generated household with bands wide enough that nothing is due (the in-band relocation phase)."""
    return {**data, "bands": {"absolute": 0.5, "relative": None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=0, help="generated 3-account households instead")
    parser.add_argument("--securities", type=int, default=24)
    parser.add_argument("--lots", type=int, default=60)
    parser.add_argument("--in-band", action="store_true", help="generated households inside their bands")
    args = parser.parse_args()
    if args.synthetic:
        scenarios = []
        for seed in range(args.synthetic):
            data = household(args.securities, args.lots, seed=seed)
            scenarios.append(parse_scenario(in_band(data) if args.in_band else data))
    else:
        scenarios = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    rows = [measure(s) for s in scenarios]
    header = (
        f"{'household':<28}{'value':>13}{'cost off':>10}{'cost on':>10}{'saved/yr':>10}{'bps':>7}"
        f"{'tax off':>10}{'tax on':>10}{'TE off':>8}{'TE on':>8}{'trades':>8}{'turn on':>8}{'s off':>7}{'s on':>7}"
    )
    print(header)
    for r in rows:
        off, on = r["off"], r["on"]
        print(
            f"{r['name'][:27]:<28}{r['value']:>13,.0f}{off['cost_after']:>10,.0f}{on['cost_after']:>10,.0f}"
            f"{r['saving']:>10,.0f}{r['bps']:>7.1f}{off['tax']:>10,.0f}{on['tax']:>10,.0f}"
            f"{off['te']:>8.2%}{on['te']:>8.2%}{off['trades']:>4}/{on['trades']:<3}{on['turnover']:>8.1%}"
            f"{off['seconds']:>7.2f}{on['seconds']:>7.2f}"
        )
    bps = [r["bps"] for r in rows]
    print(
        f"\nlocation value, basis points a year: median {statistics.median(bps):.1f}, mean {statistics.mean(bps):.1f}, "
        f"min {min(bps):.1f}, max {max(bps):.1f} over {len(rows)} households"
    )


if __name__ == "__main__":
    main()
