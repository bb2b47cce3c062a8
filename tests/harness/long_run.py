"""The long run of the household harness: thousands of generated households through the CLI, every finding
logged instead of stopping at the first (issue 10: "a long run of at least 10,000 households").

    cd tests && python -m harness.long_run run --households 10000 --seed 1 --log /tmp/harness-long
    cd tests && python -m harness.long_run summary /tmp/harness-long      # while it runs, or after

Two processes on two cores: give each its own --seed and --log, then `summary DIR1 DIR2`. `--direct-indexing`
draws only direct-indexing households (strategies.direct_indexing_households: 11–24 single stocks, a factor
model; the engine's security-level path), which `households()` never draws.

In a working tree others are editing, run it on a snapshot of a commit, so that the engine does not change
under it mid-run (half-saved files show up as crashes):

    git archive HEAD | tar -x -C /tmp/snap && cd /tmp/snap && python -m venv --system-site-packages .venv \
        && .venv/bin/pip install --no-deps -e . && cd tests && ../.venv/bin/python -m harness.long_run run ...

A failing household shrinks to a small one with `python -m harness.shrink` (see there).

The log directory holds `households.jsonl` (one line per household: index, exit code per command,
seconds, findings) and `failures/<key-slug>/<index>.yaml`: the first few households of each distinct
finding, each a scenario file with the finding in its top comment (the start of a regression file under
tests/data/harness/), and `slow/<index>.yaml`: households a command took more than `SLOW_FACTOR` times its
time limit on (not findings; kept to replay them). `summary` prints the households run, the count per
command and exit code, and each distinct finding with its count and first example.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from .checks import TIME_LIMIT, check_household
from .strategies import Data, direct_indexing_households, households, scenario_yaml

EXAMPLES_PER_KEY = 3
"""Households kept as files per distinct finding."""

settings.register_profile(
    "harness-long",
    max_examples=10_000,
    deadline=None,
    database=None,
    phases=(Phase.generate,),  # every household is logged; minimal repros are written by hand
    suppress_health_check=list(HealthCheck),
)


SLOW_FACTOR = 4.0
"""A household whose command took this many times the time limit is kept under `slow/` (its YAML)."""

SLOW_KEPT = 20
"""Most slow households kept per run."""


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-")[:80] or "finding"


def run(
    households_wanted: int,
    seed_value: int,
    log_dir: Path,
    time_limit: float = TIME_LIMIT,
    direct_indexing: bool = False,
) -> Path:
    """Check `households_wanted` generated households, logging each; returns the log file. With
    `direct_indexing`, every household is a direct-indexing one (strategies.direct_indexing_households)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "households.jsonl"
    kept: Counter[str] = Counter()
    index = sum(1 for _ in log.open()) if log.exists() else 0
    start = time.perf_counter()

    @seed(seed_value)
    @settings(settings.get_profile("harness-long"), max_examples=households_wanted)
    @given(direct_indexing_households() if direct_indexing else households())
    def one(data: Data) -> None:
        nonlocal index
        index += 1
        with tempfile.TemporaryDirectory() as workdir:
            began = time.perf_counter()
            try:
                outcome = check_household(data, Path(workdir), time_limit, minimal=True)
                findings = [
                    {"command": f.command, "kind": f.kind, "key": f"{f.command}: {f.key}", "message": f.message}
                    for f in outcome.findings
                ]
                codes = outcome.exit_codes()
                run_seconds = {r.command: round(r.seconds, 3) for r in outcome.runs}
            except Exception as exc:  # the harness itself failed: log it as a finding, keep going
                findings = [
                    {
                        "command": "harness",
                        "kind": "harness error",
                        "key": f"harness: {type(exc).__name__}",
                        "message": repr(exc),
                    }
                ]
                codes, run_seconds = {}, {}
            seconds = round(time.perf_counter() - began, 3)
        record: dict[str, Any] = {
            "index": index,
            "seed": seed_value,
            "name": data.get("name"),
            "exit": codes,
            "seconds": seconds,
            "run_seconds": run_seconds,
            "at": round(time.time(), 1),
            "findings": findings,
        }
        slowest = max(run_seconds.values(), default=0.0)
        if slowest > SLOW_FACTOR * time_limit and kept["slow"] < SLOW_KEPT:
            # Not a finding (no check covers time), but a household worth replaying: hypothesis does not
            # draw it again outside the run.
            kept["slow"] += 1
            folder = log_dir / "slow"
            folder.mkdir(parents=True, exist_ok=True)
            comment = f"slow: {run_seconds} (time limit {time_limit} s), exit {codes}"
            (folder / f"{index:05d}.yaml").write_text(scenario_yaml(data, comment), encoding="utf-8")
        for finding in findings:
            if kept[finding["key"]] < EXAMPLES_PER_KEY:
                kept[finding["key"]] += 1
                folder = log_dir / "failures" / _slug(finding["key"])
                folder.mkdir(parents=True, exist_ok=True)
                comment = f"{finding['key']}\n{finding['message']}"
                (folder / f"{index:05d}.yaml").write_text(scenario_yaml(data, comment), encoding="utf-8")
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        if index % 100 == 0:
            print(f"{index} households, {time.perf_counter() - start:.0f} s", flush=True)

    one()
    print(f"done: {index} households in {time.perf_counter() - start:.0f} s", flush=True)
    return log


def summary(log_dirs: list[Path]) -> str:
    """Households run, count per command and exit code, each distinct finding with its count."""
    records = [json.loads(line) for d in log_dirs for line in (d / "households.jsonl").open(encoding="utf-8")]
    exits: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    first: dict[str, dict[str, Any]] = {}
    for r in records:
        for command, code in r["exit"].items():
            exits[f"{command} {code}"] += 1
        for f in r["findings"]:
            keys[f["key"]] += 1
            first.setdefault(f["key"], {**f, "index": r["index"], "seed": r["seed"]})
    households_with = sum(1 for r in records if r["findings"])
    seconds = sum(r["seconds"] for r in records)
    stamps = [r["at"] for r in records if "at" in r]
    wall = f", {(max(stamps) - min(stamps)) / 3600:.2f} h from first to last" if stamps else ""
    lines = [
        f"households: {len(records)} ({households_with} with findings), {seconds:.0f} s of checks{wall}",
        "exit codes: " + ", ".join(f"{k}: {n}" for k, n in sorted(exits.items())),
        f"distinct findings: {len(keys)}",
    ]
    for key, n in keys.most_common():
        f = first[key]
        message = f["message"].splitlines()[0][:200] if f["message"] else ""
        lines.append(f"  {n:5d}  {key}\n         e.g. seed {f['seed']} #{f['index']}: {message}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.long_run", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="check generated households, logging each")
    go.add_argument("--households", type=int, default=10_000)
    go.add_argument("--seed", type=int, default=1)
    go.add_argument("--log", type=Path, required=True)
    go.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    go.add_argument(
        "--direct-indexing", action="store_true", help="only direct-indexing households (11–24 single stocks)"
    )
    show = commands.add_parser("summary", help="summarize one or more log directories")
    show.add_argument("logs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.households, args.seed, args.log, args.time_limit, args.direct_indexing)
        print(summary([args.log]))
    else:
        print(summary(args.logs))


if __name__ == "__main__":
    sys.exit(main())
