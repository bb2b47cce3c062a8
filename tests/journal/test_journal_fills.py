"""The fills file and what a recording does with it: lots taken in the plan's order across batches, other
prices, the lots column, figures computed by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rebal_opt.journal.fills import FillsError, parse_fills
from rebal_opt.journal.planning import read_scenario
from rebal_opt.journal.record import assign_lots, record_change
from rebal_opt.journal.store import Event, Fill, Proposal, ProposalDraft, parse_lots_text
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import LotSale, Trade

DATA = Path(__file__).parent.parent / "data" / "journal"
DAY = dt.date(2026, 11, 3)
HEADER = "account,action,security,shares,price,date\n"


def test_a_fills_file_is_read_with_optional_commission_and_lots() -> None:
    text = (
        "Account,Action,Security,Shares,Price,Date,Commission,Lots\n"
        "brokerage,SELL,VTI,30,99.5,2026-11-03,4.95,a:10;b:20\n\n"
    )
    (fill,) = parse_fills(text, "f.csv")
    assert fill == Fill(2, "brokerage", "sell", "VTI", 30.0, 99.5, DAY, 4.95, (("a", 10.0), ("b", 20.0)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "f.csv: empty file"),
        ("account,action,security,shares,price\n", "f.csv: line 1: missing column date"),
        (HEADER.replace("price", "prise"), "unknown column 'prise' (did you mean 'price'?)"),
        (HEADER, "f.csv: no fills"),
        (HEADER + "brokerage,hold,VTI,1,1,2026-11-03\n", "line 2, column action: 'hold' must be buy or sell"),
        (HEADER + "brokerage,buy,VTI,-1,1,2026-11-03\n", "line 2, column shares: -1 must be more than 0"),
        (HEADER + "brokerage,buy,VTI,1,1,11/03/2026\n", "line 2, column date: '11/03/2026' must be a date"),
        (HEADER + ",buy,VTI,1,1,2026-11-03\n", "line 2, column account: empty"),
        (HEADER + "brokerage,buy,VTI,1,1,2026-11-03,extra\n", "line 2: more cells than columns"),
        (
            HEADER.strip() + ",lots\nbrokerage,sell,VTI,5,1,2026-11-03,a:3\n",
            "the lots' shares must be positive and add",
        ),
        (HEADER.strip() + ",lots\nbrokerage,sell,VTI,5,1,2026-11-03,a-3\n", "'a-3' is not LOT:SHARES"),
    ],
)
def test_every_problem_names_the_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(FillsError) as caught:
        parse_fills(text, "f.csv")
    assert any(message in p for p in caught.value.problems), caught.value.problems


def _sale(lots: list[tuple[str, float]]) -> Trade:
    shares = sum(n for _, n in lots)
    return Trade(
        account="brokerage",
        security="VTI",
        action="sell",
        shares=shares,
        price=100.0,
        amount=shares * 100.0,
        lots=[LotSale(lot=lot, shares=n, cost_basis=0.0, gain=0.0, term="long") for lot, n in lots],
    )


def test_partial_fills_take_the_plans_lots_in_order_across_batches() -> None:
    scenario = load_scenario(DATA / "household.yaml")
    plan = [_sale([("vti-loss", 100.0), ("vti-gain", 50.0)])]
    first = assign_lots([Fill(2, "brokerage", "sell", "VTI", 60.0, 99.0, DAY)], scenario, plan, [], "f.csv")
    assert first[0].lots == (("vti-loss", 60.0),)
    second = assign_lots([Fill(2, "brokerage", "sell", "VTI", 70.0, 98.0, DAY)], scenario, plan, first, "f.csv")
    assert second[0].lots == (("vti-loss", 40.0), ("vti-gain", 30.0))
    with pytest.raises(FillsError, match="have only 20 left; name the lots it took"):
        assign_lots([Fill(3, "brokerage", "sell", "VTI", 30.0, 98.0, DAY)], scenario, plan, [*first, *second], "f.csv")
    named = Fill(4, "brokerage", "sell", "VTI", 30.0, 98.0, DAY, lots=(("vti-gain", 30.0),))
    assert assign_lots([named], scenario, plan, [*first, *second], "f.csv") == [named]


def test_a_recording_in_two_batches_at_other_prices(household_draft: ProposalDraft) -> None:
    """The plan sells the 100-share loss lot (basis 120) and buys 111 BND and 68 ITOT at 100 / 70 / 40.
    Batch 1: 40 VTI at 99.00 and 50 BND at 70.50 on 11-03; batch 2: 60 VTI at 98.00 on 11-04.
    By hand: realized long-term 40 × (99 − 120) = −840, then 60 × (98 − 120) = −1,320; cash 500 + 3,960
    − 3,525 = 935 after batch 1, + 5,880 = 6,815 after batch 2; realized_ytd −2,160."""
    proposal = Proposal(**household_draft.__dict__, id=7)
    batch1 = parse_fills(
        HEADER + "brokerage,sell,VTI,40,99.00,2026-11-03\nbrokerage,buy,BND,50,70.50,2026-11-03\n", "1.csv"
    )
    change1 = record_change(proposal, batch1, "1.csv")
    assert change1.detail["realized"] == {"short_term": 0.0, "long_term": -840.0}
    assert [f.lots for f in change1.fills] == [(("vti-loss", 40.0),), ()]
    assert change1.holdings_text is not None
    after1 = read_scenario(change1.holdings_text, "1")
    assert after1.account("brokerage").cash == pytest.approx(935.0)
    event = Event(
        1,
        7,
        "recorded",
        dt.datetime.now(dt.UTC),
        "t",
        None,
        change1.detail,
        change1.holdings_text,
        change1.holdings_as_of,
        tuple(change1.fills),
    )
    proposal = Proposal(**{**household_draft.__dict__, "id": 7, "events": (event,)})  # type: ignore[arg-type]
    batch2 = parse_fills(HEADER + "brokerage,sell,VTI,60,98.00,2026-11-04\n", "2.csv")
    change2 = record_change(proposal, batch2, "2.csv")
    assert change2.detail["realized"] == {"short_term": 0.0, "long_term": -1320.0}
    assert change2.holdings_text is not None
    after2 = read_scenario(change2.holdings_text, "2")
    assert after2.account("brokerage").cash == pytest.approx(6815.0)
    assert after2.tax.realized_ytd.long_term == pytest.approx(-2160.0)
    assert "vti-loss" not in {lot.id for lot in after2.account("brokerage").lots}
    states = {(r["security"], r["action"]): r["state"] for r in change2.detail["trades"]}
    assert states == {("VTI", "sell"): "filled", ("BND", "buy"): "partial", ("ITOT", "buy"): "not filled"}


def test_lots_text_round_trip() -> None:
    fill = Fill(1, "a", "sell", "X", 3.5, 1.0, DAY, lots=(("B1", 1.25), ("B:2", 2.25)))
    assert parse_lots_text(fill.lots_text()) == fill.lots
