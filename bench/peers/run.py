"""rebal-opt against TaxRebalance on TaxRebalance's own kind of household, back to back on one machine.

    python bench/peers/run.py                                  # the issue's seven sizes, 1 run each
    python bench/peers/run.py --sizes 10x100,30x1000 --runs 3  # medians of 3
    python bench/peers/run.py --sizes 250x750 --time-limit 60 --json out.json

Per size, `instances.generate(N, M, seed)` is written as a rebal-opt scenario and as TaxRebalance's CLI
inputs (see instances.py). Each run then times, each in its own process and one after the other:

* peer, in process — `taxrebalance.rebalance(...)` alone, inputs read and imports done (the benchmark's
  venv, bench/peers/.venv, created here with `pip install taxrebalance` when missing);
* peer, CLI — `taxrebalance --jurisdiction US ...` end to end;
* rebal-opt, in process — `solve(scenario, time_limit)` alone, the scenario parsed before the timer;
* rebal-opt, CLI — `rebal-opt solve scenario.yaml --json --time-limit S` end to end.

Both plans are then recomputed by the same code (compare.py: tracking error with the same covariance,
flat-rate tax, costs, dust rows, wash-exposed loss sales). Last, rebal-opt is solved once more with
`rules.max_tracking_error` at the peer's recomputed tracking error, so that tax and usable loss are
compared at equal-or-lower tracking error; the runner says whether the budget was respected.

Times are medians over the runs; ratios are per run (peer / rebal-opt, same run), then the median, and
only where both tools returned a plan (not `no_plan`, not `no_trade_needed`).
Quality figures are from the first run. `--json FILE` saves every raw figure. Nothing here asserts a
target: a plan that fails, times out or breaks its budget is recorded with its status and flagged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from compare import Evaluation, evaluate, plan_from_peer, plan_from_rebal_opt
from instances import Instance, generate, parse_size, scenario_dict, write_instance, write_scenario

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
PEER_REQUIREMENT = "taxrebalance==0.2.0"
ISSUE_SIZES = "10x100,30x1000,250x750,100x3000,500x1500,500x20000,1000x50000"
SOLVED = ("optimal", "time_limit")  # rebal-opt outcomes that are a plan of trades
TE_TOLERANCE = 1e-6  # relative, on "equal or lower tracking error"


# ---- processes ----------------------------------------------------------------------------------------


@dataclass
class Timed:
    """One child process: wall and CPU seconds, exit code (None when killed at the timeout), peak memory."""

    seconds: float
    cpu_seconds: float
    returncode: int | None
    peak_mb: float
    timed_out: bool


def run_timed(cmd: list[str], stdout: Path, stderr: Path, timeout: float) -> Timed:
    """Run `cmd` to completion (or kill it at `timeout`), with its own rusage from wait4."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    cpu = usage.ru_utime + usage.ru_stime
    return Timed(seconds, cpu, None if killed.is_set() else proc.returncode, usage.ru_maxrss / 1024, killed.is_set())


def peer_python() -> Path:
    return VENV / "bin" / "python"


def ensure_peer_env() -> None:
    """The benchmark's own environment for the peer (never a project dependency)."""
    probe = [str(peer_python()), "-c", "import taxrebalance"]
    if peer_python().exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"creating {VENV} with {PEER_REQUIREMENT} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)], check=True)
    subprocess.run([str(peer_python()), "-m", "pip", "install", "-q", PEER_REQUIREMENT], check=True)


REBAL_OPT_PYTHON = sys.executable  # --rebal-opt-python: another checkout's environment
GAPS: list[str] = []  # --mip-gap / --abs-gap, passed to every rebal-opt solve (in process and CLI)


