"""`rebal-opt batch`: solve, check or simulate many households, one result file each.

Each household is a task of plain data — the scenario file's text (and a simulation's history file's
text) — run by `household_task` on the executor; a household's failure is caught in its task and
becomes its result (status and exit code as the single command would give), so one bad household never
stops the batch. Results are written as they arrive, `DIR/<scenario name>.json`, each with the hash of
its input: a rerun skips every household whose result file carries the same hash (`force` redoes them).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .executor import Task, run_tasks

COMMANDS = ("solve", "check", "simulate")
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER = 0, 1, 2, 3, 4
SUMMARY_COLUMNS = (
    "scenario",
    "input",
    "command",
    "status",
    "exit_code",
    "tax_due",
    "max_drift_before",
    "max_drift_after",
    "tracking_error_before",
    "tracking_error_after",
    "trades",
    "seconds",
    "error",
)


class BatchInputError(ValueError):
    """An input that names no scenario file (the whole batch is a usage error)."""


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Scenario files named by the inputs: files, directories (their *.yaml / *.yml) or glob patterns;
    sorted and without repeats."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            matches = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        if not matches:
            raise BatchInputError(f"{item}: no scenario file (give files, a directory of *.yaml, or a glob)")
        found.extend(matches)
    unique = sorted(dict.fromkeys(p.resolve() for p in found))
    return unique


def _read_yaml(text: str) -> dict[str, Any]:
    """The file's top-level mapping, or {} when it is not one (the worker reports the error)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _history_text(path: Path, data: dict[str, Any]) -> str | None:
    """The text of a simulation's history file (read here, sent with the task), if the file names one."""
    try:
        name = data["simulate"]["prices"]["history"]
        return (path.parent / str(name)).read_text(encoding="utf-8")
    except (KeyError, TypeError, OSError):
        return None


def _declared_name(data: dict[str, Any], path: Path) -> str:
    name = data.get("name")
    return str(name) if isinstance(name, str) and name.strip() else path.stem


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@dataclass(frozen=True)
class Household:
    name: str
    path: Path
    task: Task
    input_hash: str


def households(paths: list[Path], command: str, options: dict[str, Any]) -> list[Household]:
    out: list[Household] = []
    taken: dict[str, int] = {}
    for path in paths:
        own = dict(options)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            text = ""
            own["read_error"] = f"{path}: cannot read the file ({exc.strerror})"
        data = _read_yaml(text)
        history = _history_text(path, data) if command == "simulate" else None
        base = _safe(_declared_name(data, path))
        taken[base] = taken.get(base, 0) + 1
        name = base if taken[base] == 1 else f"{base}-{taken[base]}"
        task = {"kind": "household", "command": command, "source": str(path), "text": text, "history": history,
                "options": own}
        digest = hashlib.sha256(json.dumps(task, sort_keys=True).encode("utf-8")).hexdigest()
        out.append(Household(name, path, task, digest))
    return out


def household_task(task: Task) -> str:
    """Worker side: one household's command; always returns its result (failures included) as JSON."""
    from rebal_opt.models.errors import ScenarioError
    from rebal_opt.models.loading import parse_scenario
    from rebal_opt.models.yaml_io import parse_yaml_text

    start = time.perf_counter()
    command, source, options = task["command"], task["source"], task["options"]
    out: dict[str, Any] = {"command": command, "input": source}
    try:
        if "read_error" in options:
            raise OSError(options["read_error"])
        scenario = parse_scenario(parse_yaml_text(task["text"], source), source)
        out["scenario"] = scenario.label
        out.update(_run_command(command, scenario, task, options))
    except ScenarioError as exc:
        out.update(status="invalid", exit_code=EXIT_BAD_INPUT, error="; ".join(exc.lines()))
    except OSError as exc:
        out.update(status="invalid", exit_code=EXIT_BAD_INPUT, error=str(exc))
    except Exception as exc:  # isolated: the household's result says what went wrong
        out.update(status="error", exit_code=EXIT_INTERNAL, error=f"internal error: {type(exc).__name__}: {exc}")
    out["seconds"] = round(time.perf_counter() - start, 3)
    return json.dumps(out)


