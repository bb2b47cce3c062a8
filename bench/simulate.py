"""Many solves: batch throughput, simulation cost per path-year, and the speed-up from 1 to 2 workers.

    python bench/simulate.py                 # ~3-5 min on 2 cores
    python bench/simulate.py --households 12 --years 1 --json out.json

Baseline measured in the same run: **solve** — one `solve()` of a class-level synthetic household
(bench/synthetic.py, 10 securities / 60 lots; median of 5), the unit the other figures are divided by.

* **batch** — `run_batch(command="solve")` over H synthetic class-level households (10 securities / 60
  lots each, seeds 0..H-1) with 1 and with 2 workers (process pool): households per second, per core,
  and the speed-up. The pool's start (spawned workers import cvxpy) is included, as a real run pays it.
* **simulate** — sarah-70-30 stepped monthly for Y years on P paths, in this process, one policy at a
  time (naive-bands, optimizer-bands, optimizer-bands-harvest, optimizer-monthly): seconds per
  path-year, optimizer plans per path-year, and seconds per plan.

CPU seconds are printed beside wall seconds: on a shared machine the wall time of a parallel run says
more about the neighbours than about rebal-opt.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import household

from rebal_opt.models.loading import load_scenario, parse_scenario
from rebal_opt.models.scenario import SimulationPolicy
from rebal_opt.simulate.batch import run_batch
from rebal_opt.simulate.simulation import simulate
from rebal_opt.solver.engine import solve

SCENARIOS = Path(__file__).parent.parent / "scenarios"
SIZE = (10, 60)
POLICIES = [
    SimulationPolicy(name="naive-bands", when="threshold", how="naive"),
    SimulationPolicy(name="optimizer-bands", when="threshold"),
    SimulationPolicy(name="optimizer-bands-harvest", when="threshold", harvest=True),
    SimulationPolicy(name="optimizer-monthly", when="calendar", every="month"),
]


def cpu() -> float:
    """CPU seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def baseline() -> tuple[float, float]:
    """(wall, CPU) seconds of one solve, medians of 5."""
    scenario = parse_scenario(household(*SIZE, seed=0))
    walls, cpus = [], []
    for _ in range(5):
        start, cpu0 = time.perf_counter(), cpu()
        solve(scenario, time_limit=60)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def batch(count: int, workers: int, folder: Path) -> dict[str, float]:
    out = folder / f"out-{workers}"
    start, cpu0 = time.perf_counter(), cpu()
    outcome = run_batch([str(folder / "in")], out, "solve", lambda p, t: p.write_text(t), workers=workers, force=True)
    wall, used = time.perf_counter() - start, cpu() - cpu0
    bad = [r["scenario"] for r in outcome.rows if r["exit_code"] != 0]
    return {"workers": workers, "wall_s": wall, "cpu_s": used, "households_per_s": count / wall,
            "households_per_s_per_core": count / wall / workers, "cpu_s_per_household": used / count,
            "not_ok": len(bad)}


def simulation(years: int, paths: int) -> list[dict[str, Any]]:
    base = load_scenario(SCENARIOS / "sarah-70-30.yaml")
    assert base.simulate is not None
    rows = []
    for spec in POLICIES:
        section = base.simulate.model_copy(update={"step": "month", "policies": [spec], "baseline": None})
        scenario = base.model_copy(update={"simulate": section})
        start, cpu0 = time.perf_counter(), cpu()
        report = simulate(scenario, paths=paths, years=years, workers=1)
        wall, used = time.perf_counter() - start, cpu() - cpu0
        m = report["policies"][0]["metrics"]
        path_years = paths * years
        solves = m["solves_per_year"]["mean"]
        rows.append({
            "policy": spec.name, "path_years": path_years, "wall_s": wall, "cpu_s": used,
            "s_per_path_year": wall / path_years, "plans_per_path_year": solves,
            "s_per_plan": wall / (solves * path_years) if solves else None,
            "failed_steps": report["policies"][0]["failed_steps"],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=24)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    unit, unit_cpu = baseline()
    print(f"baseline: one solve of a {SIZE[0]}/{SIZE[1]} household: {unit:.3f} s wall, {unit_cpu:.3f} s CPU "
          "(medians of 5)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        for seed in range(args.households):
            data = household(*SIZE, seed=seed)
            data["name"] = f"household-{seed:04d}"
            (folder / "in" / f"h{seed:04d}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        batches = [batch(args.households, w, folder) for w in (1, 2)]
    print(f"\nbatch solve, {args.households} households of {SIZE[0]} securities / {SIZE[1]} lots:")
    print("  workers   wall s    cpu s   hh/s  hh/s/core  cpu s/hh  cpu per hh / solve cpu  not ok")
    for b in batches:
        print(f"  {b['workers']:7d} {b['wall_s']:8.1f} {b['cpu_s']:8.1f} {b['households_per_s']:6.2f} "
              f"{b['households_per_s_per_core']:10.2f} {b['cpu_s_per_household']:9.3f} "
              f"{b['cpu_s_per_household'] / unit_cpu:22.2f} {b['not_ok']:7d}")
    speedup = batches[0]["wall_s"] / batches[1]["wall_s"]
    print(f"  speed-up 1 -> 2 workers (wall): {speedup:.2f}x; CPU of 2 workers / CPU of 1: "
          f"{batches[1]['cpu_s'] / batches[0]['cpu_s']:.2f} (the spawned workers' imports)")
    sims = simulation(args.years, args.paths)
    print(f"\nsimulate sarah-70-30, monthly steps, {args.paths} paths x {args.years} years, in process:")
    print("  policy                     wall s   cpu s  cpu s/path-year  plans/path-year  cpu s/plan  failed")
    for s in sims:
        per_plan = f"{s['cpu_s'] / (s['plans_per_path_year'] * s['path_years']):10.3f}" if s["s_per_plan"] else (
            "         –"
        )
        print(f"  {s['policy']:25s} {s['wall_s']:7.1f} {s['cpu_s']:7.1f} {s['cpu_s'] / s['path_years']:16.2f} "
              f"{s['plans_per_path_year']:16.1f}  {per_plan}  {s['failed_steps']:6d}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"solve_s": unit, "solve_cpu_s": unit_cpu, "batch": batches,
                                         "speedup": speedup, "simulate": sims}, indent=1))


if __name__ == "__main__":
    main()