def rebal_opt_command() -> list[str]:
    beside = Path(REBAL_OPT_PYTHON).parent / "rebal-opt"  # not a pyenv shim: its start-up would be timed
    found = str(beside) if beside.exists() else shutil.which("rebal-opt")
    if found is None:
        raise SystemExit(f"rebal-opt is not installed beside {REBAL_OPT_PYTHON}: pip install -e .")
    return [found]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def worker(tool: str, target: Path, out: Path, timeout: float, time_limit: float | None) -> dict[str, Any]:
    """The in-process timing: workers.py in the tool's own Python."""
    python = str(peer_python()) if tool == "peer" else REBAL_OPT_PYTHON
    cmd = [python, str(HERE / "workers.py"), tool, str(target), "--out", str(out)]
    if time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    if tool == "rebal-opt":
        cmd += GAPS
    out.unlink(missing_ok=True)
    timed = run_timed(cmd, out.with_suffix(".stdout"), out.with_suffix(".stderr"), timeout)
    record = _read_json(out) if not timed.timed_out else None
    if record is None:
        outcome = "timeout" if timed.timed_out else f"crashed (exit {timed.returncode})"
        record = {"seconds": None, "outcome": outcome, "peak_mb": timed.peak_mb}
    record["process_seconds"] = timed.seconds
    return record


def peer_cli(directory: Path, out: Path, timeout: float) -> dict[str, Any]:
    exe = VENV / "bin" / "taxrebalance"
    cmd = [str(exe), "--jurisdiction", "US", "--portfolio", str(directory / "lots.csv"),
           "--prices", str(directory / "prices.json"), "--targets", str(directory / "targets.json"),
           "--covariance", str(directory / "covariance.json"), "--config", str(directory / "config.json"),
           "--output", str(out)]  # fmt: skip
    out.unlink(missing_ok=True)
    timed = run_timed(cmd, out.with_suffix(".stdout"), out.with_suffix(".stderr"), timeout)
    # exit 0: feasible plan; 2: no feasible plan (or bad input, on stderr)
    return {"seconds": timed.seconds, "cpu_seconds": timed.cpu_seconds, "exit": timed.returncode,
            "timed_out": timed.timed_out, "peak_mb": timed.peak_mb, "result": _read_json(out)}  # fmt: skip


def rebal_opt_cli(scenario: Path, out: Path, timeout: float, time_limit: float | None) -> dict[str, Any]:
    cmd = [*rebal_opt_command(), "solve", str(scenario), "--json", *GAPS]
    if time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    timed = run_timed(cmd, out, out.with_suffix(".stderr"), timeout)
    result = _read_json(out) if timed.returncode == 0 else None
    stderr = out.with_suffix(".stderr").read_text(errors="replace").strip().splitlines()
    return {"seconds": timed.seconds, "cpu_seconds": timed.cpu_seconds, "exit": timed.returncode,
            "timed_out": timed.timed_out, "peak_mb": timed.peak_mb, "result": result,
            "stderr_tail": stderr[-3:]}  # fmt: skip


# ---- one size -----------------------------------------------------------------------------------------


def _plan_evaluation(inst: Instance, tool: str, record: dict[str, Any] | None) -> Evaluation | None:
    result = (record or {}).get("result")
    if not result:
        return None
    if tool == "peer":
        if not result.get("summary", {}).get("feasible"):
            return None
        return evaluate(inst, plan_from_peer(result))
    return evaluate(inst, plan_from_rebal_opt(result))


def _rebal_opt_summary(record: dict[str, Any]) -> dict[str, Any]:
    result = record.get("result") or {}
    solver = result.get("solver") or {}
    return {
        "outcome": record.get("outcome"),
        "status": result.get("status"),
        "mip_gap": solver.get("mip_gap"),
        "gap_dollars": solver.get("gap_dollars"),
        "verified": result.get("verified"),
        "reported_te": (result.get("tracking_error") or {}).get("after"),
        "error": record.get("error"),
    }


