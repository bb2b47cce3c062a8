"""Whole shares: the cost of `rules.whole_shares` (every trade and every lot line of a sale in whole shares).

    python bench/whole_shares.py                       # 30/1,000 and 100/5,000, 3 runs each
    python bench/whole_shares.py --sizes 30x1000 --runs 1 --time-limit 60
    python bench/whole_shares.py --runs 1 --time-limit 6,10,20,60   # the gap each limit reaches
    /path/to/other/checkout/.venv/bin/python bench/whole_shares.py   # an older rebal-opt, same households

Each run solves the synthetic household (`bench/synthetic.py`) twice in this process: with fractional
shares (the baseline, measured in the same run) and with `whole_shares: true`. It prints CPU and wall
seconds of the `solve` call (the machine may be shared: CPU seconds are the steadier figure), the status
and the gap of each, and the ratio whole / fractional. Run it with another checkout's interpreter to time
that version on the same households (the script uses only `parse_scenario` and `solve`).
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
from rebal_opt.solver.engine import solve


def timed(data: dict, time_limit: float) -> tuple[float, float, str, float | None]:
    scenario = parse_scenario(data)
    cpu, wall = time.process_time(), time.perf_counter()
    result = solve(scenario, time_limit=time_limit)
    return time.process_time() - cpu, time.perf_counter() - wall, result.status, result.solver.mip_gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="30x1000,100x5000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--time-limit",
        default="60",
        help="seconds; a comma-separated list solves the whole-share household once per limit (the gap "
        "each limit reaches: how long a version takes to a given gap)",
    )
    args = parser.parse_args()
    import rebal_opt.solver

    limits = [float(x) for x in str(args.time_limit).split(",")]
    print(f"rebal-opt from {Path(rebal_opt.solver.__file__).parent.parent}")
    print(f"{'size':>10} {'shares':>10} {'limit s':>8} {'cpu s':>8} {'wall s':>8} {'status':>11} {'gap':>9}")
    for size in args.sizes.split(","):
        n, m = (int(x) for x in size.split("x"))
        cpu_ratio: list[float] = []
        for run in range(args.runs):
            data = household(n, m, seed=args.seed)
            data["rules"]["whole_shares"] = False
            rows = [("fractional", max(limits), timed(data, max(limits)))]
            for limit in limits:
                data = household(n, m, seed=args.seed)
                data["rules"]["whole_shares"] = True
                rows.append(("whole", limit, timed(data, limit)))
            for label, limit, (cpu, wall, status, gap) in rows:
                shown = "-" if gap is None else f"{gap:.2e}"
                print(
                    f"{size:>10} {label:>10} {limit:>8.0f} {cpu:>8.2f} {wall:>8.2f} {status:>11} {shown:>9}"
                    f"  (run {run + 1})"
                )
            base, whole = rows[0][2], rows[-1][2]
            cpu_ratio.append(whole[0] / max(base[0], 1e-9))
        print(f"{size:>10} whole / fractional CPU (median of {args.runs}): {statistics.median(cpu_ratio):.1f}")


if __name__ == "__main__":
    main()
