"""What rules.location is worth: each household solved with the rule off (today's plans) and on.

For every household: the yearly cost of holding after each plan (solver/location.py: tax on taxable
distributions, tax owed later on tax-deferred growth, expense ratios, return given up against the class),
measured with the same figures for both plans; the difference a year in dollars and in basis points of the
household; the tax each plan realizes now; the tracking error after; trades and turnover. The location
value of a plan is `yearly cost after (off) − yearly cost after (on)`: positive when the rule saves
(column `bps`). It also counts a change of allocation (a class cheaper to hold bought instead of one
dearer); column `where` counts only where, and in which share class, each class is held — each security
against its class's reference, as the optimizer prices it — as an even yearly amount over the horizon.

    python bench/location.py                       # the example households (scenarios/*.yaml)
    python bench/location.py --synthetic 20        # 20 generated 3-account households (bench/synthetic.py)
    python bench/location.py --synthetic 20 --in-band   # the same, already inside their bands
    python bench/location.py --simulate 40         # 10 simulated years, rule off and on, path by path

`--simulate N` runs tests/data/location/simulate-household.yaml (a yearly optimizer rebalance over ten
years of quarterly Monte Carlo prices) on N paths with the rule off and on: the same prices for both (the
path's random numbers depend only on the seed and its number), and reports the after-tax value at the end
(everything liquidated), its difference in basis points a year per path (mean, spread, a 95% interval of
the mean), taxes paid and turnover.

Timings are the solves' wall seconds (the rule adds binaries for duplicate purchases and, in a buy-only
phase, for the harvests a purchase would block; in band it solves where the rule off has nothing to do).
"""

from __future__ import annotations

import argparse
import json
import math
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
from rebal_opt.simulate.simulation import path_task
from rebal_opt.solver.engine import solve
from rebal_opt.solver.household import account_values
from rebal_opt.solver.location import holding_costs, location_summary
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
            "relative": summary.present_value,
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
    # The same, class by class against its reference (what the optimizer prices: where and in which share
    # class each class is held, not how much of it), as an even yearly amount over the horizon.
    annuity = holding_costs(on).annuity
    out["bps_where"] = (out["on"]["relative"] - out["off"]["relative"]) / annuity / out["value"] * 1e4
    return out


def in_band(data: dict[str, Any]) -> dict[str, Any]:
    """The generated household with bands wide enough that nothing is due (the in-band relocation phase)."""
    return {**data, "bands": {"absolute": 0.5, "relative": None}}


SIMULATED = ROOT / "tests" / "data" / "location" / "simulate-household.yaml"


def simulated(paths: int) -> None:
    """The simulate-household file's first policy on `paths` paths, rule off and on, paired by path."""
    base = load_scenario(SIMULATED)
    runs: dict[str, list[dict[str, float]]] = {}
    seconds: dict[str, float] = {}
    for label in ("off", "on"):
        data = with_location(base, label).model_dump(mode="json", exclude_none=True)
        start = time.process_time()
        runs[label] = [
            json.loads(path_task({"kind": "path", "scenario": data, "policy": 0, "path": p, "history": None}))[
                "metrics"
            ]
            for p in range(paths)
        ]
        seconds[label] = time.process_time() - start
    years = base.simulate.horizon_years if base.simulate else 10
    bps = [
        ((on["after_tax_value"] / off["after_tax_value"]) ** (1 / years) - 1) * 1e4
        for off, on in zip(runs["off"], runs["on"], strict=True)
    ]
    for label in ("off", "on"):
        m = runs[label]
        print(
            f"rule {label:>3}: after-tax value {statistics.mean(x['after_tax_value'] for x in m):>13,.0f}  "
            f"taxes paid {statistics.mean(x['taxes_paid'] for x in m):>9,.0f}  "
            f"liquidation tax {statistics.mean(x['liquidation_tax'] for x in m):>9,.0f}  "
            f"turnover {statistics.mean(x['turnover'] for x in m):.2%}/yr  "
            f"failed steps {sum(x['failed_steps'] for x in m)}  CPU {seconds[label]:.0f} s"
        )
    half = 1.96 * statistics.stdev(bps) / math.sqrt(len(bps)) if len(bps) > 1 else float("nan")
    print(
        f"\nrule on against off, after-tax value, basis points a year over {years} years and {paths} paths: "
        f"mean {statistics.mean(bps):+.1f} (95% interval {statistics.mean(bps) - half:+.1f} to "
        f"{statistics.mean(bps) + half:+.1f}), median {statistics.median(bps):+.1f}, "
        f"min {min(bps):+.1f}, max {max(bps):+.1f}, on better on {sum(b > 0 for b in bps)} of {paths} paths"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=0, help="generated 3-account households instead")
    parser.add_argument("--securities", type=int, default=24)
    parser.add_argument("--lots", type=int, default=60)
    parser.add_argument("--in-band", action="store_true", help="generated households inside their bands")
    parser.add_argument("--simulate", type=int, default=0, help="paths of the 10-year simulation, rule off and on")
    args = parser.parse_args()
    if args.simulate:
        simulated(args.simulate)
        return
    if args.synthetic:
        scenarios = []
        for seed in range(args.synthetic):
            data = household(args.securities, args.lots, seed=seed)
            scenarios.append(parse_scenario(in_band(data) if args.in_band else data))
    else:
        scenarios = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    rows = [measure(s) for s in scenarios]
    header = (
        f"{'household':<28}{'value':>13}{'cost off':>10}{'cost on':>10}{'saved/yr':>10}{'bps':>7}{'where':>7}"
        f"{'tax off':>10}{'tax on':>10}{'TE off':>8}{'TE on':>8}{'trades':>8}{'turn off':>9}{'turn on':>8}"
        f"{'s off':>7}{'s on':>7}"
    )
    print(header)
    for r in rows:
        off, on = r["off"], r["on"]
        print(
            f"{r['name'][:27]:<28}{r['value']:>13,.0f}{off['cost_after']:>10,.0f}{on['cost_after']:>10,.0f}"
            f"{r['saving']:>10,.0f}{r['bps']:>7.1f}{r['bps_where']:>7.1f}{off['tax']:>10,.0f}{on['tax']:>10,.0f}"
            f"{off['te']:>8.2%}{on['te']:>8.2%}{off['trades']:>4}/{on['trades']:<3}{off['turnover']:>9.1%}{on['turnover']:>8.1%}"
            f"{off['seconds']:>7.2f}{on['seconds']:>7.2f}"
        )
    for key, what in (("bps", "yearly holding cost after"), ("bps_where", "where, class by class")):
        bps = [r[key] for r in rows]
        print(
            f"location value ({what}), basis points a year: median {statistics.median(bps):.1f}, "
            f"mean {statistics.mean(bps):.1f}, min {min(bps):.1f}, max {max(bps):.1f} over {len(rows)} households"
        )
    turnover = {k: statistics.median(r[k]["turnover"] for r in rows) for k in ("off", "on")}
    seconds = [(r["off"]["seconds"], r["on"]["seconds"]) for r in rows]
    print(
        f"turnover, median: off {turnover['off']:.1%}, on {turnover['on']:.1%}; solve seconds, median: "
        f"off {statistics.median(s[0] for s in seconds):.2f}, on {statistics.median(s[1] for s in seconds):.2f}"
    )


if __name__ == "__main__":
    main()