def run_size(
    n: int, m: int, args: argparse.Namespace, with_peer: bool
) -> dict[str, Any]:
    inst = generate(n, m, seed=args.seed, bands=args.bands)
    directory = args.work / inst.name
    write_instance(inst, directory, dense_risk=args.dense_risk)
    scenario = directory / "scenario.yaml"
    hold = evaluate(inst, plan_from_peer({"trades": []}))
    record: dict[str, Any] = {
        "size": f"{n}/{m}", "securities": n, "lots": m, "seed": args.seed, "instance": str(directory),
        "equity": inst.equity, "te_before": hold.tracking_error,
        "peer_max_tracking_error": inst.peer_max_tracking_error, "runs": [],
    }  # fmt: skip
    for r in range(args.runs):
        run: dict[str, Any] = {}
        tag = f"run{r}"
        if with_peer:
            print(f"  {inst.name} {tag}: peer ...", file=sys.stderr, flush=True)
            run["peer"] = worker("peer", directory, directory / f"peer-{tag}.json", args.peer_timeout, None)
            if args.cli:
                run["peer_cli"] = peer_cli(directory, directory / f"peer-cli-{tag}.json", args.peer_timeout)
        print(f"  {inst.name} {tag}: rebal-opt ...", file=sys.stderr, flush=True)
        timeout = args.time_limit * 3 + 120 if args.time_limit else 3600
        run["rebal_opt"] = worker("rebal-opt", scenario, directory / f"rebal-opt-{tag}.json", timeout, args.time_limit)
        if args.cli:
            run["rebal_opt_cli"] = rebal_opt_cli(
                scenario, directory / f"rebal-opt-cli-{tag}.json", timeout, args.time_limit
            )
        if args.dense_risk:  # the same covariance as volatility + correlation (n² entries)
            dense = directory / "scenario-dense.yaml"
            run["rebal_opt_dense"] = worker(
                "rebal-opt", dense, directory / f"rebal-opt-dense-{tag}.json", timeout, args.time_limit
            )
        record["runs"].append(run)

    evaluate_plans(record, inst)
    if record["peer_eval"] is not None and args.budget:
        budget = record["peer_eval"]["tracking_error"]
        path = directory / "scenario-budget.yaml"
        write_scenario(path, scenario_dict(inst, max_tracking_error=budget))
        print(f"  {inst.name}: rebal-opt at the peer's tracking error {budget:.4%} ...", file=sys.stderr, flush=True)
        timeout = args.time_limit * 3 + 120 if args.time_limit else 3600
        at = worker("rebal-opt", path, directory / "rebal-opt-budget.json", timeout, args.time_limit)
        record["budget"] = {"max_tracking_error": budget, "seconds": at.get("seconds")}
        evaluate_budget(record, inst)
    _times(record)
    return record


def evaluate_plans(record: dict[str, Any], inst: Instance) -> None:
    """compare.py on the first run's plans, read back from the workers' files."""
    directory = Path(record["instance"])
    peer = _read_json(directory / "peer-run0.json")
    ours = _read_json(directory / "rebal-opt-run0.json") or {}
    peer_eval = _plan_evaluation(inst, "peer", peer)
    ro_eval = _plan_evaluation(inst, "rebal-opt", ours)
    record["peer_eval"] = peer_eval.as_dict() if peer_eval else None
    record["rebal_opt_eval"] = ro_eval.as_dict() if ro_eval else None
    record["rebal_opt_summary"] = _rebal_opt_summary(ours)
    if peer is not None:
        record["peer_summary"] = {"outcome": peer.get("outcome"), **((peer.get("result") or {}).get("summary") or {})}
    cli = _read_json(directory / "rebal-opt-cli-run0.json")  # the CLI's plan should be the in-process one
    cli_eval = _plan_evaluation(inst, "rebal-opt", {"result": cli}) if cli else None
    record["rebal_opt_cli_te"] = cli_eval.tracking_error if cli_eval else None


def evaluate_budget(record: dict[str, Any], inst: Instance) -> None:
    """compare.py on the plan at the peer's tracking error, against the budget and the unbudgeted plan."""
    budget = record["budget"]
    at = _read_json(Path(record["instance"]) / "rebal-opt-budget.json") or {}
    at_eval = _plan_evaluation(inst, "rebal-opt", at)
    ro_eval = record["rebal_opt_eval"]
    limit = budget["max_tracking_error"] * (1 + TE_TOLERANCE) + 1e-12
    budget["summary"] = _rebal_opt_summary(at)
    budget["eval"] = at_eval.as_dict() if at_eval else None
    budget["respected"] = None if at_eval is None else bool(at_eval.tracking_error <= limit)  # None: no plan
    # the same trades as without the budget: it did not bind, or the solver does not read it yet
    budget["same_plan"] = bool(at_eval is not None and ro_eval is not None and _same_plan(at_eval.as_dict(), ro_eval))


