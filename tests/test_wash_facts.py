"""Wash-sale facts (IRC §1091): inheriting is not buying, and no loss exists inside an IRA."""

from __future__ import annotations

from pathlib import Path

from rebal_opt.models.loading import load_scenario
from rebal_opt.solver.engine import solve
from rebal_opt.solver.wash import wash_windows

HOUSEHOLD = Path(__file__).parent / "data" / "wash" / "inherited-and-ira.yaml"


def test_an_inherited_lot_is_not_a_purchase_and_an_ira_sale_is_not_a_loss() -> None:
    windows = wash_windows(load_scenario(HOUSEHOLD))
    assert "us_total" not in windows.sale_blocks  # H1 was inherited last week: nothing to wash
    assert "BND" not in windows.buy_blocks  # the IRA's sale below cost realized no loss


def test_the_loss_lot_is_harvested_and_no_block_is_reported_for_either() -> None:
    result = solve(load_scenario(HOUSEHOLD))
    sold = {lot.lot for t in result.trades if t.action == "sell" for lot in t.lots or []}
    assert "L1" in sold
    reasons = " ".join(b.reason for b in result.wash_sale.blocked)
    assert "2026-11-18" not in reasons and "2026-11-10" not in reasons
