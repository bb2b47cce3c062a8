"""`rebal-opt batch` and the executor: failures isolated, resume, the process pool, and a Dask cluster
that must give the same results as the pool, bit for bit."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rebal_opt.models.loading import load_scenario
from rebal_opt.simulate.simulation import simulate

SCENARIOS = Path(__file__).parent.parent / "scenarios"
TIMED = ("seconds", "solver")  # wall-clock figures, different on every run


@pytest.fixture
def households(tmp_path: Path) -> Path:
    """Three example households and one broken file in a directory."""
    folder = tmp_path / "households"
    folder.mkdir()
    for name in ("sarah-70-30", "david-60-40-crash", "james-multi-account"):
        shutil.copy(SCENARIOS / f"{name}.yaml", folder / f"{name}.yaml")
    (folder / "broken.yaml").write_text("name: broken\nas_of: 2026-11-25\ntargets: {us_equity: 1.0}\n")
    return folder


def summary(out: Path) -> list[dict[str, str]]:
    with (out / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def untimed(value: Any) -> Any:
    """The value without wall-clock figures."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMED}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def test_one_broken_household_does_not_stop_the_batch(invoke, households: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("batch", households, "--out", out, "--command", "check", "--workers", "1")
    assert result.exit_code == 1  # not every household ended 0
    rows = {r["scenario"]: r for r in summary(out)}
    assert set(rows) == {"sarah-70-30", "david-60-40-crash", "james-multi-account", "broken"}
    assert rows["broken"]["exit_code"] == "2" and rows["broken"]["status"] == "invalid"
    assert "tax: is required" in rows["broken"]["error"]
    for name in ("sarah-70-30", "david-60-40-crash", "james-multi-account"):
        assert rows[name]["exit_code"] == "0" and rows[name]["status"] == "rebalance_due"
        written = json.loads((out / f"{name}.json").read_text())
        assert written["result"]["scenario"] == name and written["input_hash"]
    assert "1 not ending 0" in result.stdout


def test_a_rerun_skips_finished_households_and_redoes_changed_ones(invoke, households: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    invoke("batch", households, "--out", out, "--command", "check", "--workers", "1")
    again = invoke("batch", households, "--out", out, "--command", "check", "--workers", "1", "--json")
    assert json.loads(again.stdout)["ran"] == 0 and json.loads(again.stdout)["skipped"] == 4
    (households / "broken.yaml").write_text((SCENARIOS / "sarah-70-30.yaml").read_text().replace(
        "name: sarah-70-30", "name: broken"))
    third = invoke("batch", households, "--out", out, "--command", "check", "--workers", "1", "--json")
    report = json.loads(third.stdout)
    assert (report["ran"], report["skipped"]) == (1, 3)
    assert third.exit_code == 0  # every household ends 0 now
    assert {r["scenario"]: r["exit_code"] for r in report["households"]}["broken"] == 0


def test_batch_simulate_sends_the_history_with_the_household(invoke, tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "simulate"
    out = tmp_path / "out"
    result = invoke("batch", data / "two-funds.yaml", "--out", out, "--command", "simulate", "--workers", "1")
    assert result.exit_code == 0, result.stdout
    report = json.loads((out / "two-funds.json").read_text())
    assert report["status"] == "simulated"
    bands = next(p for p in report["result"]["policies"] if p["name"] == "naive-bands")
    assert bands["metrics"]["rebalances_per_year"]["mean"] == 1.0  # as tests/test_simulate.py computes


def test_inputs_that_name_no_file_are_bad_input(invoke, tmp_path: Path) -> None:
    result = invoke("batch", tmp_path / "nothing-*.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "no scenario file" in result.stderr


def test_batch_solve_on_a_process_pool(invoke, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("batch", SCENARIOS / "sarah-70-30.yaml", SCENARIOS / "david-60-40-crash.yaml",
                    "--out", out, "--workers", "2")
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = {r["scenario"]: r for r in summary(out)}
    assert {r["status"] for r in rows.values()} == {"optimal"}
    solved = json.loads((out / "sarah-70-30.json").read_text())
    assert float(rows["sarah-70-30"]["tax_due"]) == solved["result"]["tax"]["due_to_trades"]
    assert int(rows["sarah-70-30"]["trades"]) == len(solved["result"]["trades"])


# Dask -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_gives_the_process_pool_simulation_bit_for_bit(dask_cluster: str) -> None:
    scenario = load_scenario(SCENARIOS / "sarah-70-30.yaml")
    assert scenario.simulate is not None
    # three policies (one of them planning with the optimizer) keep it quick; tasks are (policy, path) pairs
    kept = [p for p in scenario.simulate.policies if p.name in ("never", "naive-bands", "optimizer-bands")]
    section = scenario.simulate.model_copy(update={"policies": kept, "baseline": None})
    scenario = scenario.model_copy(update={"simulate": section})
    on_pool = simulate(scenario, paths=1, workers=2)
    on_dask = simulate(scenario, paths=1, dask_address=dask_cluster)
    in_process = simulate(scenario, paths=1, workers=1)
    assert json.dumps(untimed(on_dask)) == json.dumps(untimed(on_pool)) == json.dumps(untimed(in_process))


def test_dask_batch_gives_the_process_pool_results(invoke, dask_cluster: str, tmp_path: Path) -> None:
    inputs = [SCENARIOS / "sarah-70-30.yaml", SCENARIOS / "james-multi-account.yaml"]
    assert invoke("batch", *inputs, "--out", tmp_path / "pool", "--workers", "2").exit_code == 0
    assert invoke("batch", *inputs, "--out", tmp_path / "dask", "--dask", dask_cluster).exit_code == 0
    for name in ("sarah-70-30", "james-multi-account"):
        pool = json.loads((tmp_path / "pool" / f"{name}.json").read_text())
        dask = json.loads((tmp_path / "dask" / f"{name}.json").read_text())
        assert untimed(pool) == untimed(dask)