def _same_plan(a: dict[str, Any], b: dict[str, Any]) -> bool:
    same_size = a["rows"] == b["rows"] and abs(a["gross_notional"] - b["gross_notional"]) < 0.01
    return same_size and a["tax_flat"] == b["tax_flat"]


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _times(record: dict[str, Any]) -> None:
    """Medians of the times and of the per-run ratios (peer / rebal-opt, same run)."""
    runs = record["runs"]

    def seconds(run: dict[str, Any], key: str, clock: str = "seconds") -> float | None:
        record = run.get(key) or {}
        if record.get("exit", 0) != 0:  # a CLI run that failed is not a time (its exit code is recorded)
            return None
        return record.get(clock)

    def ratio(run: dict[str, Any], a: str, b: str, clock: str = "seconds") -> float | None:
        # only between two plans: a time to "no plan" or "nothing to do" is not a time to the answer
        planned = (run.get("rebal_opt") or {}).get("outcome") in SOLVED and (run.get("peer") or {}).get(
            "outcome"
        ) == "feasible"
        x, y = seconds(run, a, clock), seconds(run, b, clock)
        return x / y if planned and x is not None and y else None

    record["times"] = {
        key: _median([seconds(r, key) for r in runs])
        for key in ("peer", "peer_cli", "rebal_opt", "rebal_opt_cli", "rebal_opt_dense")
    }
    record["ratio"] = _median([ratio(r, "peer", "rebal_opt") for r in runs])
    record["ratio_cli"] = _median([ratio(r, "peer_cli", "rebal_opt_cli") for r in runs])
    record["cpu"] = {key: _median([seconds(r, key, "cpu_seconds") for r in runs]) for key in ("peer", "rebal_opt")}
    record["ratio_cpu"] = _median([ratio(r, "peer", "rebal_opt", "cpu_seconds") for r in runs])
    record["peak_mb"] = {
        key: max(((r.get(key) or {}).get("peak_mb") or 0.0) for r in runs)
        for key in ("peer", "peer_cli", "rebal_opt", "rebal_opt_cli")
    }


# ---- table --------------------------------------------------------------------------------------------


def _f(value: float | None, fmt: str, missing: str = "—") -> str:
    return missing if value is None else format(value, fmt)


