"""The simulator against published claims (docs/simulate.md, "Checked against what is known").

    python bench/simulate_findings.py [--paths-balanced 50] [--paths-harvest 12] [--years 10] [--workers 2]

Part A, rebalancing (bench/data/sim-balanced.yaml, a 60/40 household, naive rebalancer): how often 5-point
bands trigger, the turnover of each policy and the cut against monthly rebalancing, and the return
difference of rebalancing against never rebalancing (before and after tax).
Part B, loss harvesting (bench/data/sim-harvest.yaml, a new all-equity taxable portfolio, the optimizer):
the after-tax value gained by harvesting, annualized, after 1, 3, 5 and 10 years, with the wash-sale rule
kept (wash_sales: avoid, reinvested distributions count) and, as the counterfactual, ignored.

Prints the figures and writes them as JSON (--out). Everything runs through the simulator's own tasks.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.scenario import Scenario
from rebal_opt.simulate.executor import run_tasks
from rebal_opt.simulate.simulation import Settings, path_task, scenario_for_run, tasks_for

DATA = Path(__file__).parent / "data"


def run(scenario: Scenario, paths: int, years: int, workers: int) -> dict[str, list[dict[str, Any]]]:
    assert scenario.simulate is not None
    scenario = scenario_for_run(scenario, Settings(years, paths, scenario.simulate.seed, scenario.simulate.step))
    texts = run_tasks(path_task, tasks_for(scenario, None, 60.0), workers=workers)
    out: dict[str, list[dict[str, Any]]] = {}
    for text in texts:
        r = json.loads(text)
        out.setdefault(r["policy"], []).append(r)
    for rows in out.values():
        rows.sort(key=lambda r: r["path"])
    return out


def stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"mean": float(a.mean()), "p5": float(np.percentile(a, 5)), "p95": float(np.percentile(a, 95))}


def annualized_bp(mine: float, theirs: float, years: float) -> float:
    return (math.pow(mine / theirs, 1 / years) - 1) * 10_000


def rebalancing(paths: int, years: int, workers: int) -> dict[str, Any]:
    results = run(load_scenario(DATA / "sim-balanced.yaml"), paths, years, workers)
    never = results["never"]
    out: dict[str, Any] = {"paths": paths, "years": years, "policies": {}}
    for name, rows in results.items():
        m = [r["metrics"] for r in rows]
        out["policies"][name] = {
            "rebalances_per_year": stats([x["rebalances_per_year"] for x in m]),
            "turnover": stats([x["turnover"] for x in m]),
            "drift_mean": stats([x["drift_mean"] for x in m]),
            "tracking_error_mean": stats([x["tracking_error_mean"] for x in m]),
            "taxes_paid": stats([x["taxes_paid"] for x in m]),
            "pre_tax_vs_never_bp": stats(
                [
                    annualized_bp(r["metrics"]["value"], n["metrics"]["value"], years)
                    for r, n in zip(rows, never, strict=True)
                ]
            ),
            "after_tax_vs_never_bp": stats(
                [
                    annualized_bp(r["metrics"]["after_tax_value"], n["metrics"]["after_tax_value"], years)
                    for r, n in zip(rows, never, strict=True)
                ]
            ),
        }
    monthly = out["policies"]["naive-monthly"]["turnover"]["mean"]
    for name in ("naive-bands-5", "naive-quarterly-5", "naive-annual", "naive-quarterly"):
        out["policies"][name]["turnover_cut_vs_monthly"] = 1 - out["policies"][name]["turnover"]["mean"] / monthly
    return out


def harvesting(paths: int, years: int, workers: int) -> dict[str, Any]:
    base = load_scenario(DATA / "sim-harvest.yaml")
    kept = run(base, paths, years, workers)
    rules = base.rules.model_copy(update={"wash_sales": "ignore"})
    ignored = run(base.model_copy(update={"rules": rules}), paths, years, workers)
    steps_per_year = 12 if base.simulate is not None and base.simulate.step == "month" else 4
    out: dict[str, Any] = {"paths": paths, "years": years}
    for label, results in (("wash_rule_kept", kept), ("wash_rule_ignored", ignored)):
        harvest, plain = results["optimizer-bands-harvest"], results["optimizer-bands"]
        by_year: dict[str, Any] = {}
        kept_basis: dict[str, Any] = {}
        for y in sorted({1, 3, 5, years}):
            if y > years:
                continue
            k = y * steps_per_year
            pairs = list(zip(harvest, plain, strict=True))
            by_year[str(y)] = stats(
                [
                    annualized_bp(h["series"]["after_tax_value"][k], p["series"]["after_tax_value"][k], y)
                    for h, p in pairs
                ]
            )
            kept_basis[str(y)] = stats(
                [annualized_bp(h["series"]["net_value"][k], p["series"]["net_value"][k], y) for h, p in pairs]
            )
        out[label] = {
            "harvest_alpha_bp_per_year_after": by_year,
            "tax_alpha_before_liquidation_bp_per_year_after": kept_basis,
            "harvests_per_year": stats([h["metrics"]["harvests_per_year"] for h in harvest]),
            "harvested_losses": stats([h["metrics"]["harvested_losses"] for h in harvest]),
            "failed_steps": int(sum(h["metrics"]["failed_steps"] for h in harvest)),
            "naive_vs_optimizer_bp": stats(
                [
                    annualized_bp(p["metrics"]["after_tax_value"], n["metrics"]["after_tax_value"], years)
                    for p, n in zip(plain, results["naive-bands"], strict=True)
                ]
            ),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths-balanced", type=int, default=50)
    parser.add_argument("--paths-harvest", type=int, default=12)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--part", choices=["all", "rebalancing", "harvesting"], default="all")
    parser.add_argument("--out", type=Path, default=Path("simulate-findings.json"))
    args = parser.parse_args()
    report: dict[str, Any] = {}
    start = time.perf_counter()
    if args.part in ("all", "rebalancing"):
        report["rebalancing"] = rebalancing(args.paths_balanced, args.years, args.workers)
        print(json.dumps(report["rebalancing"], indent=1), flush=True)
    if args.part in ("all", "harvesting"):
        report["harvesting"] = harvesting(args.paths_harvest, args.years, args.workers)
        print(json.dumps(report["harvesting"], indent=1), flush=True)
    report["seconds"] = round(time.perf_counter() - start, 1)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"{report['seconds']} s; written to {args.out}")


if __name__ == "__main__":
    main()
