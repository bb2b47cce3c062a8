"""Every example scenario solved end to end through the CLI, its JSON checked against the contract and
re-verified from the JSON alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import Result
from rebal_opt.solver.verify import verify

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))
CONTRACT_KEYS = {
    "scenario",
    "status",
    "trades",
    "allocation",
    "realized",
    "tax",
    "tracking_error",
    "wash_sale",
    "solver",
}


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda p: p.stem)
def solved(request: pytest.FixtureRequest) -> tuple[Path, dict]:
    path: Path = request.param
    run = CliRunner().invoke(cli, ["solve", str(path), "--json"])
    assert run.exit_code == 0, run.output
    return path, json.loads(run.stdout)


def test_json_matches_the_contract(solved: tuple[Path, dict]) -> None:
    _, payload = solved
    assert set(payload) >= CONTRACT_KEYS
    assert payload["status"] in ("optimal", "time_limit", "no_trade_needed")
    for trade in payload["trades"]:
        assert {"account", "security", "action", "shares", "price", "amount"} <= set(trade)
        for lot in trade.get("lots", []):
            assert {"lot", "shares", "cost_basis", "gain", "term"} <= set(lot)
    for cls in payload["allocation"].values():
        assert {"target", "before", "after", "low", "high"} <= set(cls)
    assert set(payload["tax"]) >= {"without_trades", "with_trades", "due_to_trades"}
    assert set(payload["tracking_error"]) >= {"before", "after"}
    assert "blocked" in payload["wash_sale"]
    assert set(payload["solver"]) >= {"status", "seconds", "mip_gap"}
    assert payload["verified"] is True


def test_plan_reverifies_from_its_json(solved: tuple[Path, dict]) -> None:
    path, payload = solved
    result = Result.model_validate(payload)
    verification = verify(load_scenario(path), result)
    assert verification.ok, verification.violations


def test_plan_improves_or_keeps_tracking_and_respects_bands(solved: tuple[Path, dict]) -> None:
    _, payload = solved
    reported = {v["asset_class"] for v in payload.get("band_violations", [])}
    for name, cls in payload["allocation"].items():
        inside = cls["low"] - 1e-9 <= cls["after"] <= cls["high"] + 1e-9
        assert inside or name in reported
    assert payload["tracking_error"]["after"] <= payload["tracking_error"]["before"] + 1e-9


def test_terminal_view_renders(solved: tuple[Path, dict]) -> None:
    path, payload = solved
    run = CliRunner().invoke(cli, ["solve", str(path)])
    assert run.exit_code == 0
    assert "allocation" in run.stdout and "tax for the year" in run.stdout
    for trade in payload["trades"]:
        assert trade["security"] in run.stdout
