"""`rebal-opt simulate` and `rebal-opt batch`: many solves, on a process pool or a Dask cluster.

Thin: the simulator and the batch runner live in rebal_opt.simulate; this module reads files, draws a
progress bar, renders and maps failures to exit codes (design §5, §6).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rebal_opt.models.loading import load_scenario
from rebal_opt.models.scenario import Scenario

from .files import OutputFile, atomic_write
from .main import EXIT_BAD_INPUT, emit_json, fail, guarded, scenario_argument, time_limit_option

workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes in the local pool (default: one per core; 1 runs in this process).",
)
dask_option = click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    default=None,
    help="Run the tasks on this Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of a local pool. "
    "Needs pip install 'rebal-opt[dask]'.",
)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""
    err = Console(stderr=True)
    if not err.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _dask_failure(exc: Exception) -> None:
    from rebal_opt.simulate.executor import DaskUnavailable

    if isinstance(exc, DaskUnavailable):
        fail(EXIT_BAD_INPUT, str(exc))
    raise exc


@click.command()
@scenario_argument
@click.option("--json", "as_json", is_flag=True, help='Print {"policies": [{name, metrics: {...}}], ...} as JSON.')
@click.option(
    "--plot",
    "plot_path",
    type=OutputFile(),
    help="Also draw the fan chart of after-tax wealth and the drift over time to FILE.png.",
)
@click.option("--paths", type=click.IntRange(min=1), default=None, help="Override simulate.paths.")
@click.option("--years", type=click.IntRange(min=1, max=50), default=None, help="Override simulate.horizon_years.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Override simulate.seed.")
@workers_option
@dask_option
@time_limit_option("Time limit for each plan inside the simulation.")
@click.option(
    "--failures",
    "failures_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the household of each failed step (one per path and policy) to DIR as a scenario file.",
)
@guarded
def simulate(
    scenario_path: str,
    as_json: bool,
    plot_path: str | None,
    paths: int | None,
    years: int | None,
    seed: int | None,
    workers: int | None,
    dask_address: str | None,
    time_limit: float,
    failures_dir: Path | None,
) -> None:
    """Back-test rebalancing policies on SCENARIO (its `simulate:` section) over many price paths.

    Steps the household through time carrying lots, cash, wash-sale windows, carryforwards and tax
    years; each policy's after-tax value, taxes, turnover, rebalances, trades, drift and tracking error,
    with their spread across paths, and the difference to the naive baseline in bp a year.
    """
    from rebal_opt.simulate.prices import HistoryError
    from rebal_opt.simulate.simulation import simulate as run_simulation

    scenario = load_scenario(scenario_path)
    if scenario.simulate is None:
        fail(EXIT_BAD_INPUT, f"{scenario_path}: simulate: the scenario has no simulate section; add one "
             "(docs/simulate.md)")
    history_text = None
    if scenario.simulate.prices.history is not None:
        history_file = Path(scenario_path).parent / scenario.simulate.prices.history
        try:
            history_text = history_file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(EXIT_BAD_INPUT, f"{scenario_path}: simulate.prices.history: cannot read {history_file} "
                 f"({exc.strerror}); give a CSV path relative to the scenario file")
    total = _task_count(scenario, paths)
    with progress_bar("simulating") as update:
        try:
            report = run_simulation(
                scenario,
                history_text=history_text,
                paths=paths,
                years=years,
                seed=seed,
                workers=workers,
                dask_address=dask_address,
                progress=lambda done: update(done, total),
                time_limit=time_limit,
            )
        except HistoryError as exc:
            fail(EXIT_BAD_INPUT, f"{scenario_path}: simulate.prices.{exc}")
        except Exception as exc:
            _dask_failure(exc)
    if failures_dir is not None:
        _write_failures(report, failures_dir)
    if plot_path is not None:
        from .simulate_render import plot_simulation

        plot_simulation(report, plot_path)
    failed = sum(p["failed_steps"] for p in report["policies"])
    if as_json:
        emit_json(report)
    else:
        from .simulate_render import print_simulation

        print_simulation(report)
    if failed:
        click.echo(f"warning: {failed} step(s) failed; the failures are in the report", err=True)


def _task_count(scenario: Scenario, paths: int | None) -> int:
    sim = scenario.simulate
    assert sim is not None
    count = 1 if sim.prices.source == "history" else (paths or sim.paths)
    return count * len(sim.policies)


def _write_failures(report: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for policy in report["policies"]:
        for failure in policy["failures"]:
            if "scenario" in failure:
                name = f"{policy['name']}-path{failure['path']}-{failure['date']}.yaml"
                header = (
                    f"# {policy['name']}, path {failure['path']}, {failure['date']} ({failure['kind']} step), "
                    f"reproduce with: {failure.get('call', 'rebal-opt solve')}\n# "
                )
                text = header + str(failure["error"]).replace("\n", " ") + "\n"
                atomic_write(directory / name, text + yaml.safe_dump(failure["scenario"], sort_keys=False))


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUTS...")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for <scenario name>.json per household and summary.csv.",
)
@click.option(
    "--command",
    type=click.Choice(["solve", "check", "simulate"]),
    default="solve",
    show_default=True,
    help="What to run on each household.",
)
@workers_option
@dask_option
@time_limit_option("Time limit for each household's solve.")
@click.option("--force", is_flag=True, help="Run every household again, even those finished before.")
@click.option("--json", "as_json", is_flag=True, help='Print {"households": [summary rows]} as JSON.')
@guarded
def batch(
    inputs: tuple[str, ...],
    out_dir: Path,
    command: str,
    workers: int | None,
    dask_address: str | None,
    time_limit: float,
    force: bool,
    as_json: bool,
) -> None:
    """Solve (or check, or simulate) many households: INPUTS are scenario files, directories or globs.

    Writes DIR/<scenario name>.json per household and DIR/summary.csv (tax, drift, trades, status). One
    household's failure never stops the batch; a rerun skips households whose input is unchanged since
    their result was written. Exit 0 when every household ended 0, else 1.
    """
    from rebal_opt.simulate.batch import BatchInputError, run_batch

    with progress_bar(f"{command}") as update:
        try:
            outcome = run_batch(
                list(inputs),
                out_dir,
                command,
                atomic_write,
                workers=workers,
                dask_address=dask_address,
                force=force,
                options={"time_limit": time_limit},
                progress=update,
            )
        except BatchInputError as exc:
            fail(EXIT_BAD_INPUT, str(exc))
        except Exception as exc:
            _dask_failure(exc)
    if as_json:
        emit_json({"households": outcome.rows, "ran": outcome.ran, "skipped": outcome.skipped})
    else:
        from .simulate_render import print_batch

        print_batch(outcome.rows, outcome.ran, outcome.skipped)
    sys.exit(outcome.exit_code)
