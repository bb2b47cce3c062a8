"""Targeted tests of the rebalance rules, each on a small scenario file under tests/data/solve/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import Result
from rebal_opt.models.scenario import Scenario
from rebal_opt.solver.engine import InfeasiblePlan, solve

DATA = Path(__file__).parent / "data" / "solve"


def scenario(name: str) -> Scenario:
    return load_scenario(DATA / f"{name}.yaml")


def sells(result: Result, account: str | None = None) -> list:
    return [t for t in result.trades if t.action == "sell" and (account is None or t.account == account)]


def buys(result: Result, security: str | None = None) -> list:
    return [t for t in result.trades if t.action == "buy" and (security is None or t.security == security)]


def test_loss_lot_is_harvested_into_a_substitute() -> None:
    result = solve(scenario("harvest"))
    assert result.status == "optimal" and result.verified
    sold_lots = {lot.lot for t in sells(result, "brokerage") for lot in t.lots or []}
    assert "L1" in sold_lots  # the VTI loss lot
    assert not buys(result, "VTI"), "buying VTI back would wash the harvested loss"
    assert buys(result, "ITOT"), "the substitute in another wash group keeps the allocation"
    assert result.realized.long_term < 0
    assert result.tax.due_to_trades < 0


def test_recent_ira_purchase_blocks_the_loss_sale() -> None:
    result = solve(scenario("wash-ira"))
    sold_lots = {lot.lot for t in sells(result) for lot in t.lots or []}
    assert "L1" not in sold_lots
    blocked = {(b.group, b.action): b for b in result.wash_sale.blocked}
    block = blocked[("us_total", "sell_at_loss")]
    assert "VTI bought in ira on 2026-11-10" in block.reason
    # 2026-11-10 + 31 days; if the plan itself buys VTI today, 31 days from today.
    plan_buys_vti = any(t.security == "VTI" for t in buys(result))
    assert block.until == (dt.date(2026, 12, 26) if plan_buys_vti else dt.date(2026, 12, 11))
    assert all(c.in_band_after for c in result.allocation.values())


def test_long_term_lot_sold_before_short_term_when_cheaper() -> None:
    result = solve(scenario("long-before-short"))
    lots = [lot for t in sells(result) for lot in t.lots or []]
    assert lots and {lot.lot for lot in lots} == {"LT"}
    assert result.realized.short_term == 0


def test_contributions_alone_fix_the_bands_so_nothing_is_sold() -> None:
    result = solve(scenario("contributions-first"))
    assert not sells(result)
    assert all(c.in_band_after for c in result.allocation.values())
    assert any("contributions first" in n for n in result.notes)


def test_withdrawal_that_cannot_be_raised_names_the_conflict() -> None:
    with pytest.raises(InfeasiblePlan) as info:
        solve(scenario("withdrawal-conflict"))
    names = " ".join(info.value.conflicts)
    assert "accounts[0].contribution" in names
    assert "rules.do_not_sell" in names


def test_untradable_position_too_large_is_reported_not_infeasible() -> None:
    result = solve(scenario("untradable-too-large"))
    assert result.status == "optimal"
    violated = {v.asset_class: v for v in result.band_violations}
    assert "us_equity" in violated
    assert "untradable" in violated["us_equity"].reason
    assert not any(t.account == "founder" for t in result.trades)
    # What could be fixed was fixed: all IRA equity went to bonds.
    assert result.allocation["us_equity"].after < result.allocation["us_equity"].before


def test_cli_json_is_one_object_and_matches_the_contract() -> None:
    run = CliRunner().invoke(cli, ["solve", str(DATA / "harvest.yaml"), "--json"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    for key in ("scenario", "status", "trades", "allocation", "realized", "tax", "tracking_error", "wash_sale",
                "solver"):
        assert key in payload
    assert set(payload["tax"]) >= {"without_trades", "with_trades", "due_to_trades"}
    assert set(payload["solver"]) >= {"status", "seconds", "mip_gap"}
    for trade in payload["trades"]:
        assert round(trade["shares"] * trade["price"], 2) == pytest.approx(trade["amount"], abs=0.01)


def test_cli_infeasible_exits_3_with_one_line() -> None:
    run = CliRunner().invoke(cli, ["solve", str(DATA / "withdrawal-conflict.yaml")])
    assert run.exit_code == 3
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: infeasible")
    assert "Traceback" not in run.output


def test_cli_csv_written_and_not_left_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "trades.csv"
    run = CliRunner().invoke(cli, ["solve", str(DATA / "harvest.yaml"), "--csv", str(out)])
    assert run.exit_code == 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("account,security,action")
    assert any(",L1," in row for row in rows)
    failed = tmp_path / "failed.csv"
    run = CliRunner().invoke(cli, ["solve", str(DATA / "withdrawal-conflict.yaml"), "--csv", str(failed)])
    assert run.exit_code == 3
    assert not failed.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_same_input_same_output() -> None:
    first = solve(scenario("harvest")).model_dump(mode="json", exclude={"solver"})
    second = solve(scenario("harvest")).model_dump(mode="json", exclude={"solver"})
    assert first == second
