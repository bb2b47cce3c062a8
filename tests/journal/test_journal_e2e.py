"""A household through propose → approve → record → holdings → the next propose, on SQLite and on a real
PostgreSQL server, with the wash-sale windows carried across by the recorded fills.

The household (tests/data/journal/household.yaml) is 73% equities against 60% ± 5%. The first plan sells
the VTI lot at a loss (100 shares, basis 120, price 100) and buys BND and ITOT. The fills: the VTI lot at
99.50, 100 of the 111 BND planned at 70.20, the 68 ITOT at 40.10, on 2026-11-03. Expected by hand:
  realized long-term 100 × (99.50 − 120) = −2,050.00;
  cash 500 + 9,950.00 − 7,020.00 − 2,726.80 = 703.20;
  new lots BND 100 sh cost 7,020.00 and ITOT 68 sh cost 2,726.80, dated 2026-11-03.
The next plan (targets moved to 75/25: sell bonds, buy equities, dated 2026-11-10) must not buy in VTI's
group (the loss sale of 11-03 blocks it until 2026-12-04) nor sell the older BND lot at a loss (the BND
purchase of 11-03 blocks that until 2026-12-04). The same edits without the recorded trades buy VTI/VTSAX:
the block comes from the journal. Dated 2026-12-07 the blocks have lifted.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rebal_opt.models.loading import load_scenario

DATA = Path(__file__).parent.parent / "data" / "journal"

FILL_DAY = dt.date(2026, 11, 3)
LIFT = FILL_DAY + dt.timedelta(days=31)


def run(invoke: Any, *args: str | Path) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def next_scenario(holdings: Path, out: Path, keep_recent: bool = True) -> Path:
    data = yaml.safe_load(holdings.read_text())
    data["targets"] = {"us_equity": 0.75, "bonds": 0.25}
    if not keep_recent:
        data["recent_trades"] = []
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def plan_of(invoke: Any, db: str, proposal_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(run(invoke, "show", proposal_id, "--db", db, "--json"))
    return shown


def test_propose_approve_record_and_the_next_proposal_keeps_the_wash_windows(
    invoke: Any, journal_db: str, tmp_path: Path
) -> None:
    scenario = DATA / "household.yaml"
    first = int(run(invoke, "propose", scenario, "--db", journal_db).strip())
    plan = plan_of(invoke, journal_db, first)
    assert plan["status"] == "proposed" and plan["verified"] is True
    sells = [t for t in plan["result"]["trades"] if t["action"] == "sell"]
    assert [(t["security"], [lot["lot"] for lot in t["lots"]]) for t in sells] == [("VTI", ["vti-loss"])]

    run(invoke, "approve", first, "--db", journal_db, "--by", "alice", "--reason", "reviewed")
    recorded = json.loads(
        run(invoke, "record", first, "--fills", DATA / "fills.csv", "--db", journal_db, "--by", "bob", "--json")
    )
    assert recorded["detail"]["realized"] == {"short_term": 0.0, "long_term": -2050.0}
    states = {(t["security"], t["action"]): t["state"] for t in recorded["detail"]["trades"]}
    assert states == {("VTI", "sell"): "filled", ("BND", "buy"): "partial", ("ITOT", "buy"): "filled"}

    trail = plan_of(invoke, journal_db, first)
    assert trail["status"] == "recorded"
    assert [(e["kind"], e["by"], e.get("reason")) for e in trail["events"]] == [
        ("approved", "alice", "reviewed"),
        ("recorded", "bob", None),
    ]

    holdings = tmp_path / "holdings.yaml"
    run(invoke, "holdings", "--db", journal_db, "--as-of", "2026-11-10", "-o", holdings)
    after = load_scenario(holdings)
    brokerage = after.account("brokerage")
    assert brokerage.cash == pytest.approx(703.20)
    lots = {lot.security: lot for lot in brokerage.lots if lot.acquired == FILL_DAY}
    assert lots["BND"].shares == 100 and lots["BND"].cost_basis == pytest.approx(7020.0)
    assert lots["ITOT"].shares == 68 and lots["ITOT"].cost_basis == pytest.approx(2726.80)
    assert "vti-loss" not in {lot.id for lot in brokerage.lots}
    assert after.tax.realized_ytd.long_term == pytest.approx(-2050.0)
    assert after.as_of == dt.date(2026, 11, 10)

    # The next proposal starts from the recorded holdings: VTI's group may not be bought, nor BND sold at a loss.
    second = int(run(invoke, "propose", next_scenario(holdings, tmp_path / "next.yaml"), "--db", journal_db).strip())
    nxt = plan_of(invoke, journal_db, second)["result"]
    assert nxt["verified"] is True
    bought = {t["security"] for t in nxt["trades"] if t["action"] == "buy"}
    assert bought and not bought & {"VTI", "VTSAX"}
    sold_lots = {lot["lot"] for t in nxt["trades"] for lot in t.get("lots", [])}
    assert "bnd-loss" not in sold_lots
    blocked = {(b["group"], b["action"]): b["until"] for b in nxt["wash_sale"]["blocked"]}
    assert blocked[("us_total", "buy")] == str(LIFT)
    bnd_group = load_scenario(DATA / "household.yaml").wash_group("BND")  # the security master's index group
    assert blocked[(bnd_group, "sell_at_loss")] == str(LIFT)

    # Oracle: the same household without the recorded trades buys into VTI's group.
    control = next_scenario(holdings, tmp_path / "control.yaml", keep_recent=False)
    unblocked = json.loads(run(invoke, "solve", control, "--json"))
    assert {t["security"] for t in unblocked["trades"] if t["action"] == "buy"} & {"VTI", "VTSAX"}

    # Dated after the windows close, the blocks have lifted.
    later = tmp_path / "later.yaml"
    run(invoke, "holdings", "--db", journal_db, "--as-of", "2026-12-07", "-o", later)
    third = int(run(invoke, "propose", next_scenario(later, tmp_path / "later-next.yaml"), "--db", journal_db).strip())
    lifted = plan_of(invoke, journal_db, third)["result"]["wash_sale"]["blocked"]
    assert not [b for b in lifted if b["group"] in ("us_total", "BND") and "2026-11-03" in b["reason"]]

    listed = json.loads(run(invoke, "proposals", "--db", journal_db, "--json"))["proposals"]
    assert [(p["id"], p["status"]) for p in listed] == [(first, "recorded"), (second, "proposed"), (third, "proposed")]
