"""`rebal-opt simulate`: every policy of the `simulate:` section on every price path, then the
metrics of each policy with their spread across paths.

Tasks are (policy, path) pairs sent to the executor as scenario data; each comes back as JSON. Policies
share the paths (common random numbers), so the difference of a policy to the baseline is measured path
by path.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.scenario import Scenario

from .calendar import step_dates
from .executor import Progress, Task, run_tasks
from .policies import SOLVE_TIME_LIMIT, Policy
from .prices import History, HistoryError, history_path, history_years, monte_carlo_path, parse_history
from .stepper import Ledger, PathRun

PERCENTILES = (5, 50, 95)
FAN = (5, 25, 50, 75, 95)
BP = 10_000


@dataclass(frozen=True)
class Settings:
    """What a run does, after command-line overrides of the section."""

    years: int
    paths: int
    seed: int
    step: str


def settings(scenario: Scenario, history: History | None = None, paths: int | None = None,
             years: int | None = None, seed: int | None = None) -> Settings:
    sim = scenario.simulate
    assert sim is not None
    horizon = years if years is not None else sim.horizon_years
    count = paths if paths is not None else sim.paths
    if history is not None:
        available = history_years(history)
        if available < 1:
            raise HistoryError("history: covers less than a year; give at least a year of prices")
        horizon = min(horizon, available)
        count = 1  # a history is one path
    return Settings(horizon, count, seed if seed is not None else sim.seed, sim.step)


def scenario_for_run(scenario: Scenario, run: Settings) -> Scenario:
    assert scenario.simulate is not None
    section = scenario.simulate.model_copy(
        update={"horizon_years": run.years, "paths": run.paths, "seed": run.seed}
    )
    return scenario.model_copy(update={"simulate": section})


def path_task(task: Task) -> str:
    """Worker side: one policy on one path, from scenario data; the per-path result as JSON."""
    scenario = parse_scenario(task["scenario"])
    sim = scenario.simulate
    assert sim is not None
    dates = step_dates(scenario.as_of, sim.step, sim.horizon_years)
    if task.get("history") is not None:
        path = history_path(scenario, dates, parse_history(task["history"], "history"))
    else:
        path = monte_carlo_path(scenario, dates, task["path"])
    policy = Policy(sim.policies[task["policy"]], sim.step, task.get("time_limit", SOLVE_TIME_LIMIT))
    result = PathRun(scenario, policy, path, dates).run()
    result["path"] = task["path"]
    return json.dumps(result)


def tasks_for(scenario: Scenario, history_text: str | None, time_limit: float) -> list[Task]:
    sim = scenario.simulate
    assert sim is not None
    data = scenario.model_dump(mode="json", exclude_none=True)
    return [
        {"kind": "path", "scenario": data, "policy": i, "path": p, "history": history_text, "time_limit": time_limit}
        for p in range(sim.paths)
        for i in range(len(sim.policies))
    ]


def simulate(
    scenario: Scenario,
    history_text: str | None = None,
    paths: int | None = None,
    years: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    dask_address: str | None = None,
    progress: Progress | None = None,
    time_limit: float = SOLVE_TIME_LIMIT,
) -> dict[str, Any]:
    """The simulation report (plain JSON data): per policy its metrics, summarized across paths."""
    if scenario.simulate is None:
        raise ValueError("the scenario has no simulate section")
    history = parse_history(history_text, "history") if history_text is not None else None
    run = settings(scenario, history, paths, years, seed)
    scenario = scenario_for_run(scenario, run)
    start = time.perf_counter()
    tasks = tasks_for(scenario, history_text, time_limit)
    texts = run_tasks(path_task, tasks, workers=workers, dask_address=dask_address, progress=progress)
    results = [json.loads(t) for t in texts]
    report = summarize(scenario, run, results)
    report["seconds"] = round(time.perf_counter() - start, 3)
    report["tasks"] = len(tasks)
    return report


def spread(values: list[float]) -> dict[str, float]:
    """Mean, standard deviation and percentiles of one metric across paths."""
    array = np.asarray(values, dtype=float)
    out = {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0}
    for p in PERCENTILES:
        out[f"p{p}"] = float(np.percentile(array, p))
    return out


def baseline_name(scenario: Scenario) -> str | None:
    sim = scenario.simulate
    assert sim is not None
    if sim.baseline is not None:
        return sim.baseline
    return next((p.name for p in sim.policies if p.how == "naive" and p.when != "never"), None)


def summarize(scenario: Scenario, run: Settings, results: list[dict[str, Any]]) -> dict[str, Any]:
    sim = scenario.simulate
    assert sim is not None
    by_policy: dict[str, list[dict[str, Any]]] = {p.name: [] for p in sim.policies}
    for r in results:
        by_policy[r["policy"]].append(r)
    for rows in by_policy.values():
        rows.sort(key=lambda r: r["path"])
    base = baseline_name(scenario)
    dates = step_dates(scenario.as_of, sim.step, run.years)
    policies = []
    series: dict[str, Any] = {}
    for spec in sim.policies:
        rows = by_policy[spec.name]
        names = list(rows[0]["metrics"])
        metrics = {name: spread([r["metrics"][name] for r in rows]) for name in names}
        if base is not None:
            versus = []
            for mine, theirs in zip(rows, by_policy[base], strict=True):
                ratio = mine["metrics"]["after_tax_value"] / theirs["metrics"]["after_tax_value"]
                versus.append((math.pow(ratio, 1 / run.years) - 1) * BP if ratio > 0 else float("nan"))
            metrics["vs_baseline_bp_per_year"] = spread(versus)
        failures = [dict(f, path=r["path"]) for r in rows for f in r["failures"]]
        policies.append(
            {
                "name": spec.name,
                "when": spec.when,
                "every": spec.every,
                "how": spec.how,
                "harvest": spec.harvest,
                "metrics": metrics,
                "failed_steps": int(sum(r["metrics"]["failed_steps"] for r in rows)),
                "failures": failures,
                "conservation_error": max(abs(_imbalance(r["ledger"])) for r in rows),
            }
        )
        after_tax = np.array([r["series"]["after_tax_value"] for r in rows])
        drift = np.array([r["series"]["drift"] for r in rows])
        series[spec.name] = {
            "after_tax_value": {f"p{p}": np.percentile(after_tax, p, axis=0).round(2).tolist() for p in FAN},
            "drift": {"mean": drift.mean(axis=0).tolist(), "p95": np.percentile(drift, 95, axis=0).tolist()},
        }
    return {
        "scenario": scenario.label,
        "as_of": scenario.as_of.isoformat(),
        "horizon_years": run.years,
        "step": run.step,
        "paths": run.paths,
        "seed": run.seed,
        "source": sim.prices.source,
        "baseline": base,
        "policies": policies,
        "series": {"dates": [d.isoformat() for d in dates], "policies": series},
    }


def _imbalance(ledger: dict[str, float]) -> float:
    booked = Ledger(**{name: ledger[name] for name in Ledger.__dataclass_fields__})
    return round(booked.imbalance(), 2)