def _status(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "—"
    if summary.get("status") is None:
        return str(summary.get("outcome"))
    text = str(summary["status"])
    gap = summary.get("mip_gap")
    if gap is not None and gap >= 1e-4:
        text += f" {gap:.2%}"
    if summary.get("verified") is False:
        text += " unverified"
    return text


def print_tables(records: list[dict[str, Any]]) -> None:
    print(
        "\ntimes (seconds, medians; in-process = the solve call alone; ratio = peer / rebal-opt per run, median;"
        "\ncpu = CPU seconds of the solve call, the steadier figure on a shared machine; peak memory MB)"
    )
    head = f"{'size':>11} {'peer':>8} {'peer CLI':>9} {'rebal-opt':>10} {'r-o CLI':>8} {'ratio':>7} {'ratio CLI':>9}"
    print(head + f" {'cpu p/r':>13} {'cpu ratio':>9} {'rebal-opt status':>18} {'peak MB p/r':>12}")
    for rec in records:
        t = rec["times"]
        mem = rec["peak_mb"]
        cpu = rec.get("cpu", {})
        print(
            f"{rec['size']:>11} {_f(t['peer'], '.2f'):>8} {_f(t['peer_cli'], '.2f'):>9} {_f(t['rebal_opt'], '.2f'):>10}"
            f" {_f(t['rebal_opt_cli'], '.2f'):>8} {_f(rec['ratio'], '.2f'):>7} {_f(rec['ratio_cli'], '.2f'):>9}"
            f" {_f(cpu.get('peer'), '.1f'):>6}/{_f(cpu.get('rebal_opt'), '.1f'):<6}"
            f" {_f(rec.get('ratio_cpu'), '.2f'):>9}"
            f" {_status(rec['rebal_opt_summary']):>18}"
            f" {_f(mem['peer'] or None, '.0f'):>5}/{_f(mem['rebal_opt'] or None, '.0f'):<6}"
        )
    print(
        "\nplans, recomputed by compare.py (TE: sqrt(d'Cd) after trades, cash included; tax: flat 35%/20% on the"
        "\nplan's net short/long result with wash-exposed losses disallowed, no $3,000 limit; tax $3k limit: the"
        "\nsame with Schedule D netting and the $3,000 limit; usable loss: losses not exposed to a wash sale;"
        "\n@TE: rebal-opt with rules.max_tracking_error = the peer's TE)"
    )
    print(
        f"{'size':>11} {'TE before':>9} {'TE peer':>8} {'TE r-o':>8} {'TE @TE':>8} {'budget':>7}"
        f" {'tax peer':>10} {'tax r-o':>10} {'tax @TE':>10} {'loss peer':>10} {'loss r-o':>10} {'loss @TE':>10}"
        f" {'dust p/r/@':>11} {'wash p/r/@':>11} {'tax $3k limit p/r/@':>22}"
    )
    for rec in records:
        p, o = rec.get("peer_eval"), rec.get("rebal_opt_eval")
        b = (rec.get("budget") or {}).get("eval")
        respected = rec.get("budget", {}).get("respected") if rec.get("budget") else None
        status = {True: "ok", False: "BROKEN", None: "—"}[respected]

        def g(e: dict[str, Any] | None, key: str) -> float | None:
            return None if e is None else e[key]

        def counts(key: str, evals: tuple[dict[str, Any] | None, ...] = (p, o, b)) -> str:
            return "/".join(_f(g(e, key), "d") for e in evals)

        print(
            f"{rec['size']:>11} {rec['te_before']:>9.4%} {_f(g(p, 'tracking_error'), '.4%'):>8}"
            f" {_f(g(o, 'tracking_error'), '.4%'):>8} {_f(g(b, 'tracking_error'), '.4%'):>8} {status:>7}"
            f" {_f(g(p, 'usable_tax_flat'), ',.0f'):>10} {_f(g(o, 'usable_tax_flat'), ',.0f'):>10}"
            f" {_f(g(b, 'usable_tax_flat'), ',.0f'):>10} {_f(g(p, 'usable_loss'), ',.0f'):>10}"
            f" {_f(g(o, 'usable_loss'), ',.0f'):>10} {_f(g(b, 'usable_loss'), ',.0f'):>10}"
            f" {counts('dust_rows'):>11} {counts('wash_exposed_sales'):>11}"
            f" {'/'.join(_f(g(e, 'usable_tax_limited'), ',.0f') for e in (p, o, b)):>22}"
        )
    print_time_spent(records)
    for rec in records:
        notes = []
        for who, key in (("peer", "peer_eval"), ("rebal-opt", "rebal_opt_eval")):
            if rec.get(key) and rec[key]["violations"]:
                notes.append(f"{who} plan violations: {rec[key]['violations'][:3]}")
        peer = rec.get("peer_summary")
        if peer and peer.get("outcome") != "feasible":
            notes.append(f"peer: {peer.get('outcome')} {peer.get('violations') or ''}")
        summary = rec["rebal_opt_summary"]
        if summary.get("error"):
            notes.append(f"rebal-opt: {summary['outcome']}: {summary['error']}")
        for run in rec["runs"]:
            for key in ("peer_cli", "rebal_opt_cli"):
                cli = run.get(key) or {}
                if cli.get("exit", 0) != 0:
                    tail = " ".join(cli.get("stderr_tail") or [])[:200]
                    notes.append(f"{key.replace('_', ' ')} exit {cli['exit']}{': ' + tail if tail else ''}")
        dense = rec["runs"][0].get("rebal_opt_dense")
        if dense:
            dense_result = dense.get("result") or {}
            notes.append(
                f"dense form: {_status(_rebal_opt_summary(dense))} in {_f(rec['times']['rebal_opt_dense'], '.2f')} s"
                f", TE {_f((dense_result.get('tracking_error') or {}).get('after'), '.4%')}"
            )
        budget = rec.get("budget")
        if budget:
            notes.append(
                f"@TE run: {_status(budget['summary'])} in {_f(budget['seconds'], '.1f')} s, "
                f"reported TE {_f(budget['summary'].get('reported_te'), '.4%')}"
                + (" — the same plan as without the budget" if budget.get("same_plan") else "")
            )
        if notes:
            print(f"{rec['size']}: " + "; ".join(notes))


def time_spent(record: dict[str, Any]) -> str:
    """rebal-opt's own account of its first in-process run (`solver.time`): each step's seconds and detail."""
    result = (record["runs"][0].get("rebal_opt") or {}).get("result") or {}
    steps = (result.get("solver") or {}).get("time") or []
    return ", ".join(
        f"{s['step']} {s['seconds']:.2f}" + (f" ({s['detail']})" if s.get("detail") else "") for s in steps
    )


def print_time_spent(records: list[dict[str, Any]]) -> None:
    print("\nwhere rebal-opt's in-process time went (its result's solver.time, seconds)")
    for rec in records:
        print(f"{rec['size']:>11} {time_spent(rec) or '—'}")


# ---- main ---------------------------------------------------------------------------------------------


def _bands(text: str) -> dict[str, float | None]:
    """'1.0' → absolute 1.0, no relative band; '0.05,0.25' → absolute 0.05, relative 0.25."""
    parts = text.split(",")
    return {"absolute": float(parts[0]), "relative": float(parts[1]) if len(parts) > 1 else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=ISSUE_SIZES, help=f"securities x lots, comma-separated (default {ISSUE_SIZES})"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=60.0, help="rebal-opt's time limit per solve (seconds)")
    parser.add_argument(
        "--mip-gap", type=float, default=1e-3, help="rebal-opt's relative gap (default 0.1%%: the issue's target)"
    )
    parser.add_argument(
        "--abs-gap", type=float, default=100.0, help="rebal-opt's absolute gap in dollars (default $100: the issue's)"
    )
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="kill a peer run after this many seconds")
    parser.add_argument(
        "--peer-max-lots", type=int, default=3000, help="skip the peer above this many lots (default 3000)"
    )
    parser.add_argument("--bands", type=_bands, default=_bands("1.0"), help="absolute[,relative] (default 1.0)")
    parser.add_argument("--no-cli", dest="cli", action="store_false", help="skip the end-to-end CLI timings")
    parser.add_argument(
        "--dense-risk", action="store_true", help="also time rebal-opt on the volatility + correlation form"
    )
    parser.add_argument("--no-budget", dest="budget", action="store_false", help="skip the run at the peer's TE")
    parser.add_argument("--work", type=Path, default=HERE / "out", help="where instances and outputs go")
    parser.add_argument("--json", type=Path, help="save every raw figure here")
    parser.add_argument(
        "--rebal-opt-python",
        help="the Python whose rebal-opt is timed (default: this one); e.g. a venv of a frozen checkout, so that "
        "edits made to the working tree during a long run do not change what is measured",
    )
    parser.add_argument("--show", type=Path, help="print the tables of a saved --json file and stop")
    parser.add_argument(
        "--reevaluate", action="store_true", help="with --show: recompute the plans' figures from --work's files"
    )
    args = parser.parse_args(argv)
    if args.show:
        saved = json.loads(args.show.read_text())
        records = saved["sizes"]
        for rec in records:
            if args.reevaluate:  # compare.py again on the plans kept in the instance directories
                bands = saved["args"]["bands"]
                inst = generate(rec["securities"], rec["lots"], seed=rec["seed"], bands=bands)
                evaluate_plans(rec, inst)
                if rec.get("budget"):
                    evaluate_budget(rec, inst)
            _times(rec)
        print_tables(records)
        return
    if args.rebal_opt_python:
        global REBAL_OPT_PYTHON
        REBAL_OPT_PYTHON = args.rebal_opt_python
    GAPS[:] = ["--mip-gap", str(args.mip_gap), "--abs-gap", str(args.abs_gap)]
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if any(m <= args.peer_max_lots for _, m in sizes):
        ensure_peer_env()
    records = []
    for n, m in sizes:
        print(f"{n}/{m} ...", file=sys.stderr, flush=True)
        records.append(run_size(n, m, args, with_peer=m <= args.peer_max_lots))
        if args.json:  # after every size, so that a long run keeps what it has
            args.json.write_text(json.dumps({"args": _args_json(args), "sizes": records}, indent=1, default=_plain))
    print_tables(records)


def _plain(value: Any) -> Any:
    """numpy scalars (a comparison of numpy floats is a numpy bool) as plain Python values."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _args_json(args: argparse.Namespace) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


if __name__ == "__main__":
    main()