def _run_command(command: str, scenario: Any, task: Task, options: dict[str, Any]) -> dict[str, Any]:
    from rebal_opt.solver.check import check

    before = check(scenario)
    summary: dict[str, Any] = {
        "max_drift_before": max(abs(c.drift) for c in before.classes.values()),
        "tracking_error_before": before.tracking_error,
    }
    if command == "check":
        status = "rebalance_due" if before.rebalance_due else "in_band"
        return {"status": status, "exit_code": EXIT_OK, "summary": summary, "result": before.model_dump(mode="json")}
    if command == "simulate":
        from .simulation import simulate

        if scenario.simulate is None:
            return {"status": "invalid", "exit_code": EXIT_BAD_INPUT,
                    "error": "simulate: the scenario has no simulate section; add one (docs/simulate.md)"}
        if scenario.simulate.prices.source == "history" and task.get("history") is None:
            return {"status": "invalid", "exit_code": EXIT_BAD_INPUT,
                    "error": f"simulate.prices.history: cannot read '{scenario.simulate.prices.history}' "
                    "beside the scenario file"}
        report = simulate(scenario, history_text=task.get("history"), workers=1,
                          time_limit=options.get("time_limit", 60.0))
        report.pop("seconds", None)
        failed = sum(p["failed_steps"] for p in report["policies"])
        summary["failed_steps"] = failed
        return {"status": "simulated", "exit_code": EXIT_OK, "summary": summary, "result": report}
    from rebal_opt.solver.engine import InfeasiblePlan, SolverFailure, solve

    try:
        result = solve(scenario, time_limit=options.get("time_limit", 60.0))
    except InfeasiblePlan as exc:
        return {"status": "infeasible", "exit_code": EXIT_INFEASIBLE, "error": f"infeasible: {exc.detail}",
                "summary": summary, "result": {"conflicts": exc.conflicts}}
    except SolverFailure as exc:
        return {"status": "solver_failure", "exit_code": EXIT_SOLVER, "error": f"solver failure: {exc}",
                "summary": summary}
    summary.update(
        tax_due=result.tax.due_to_trades,
        max_drift_after=max(abs(c.after - c.target) for c in result.allocation.values()),
        tracking_error_after=result.tracking_error.after,
        trades=len(result.trades),
    )
    return {"status": result.status, "exit_code": EXIT_OK, "summary": summary,
            "result": result.model_dump(mode="json", exclude_none=True)}


def _crashed(task: Task, exc: BaseException) -> str:
    return json.dumps({"command": task["command"], "input": task["source"], "status": "error",
                       "exit_code": EXIT_INTERNAL, "error": f"worker failed: {type(exc).__name__}: {exc}"})


@dataclass
class BatchOutcome:
    rows: list[dict[str, Any]]
    ran: int
    skipped: int

    @property
    def exit_code(self) -> int:
        return EXIT_OK if all(r["exit_code"] == EXIT_OK for r in self.rows) else 1


Writer = Callable[[Path, str], None]


def run_batch(
    inputs: list[str],
    out_dir: Path,
    command: str,
    write: Writer,
    workers: int | None = None,
    dask_address: str | None = None,
    force: bool = False,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchOutcome:
    """Run `command` on every household not finished before; write each result and DIR/summary.csv.

    `write(path, text)` writes a file atomically (the CLI's atomic_write). `progress(done, total)`.
    """
    if command not in COMMANDS:
        raise BatchInputError(f"--command: '{command}' is not one of {', '.join(COMMANDS)}")
    items = households(expand_inputs(inputs), command, options or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    finished: dict[str, dict[str, Any]] = {}
    todo: list[Household] = []
    for h in items:
        previous = _previous(out_dir / f"{h.name}.json", h.input_hash)
        if previous is not None and not force:
            finished[h.name] = previous
        else:
            todo.append(h)
    total = len(todo)

    def on_progress(n: int) -> None:
        if progress is not None:
            progress(n, total)

    texts = run_tasks(household_task, [h.task for h in todo], workers=workers, dask_address=dask_address,
                      progress=on_progress, on_error=_crashed)
    for h, text in zip(todo, texts, strict=True):
        result = json.loads(text)
        result["scenario"] = result.get("scenario") or h.name
        result["input_hash"] = h.input_hash
        write(out_dir / f"{h.name}.json", json.dumps(result, indent=2) + "\n")
        finished[h.name] = result
    rows = [_summary_row(h.name, finished[h.name]) for h in items]
    write(out_dir / "summary.csv", summary_csv(rows))
    return BatchOutcome(rows, ran=len(todo), skipped=len(items) - len(todo))


def _previous(path: Path, input_hash: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("input_hash") == input_hash else None


def _summary_row(name: str, result: dict[str, Any]) -> dict[str, Any]:
    summary = result.get("summary") or {}
    row: dict[str, Any] = {
        "scenario": name,
        "input": result.get("input"),
        "command": result.get("command"),
        "status": result.get("status"),
        "exit_code": result.get("exit_code"),
        "seconds": result.get("seconds"),
        "error": result.get("error"),
    }
    for key in ("tax_due", "max_drift_before", "max_drift_after", "tracking_error_before", "tracking_error_after",
                "trades"):
        row[key] = summary.get(key)
    return row


def summary_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(SUMMARY_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in SUMMARY_COLUMNS})
    return buffer.getvalue()
