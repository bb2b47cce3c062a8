"""Rendering: terminal tables (rich), CSV, JSON text and plots. Formatting only: no tax or optimization
logic here.

Tables are laid out to stay readable at 80 columns: numbers never wrap and are never cut (their
columns are `no_wrap`, with headers split over lines by hand), and only text columns (names, lots,
reasons) wrap, folding a long word rather than cutting it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from rebal_opt.models.report import CheckReport
from rebal_opt.models.result import Result, Trade, UnwindResult

from .files import replacing

if TYPE_CHECKING:
    from rebal_opt.solver.frontier import Frontier
    from rebal_opt.solver.whatif import VariantOutcome

SHARE_DECIMALS = 6
"""Shares are shown with as many decimals as the plan has, up to this many (the plan's own precision)."""
JSON_DECIMALS = 10
"""Floats in JSON output are rounded to this many decimals: weights lose their float noise
(0.35000000000000003 -> 0.35), and the verifier's tolerances (1e-6) are far coarser."""


def console(out: Console | None = None) -> Console:
    # Tables go to stdout at the terminal's width (or $COLUMNS); in a pipe without $COLUMNS, 120 columns,
    # so that output is stable. Tests pass their own console (e.g. width 80).
    if out is not None:
        return out
    width = None if Console().is_terminal or os.environ.get("COLUMNS", "").isdigit() else 120
    return Console(soft_wrap=False, width=width, highlight=False)


# --- numbers -------------------------------------------------------------------------------------


def _no_negative_zero(x: float, decimals: int) -> float:
    # -0.0000001 would print as "-0.00": a sign on nothing
    return 0.0 if round(x, decimals) == 0 else x


def pct(x: float) -> str:
    return f"{_no_negative_zero(x * 100, 2):.2f}%"


def money(x: float) -> str:
    return f"{_no_negative_zero(x, 2):,.2f}"


def signed_pct(x: float) -> str:
    return f"{_no_negative_zero(x * 100, 2):+.2f}%"


def price_text(x: float) -> str:
    """A price as given: at least cents, and every further decimal it has (123.457 stays 123.457, so
    that shares × the price shown is the amount shown)."""
    text = f"{x:,.{SHARE_DECIMALS}f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def shares_text(x: float, grouping: bool = True) -> str:
    """1107.883322 -> '1,107.883322', 684.0 -> '684': every decimal the plan has, none it has not."""
    text = f"{x:,.{SHARE_DECIMALS}f}" if grouping else f"{x:.{SHARE_DECIMALS}f}"
    text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def cents(x: float) -> str:
    """Money in a CSV cell: cents, no grouping."""
    return f"{x:.2f}"


def _split_cents(total: float, parts: Sequence[float]) -> list[float]:
    """`total` (dollars, to the cent) split in proportion to `parts`, to the cent, adding up exactly
    (largest remainder): each share is within a cent of its exact proportion."""
    total_cents = round(total * 100)
    weight = sum(parts)
    if not parts:
        return []
    if weight <= 0:
        return [total_cents / 100 if i == 0 else 0.0 for i in range(len(parts))]
    exact = [total_cents * p / weight for p in parts]
    floors = [math.floor(e) for e in exact]
    order = sorted(range(len(parts)), key=lambda i: floors[i] - exact[i])
    for i in order[: total_cents - sum(floors)]:
        floors[i] += 1
    return [f / 100 for f in floors]


@dataclass(frozen=True)
class TradeLine:
    """One line of a trade as a broker books it: a lot sold (or the whole trade when it has no lots),
    with its own shares, and its part of the trade's amount and cost."""

    trade: Trade
    number: int
    shares: float
    amount: float
    cost: float
    lot: str = ""
    acquired: str = ""
    cost_basis: float | None = None
    gain: float | None = None
    term: str = ""


def trade_lines(trades: Iterable[Trade]) -> list[TradeLine]:
    """Every trade's lines. A sale's amount and cost are split over its lots in proportion to their
    shares, to the cent, so that the lines of a trade add up to exactly the trade's amount and cost."""
    lines: list[TradeLine] = []
    for number, t in enumerate(trades, start=1):
        if not t.lots:
            lines.append(TradeLine(t, number, t.shares, t.amount, t.cost))
            continue
        weights = [lot.shares for lot in t.lots]
        amounts = _split_cents(t.amount, weights)
        costs = _split_cents(t.cost, weights)
        for lot, amount, cost in zip(t.lots, amounts, costs, strict=True):
            acquired = "" if lot.acquired is None else lot.acquired.isoformat()
            lines.append(
                TradeLine(t, number, lot.shares, amount, cost, lot.lot, acquired, lot.cost_basis, lot.gain, lot.term)
            )
    return lines


# --- JSON ----------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, JSON_DECIMALS) if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_text(payload: Any) -> str:
    """One JSON document; floats without binary noise (money is already in cents: models.result)."""
    return json.dumps(_clean(payload), indent=2, default=str)


# --- tables --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    header: str
    numeric: bool = True


def table(title: str | None, columns: Sequence[Col]) -> Table:
    """A compact table: numbers right-aligned and never wrapped or cut; text wraps (folding long words)."""
    t = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for c in columns:
        if c.numeric:
            t.add_column(c.header, justify="right", no_wrap=True)
        else:
            t.add_column(c.header, justify="left", overflow="fold")
    return t


def show(out: Console, t: Table) -> None:
    """Print a table. Text columns fold and numeric ones never wrap, so an ellipsis means rich had to cut
    a number (amounts near the scenario's limits at 80 columns): then print the table as wide as its
    narrowest layout instead, and let the terminal wrap the line."""
    with out.capture() as capture:
        out.print(t)
    if "…" not in capture.get():
        out.print(t)
        return
    width = out.width
    out.width = max(width, Measurement.get(out, out.options.update_width(10_000), t).minimum)
    try:
        out.print(t)
    finally:
        out.width = width


def print_check(report: CheckReport, out: Console | None = None) -> None:
    out = console(out)
    out.print(f"[bold]{report.scenario}[/bold] as of {report.as_of}: household value {money(report.total_value)}")
    t = table(
        None,
        [Col("asset class", False), Col("target"), Col("weight"), Col("drift"), Col("band"), Col("status", False)],
    )
    for name, c in report.classes.items():
        status = "in band" if c.in_band else "[bold red]OUT OF BAND[/bold red]"
        if not c.held and c.target > 0:
            status += " (no security)"
        t.add_row(escape(name), pct(c.target), pct(c.weight), signed_pct(c.drift), band(c.low, c.high), status)
    show(out, t)
    label = "tracking error" if report.tracking == "quadratic" else "sum of |drift|"
    out.print(f"{label}: {pct(report.tracking_error)}")
    if report.rebalance_due:
        out.print("[bold]rebalance due[/bold]:")
        for reason in report.reasons:
            out.print(f"  - {escape(reason)}")
    else:
        out.print("no rebalance due: every class is inside its band")
    for note in report.notes:
        out.print(f"note: {escape(note)}")


def band(low: float, high: float) -> str:
    return f"{pct(low)} – {pct(high)}"


TRADES_CSV_COLUMNS = (
    # the original columns, in their order (other tools read them) ...
    "account",
    "security",
    "action",
    "shares",
    "price",
    "amount",
    "cost",
    "lot",
    "lot_shares",
    "cost_basis",
    "gain",
    "term",
    "reason",
    # ... and the newer ones
    "acquired",
    "trade",
    "trade_shares",
    "trade_amount",
    "trade_cost",
)


def trades_csv(result: Result) -> str:
    """One row per lot line (a trade without lots is one row): the line's own shares, amount and cost,
    which add up to the trade's; the trade's figures repeat in the trade_* columns (docs/solve.md)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRADES_CSV_COLUMNS)
    for line in trade_lines(result.trades):
        t = line.trade
        writer.writerow(
            [
                t.account,
                t.security,
                t.action,
                shares_text(line.shares, grouping=False),
                repr(t.price),
                cents(line.amount),
                cents(line.cost),
                line.lot,
                shares_text(line.shares, grouping=False) if line.lot else "",
                "" if line.cost_basis is None else cents(line.cost_basis),
                "" if line.gain is None else cents(line.gain),
                line.term,
                t.reason or "",
                line.acquired,
                line.number,
                shares_text(t.shares, grouping=False),
                cents(t.amount),
                cents(t.cost),
            ]
        )
    return buffer.getvalue()


def print_trades(trades: Sequence[Trade], out: Console) -> None:
    """One table per account: a row per trade (with its reason, when the plan gives reasons), and under
    a sale a row per lot: its acquisition date, shares, part of the trade's amount, gain and term."""
    with_reasons = any(t.reason for t in trades)
    lines = trade_lines(trades)
    for account in dict.fromkeys(t.account for t in trades):
        columns = [Col("trade / lot", False), Col("acquired"), Col("shares"), Col("price"), Col("amount")]
        columns += [Col("gain"), Col("term / reason" if with_reasons else "term", False)]
        t = table(f"trades in {escape(account)}", columns)
        for trade in (x for x in trades if x.account == account):
            gain = "" if not trade.lots else money(sum(lot.gain for lot in trade.lots))
            what = f"{trade.action} {escape(trade.security)}"
            row = [what, "", shares_text(trade.shares), price_text(trade.price), money(trade.amount), gain]
            t.add_row(*row, escape(trade.reason or ""))
            for line in (x for x in lines if x.trade is trade and x.lot):
                gain = "" if line.gain is None else money(line.gain)
                row = [f"· {escape(line.lot)}", line.acquired, shares_text(line.shares), "", money(line.amount)]
                t.add_row(*row, gain, line.term)
        show(out, t)


def print_result(result: Result, out: Console | None = None) -> None:
    out = console(out)
    out.print(
        f"[bold]{escape(result.scenario)}[/bold]: {result.status.replace('_', ' ')}"
        + (
            f" (gap {result.solver.mip_gap:.4%})"
            if result.status == "time_limit" and result.solver.mip_gap is not None
            else ""
        )
    )
    t = table(
        "allocation",
        [Col("asset class", False), Col("target"), Col("band"), Col("before"), Col("after"), Col("", False)],
    )
    for name, c in result.allocation.items():
        flag = "" if c.in_band_after else "[bold red]out of band[/bold red]"
        before = pct(c.before) if c.in_band_before else f"[red]{pct(c.before)}[/red]"
        t.add_row(escape(name), pct(c.target), band(c.low, c.high), before, pct(c.after), flag)
    show(out, t)
    if result.trades:
        print_trades(result.trades, out)
    else:
        out.print("no trades")
    r = result.realized
    out.print(f"realized: short-term {money(r.short_term)}, long-term {money(r.long_term)}")
    out.print(
        f"tax for the year: {money(result.tax.without_trades)} without the trades, "
        f"{money(result.tax.with_trades)} with them: {money(result.tax.due_to_trades)} due to the trades"
    )
    out.print(
        f"tracking error: {pct(result.tracking_error.before)} before, {pct(result.tracking_error.after)} after; "
        f"trading costs {money(result.costs)}"
    )
    if result.location is not None:
        loc = result.location
        accounts = "; ".join(f"{escape(a)} {money(v.before)} → {money(v.after)}" for a, v in loc.by_account.items())
        out.print(
            f"holding cost (rules.location): {money(loc.before)} a year before, {money(loc.after)} after "
            f"({accounts}); worth {money(loc.present_value)} over {loc.horizon_years:g} years"
        )
    if result.yearend is not None:
        y = result.yearend
        t = table("year-end", [Col("", False), Col("without\nthe plan"), Col("with\nthe plan")])
        t.add_row(
            "net realized this year",
            money(y.net_realized_this_year.without_plan),
            money(y.net_realized_this_year.with_plan),
        )
        t.add_row("tax this year", money(y.tax_this_year.without_plan), money(y.tax_this_year.with_plan))
        cf = y.carryforward_next_year
        t.add_row("carryforward, short-term", money(cf.short_term.without_plan), money(cf.short_term.with_plan))
        t.add_row("carryforward, long-term", money(cf.long_term.without_plan), money(cf.long_term.with_plan))
        t.add_row("tax next year (expected)", money(y.tax_next_year.without_plan), money(y.tax_next_year.with_plan))
        show(out, t)
    for v in result.band_violations:
        out.print(
            f"[yellow]outside its band[/yellow]: {escape(v.asset_class)} at {pct(v.after)} "
            f"({band(v.low, v.high)}): {escape(v.reason)}"
        )
    for b in result.wash_sale.blocked:
        what = "selling at a loss" if b.action == "sell_at_loss" else "buying"
        out.print(
            f"wash sale: {what} in group {escape(b.group)} ({escape(', '.join(b.securities))}) blocked until "
            f"{b.until}: {escape(b.reason)}"
        )
    for note in result.notes:
        out.print(f"note: {escape(note)}")
    s = result.solver
    gap = f"gap {0 if s.mip_gap is None else s.mip_gap:.2e}"
    if s.gap_dollars is not None:
        gap += f" (${s.gap_dollars:,.2f})"
    if s.time:
        spent = ", ".join(
            f"{escape(t.step)} {t.seconds:.2f} s" + (f" ({escape(t.detail)})" if t.detail else "") for t in s.time
        )
    else:
        spent = f"build {s.build_seconds or 0:.2f} s, HiGHS {s.solve_seconds or 0:.2f} s"
    out.print(
        f"[dim]solver: {s.status}, {s.seconds:.2f} s ({s.solves} solve{'' if s.solves == 1 else 's'}; {spent}), {gap}; "
        f"verified: {'yes' if result.verified else 'no'}[/dim]"
    )


def print_variants(outcomes: list[VariantOutcome], out: Console | None = None) -> None:
    """The variants side by side; each variant's overrides are listed under the table."""
    out = console(out)
    t = table(
        "what if",
        [
            Col("variant", False),
            Col("status", False),
            Col("tax due\nto trades"),
            Col("tracking\nerror after"),
            Col("trades"),
            Col("turnover"),
            Col("out of band", False),
        ],
    )
    for o in outcomes:
        if o.result is None:
            t.add_row(escape(o.name), f"[red]{o.status.replace('_', ' ')}[/red]", "", "", "", "", escape(o.message))
            continue
        r = o.result
        outside = ", ".join(v.asset_class for v in r.band_violations) or "none"
        t.add_row(
            escape(o.name),
            r.status.replace("_", " "),
            money(r.tax.due_to_trades),
            pct(r.tracking_error.after),
            str(len(r.trades)),
            pct(o.turnover),
            escape(outside),
        )
    show(out, t)
    for o in outcomes:
        overrides = ", ".join(f"{k}={v}" for k, v in o.overrides.items()) or "none (the scenario as written)"
        out.print(f"{escape(o.name)}: {escape(overrides)}")


def unwind_csv(result: UnwindResult) -> str:
    """One row per period and lot sold or gifted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["period", "start", "tax_year", "action", "account", "lot", "shares", "price", "gain", "term", "weight_after"]
    )
    for p in result.periods:
        weight = f"{p.weight_after:.6f}"
        for s in p.sold:
            shares = shares_text(s.shares, grouping=False)
            row = [p.period, p.start, p.tax_year, "sell", s.account, s.lot, shares, repr(s.price), cents(s.gain)]
            writer.writerow([*row, s.term, weight])
        for g in p.gifted:
            shares = shares_text(g.shares, grouping=False)
            row = [p.period, p.start, p.tax_year, "gift", g.account, g.lot, shares, "", "0.00"]
            writer.writerow([*row, "", weight])
    return buffer.getvalue()


def print_unwind(result: UnwindResult, out: Console | None = None) -> None:
    out = console(out)
    out.print(f"[bold]{escape(result.scenario)}[/bold]: unwind of {escape(result.security)} — {result.status}")
    gifts = any(p.gifted for p in result.periods)
    columns = [Col("period start / lot", False), Col("sold"), *([Col("gifted")] if gifts else [])]
    columns += [Col("short-term\ngain"), Col("long-term\ngain"), Col("weight\nafter")]
    schedule = table("schedule (the lots under each period)", columns)
    for p in result.periods:
        sold = shares_text(sum(s.shares for s in p.sold))
        gifted = [shares_text(sum(g.shares for g in p.gifted))] if gifts else []
        short, long = money(p.realized.short_term), money(p.realized.long_term)
        schedule.add_row(f"{p.period}: {p.start}", sold, *gifted, short, long, pct(p.weight_after))
        for lot in dict.fromkeys([*(s.lot for s in p.sold), *(g.lot for g in p.gifted)]):
            sales = [s for s in p.sold if s.lot == lot]
            given = [g for g in p.gifted if g.lot == lot]
            cells = [shares_text(sum(s.shares for s in sales)) if sales else ""]
            cells += [shares_text(sum(g.shares for g in given)) if given else ""] if gifts else []
            for term in ("short", "long"):
                gains = [s.gain for s in sales if s.term == term]
                cells.append(money(sum(gains)) if gains else "")
            schedule.add_row(f"· {escape(lot)}", *cells, "")
    show(out, schedule)
    if result.tax_by_year:
        years = table(
            "tax by year",
            [Col("tax year"), Col("without\nthe plan"), Col("with\nthe plan"), Col("due to\nthe plan")],
        )
        for year in sorted(result.tax_by_year):
            y = result.tax_by_year[year]
            years.add_row(str(year), money(y.without_plan), money(y.with_plan), money(y.with_plan - y.without_plan))
        show(out, years)
    totals = table(
        "taxes caused by the plan",
        [Col("", False), Col("tax due"), Col("present\nvalue"), Col("shares\nsold"), Col("gifted")],
    )
    rows = [("this plan", result.totals), *((name.replace("_", " "), b) for name, b in result.baselines.items())]
    for name, b in rows:
        totals.add_row(
            name,
            money(b.tax_due_to_plan),
            money(b.present_value),
            shares_text(b.shares_sold),
            shares_text(b.shares_gifted),
        )
    show(out, totals)
    for s in result.price_scenarios:
        out.print(
            f"if prices follow {escape(s.name)}: tax due {money(s.tax_due_to_plan)} (present value "
            f"{money(s.present_value)}), weight at the end {pct(s.weight_after)}"
        )
    for note in result.notes:
        out.print(f"note: {escape(note)}")
    info = result.solver
    out.print(
        f"[dim]solver: {info.status}, {info.seconds:.2f} s (build {info.build_seconds or 0:.2f} s, HiGHS "
        f"{info.solve_seconds or 0:.2f} s), gap {0 if info.mip_gap is None else info.mip_gap:.2e}; every "
        f"period verified: {'yes' if result.verified else 'no'}[/dim]"
    )


def print_frontier(curve: Frontier, out: Console | None = None) -> None:
    out = console(out)
    t = table(
        f"{escape(curve.scenario)}: tax against tracking error",
        [
            Col("tax\nweight"),
            Col("tax due\nto trades"),
            Col("costs"),
            Col("tracking\nerror after"),
            Col("trades"),
            Col("gap ($)"),
            Col("settled\nby", False),
        ],
    )
    for p in curve.points:
        r = p.result
        gap = r.solver.gap_dollars
        t.add_row(
            f"{p.tax_weight:g}",
            money(r.tax.due_to_trades),
            money(r.costs),
            pct(p.tracking_error),
            str(len(r.trades)),
            "" if gap is None else money(gap),
            "a solve" if r.solver.solves else "bounds",
        )
    show(out, t)
    for note in curve.notes:
        out.print(f"note: {escape(note)}")
    out.print(
        f"[dim]{curve.solves} solves for {len(curve.points)} points, {curve.seconds:.2f} s; every plan verified. "
        "'bounds': the weights' neighbours prove its plan within the gap without a solve (see docs/frontier.md)[/dim]"
    )


# --- plots ---------------------------------------------------------------------------------------


def _save_figure(fig: Any, path: str) -> None:
    """Write a matplotlib figure to `path` in one step; the file type is the path's suffix."""
    import matplotlib.pyplot as plt

    try:
        with replacing(path) as tmp:
            fig.savefig(tmp, dpi=110, format=os.path.splitext(path)[1].lstrip(".").lower() or "png")
    finally:
        plt.close(fig)


@dataclass(frozen=True)
class PointLabel:
    """A label for a run of frontier points that share one plan (same tax and tracking error)."""

    x: float
    y: float
    text: str


def frontier_labels(points: Sequence[tuple[float, float, float]]) -> list[PointLabel]:
    """(tax weight, x, y) points -> one label per distinct (x, y): 'w' or 'w1–w2' for the weights that
    give that plan (neighbouring weights often do)."""
    groups: dict[tuple[float, float], list[float]] = {}
    for w, x, y in points:
        groups.setdefault((round(x, 9), round(y, 6)), []).append(w)
    labels = []
    for (x, y), ws in groups.items():
        lo, hi = min(ws), max(ws)
        labels.append(PointLabel(x, y, f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"))
    return labels


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float], gap: float) -> bool:
    """Two boxes (x0, y0, x1, y1) closer than `gap` on both axes."""
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def place_labels(
    anchors: Sequence[tuple[float, float]], sizes: Sequence[tuple[float, float]], min_gap: float = 2.0
) -> list[bool]:
    """Which labels to draw so that no two overlap: greedy in the given order (in display pixels; a label
    sits to the upper right of its anchor). Skipped points keep their marker."""
    placed: list[tuple[float, float, float, float]] = []
    keep: list[bool] = []
    for (x, y), (w, h) in zip(anchors, sizes, strict=True):
        box_ = (x, y, x + w, y + h)
        clash = any(_overlap(box_, other, min_gap) for other in placed)
        keep.append(not clash)
        if not clash:
            placed.append(box_)
    return keep


def frontier_figure(curve: Frontier) -> Any:
    """Tax due to the trades against the tracking error left, one marker per point; each distinct plan
    labelled with the tax weights that give it, as long as the label does not overlap another."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    xs = [p.tracking_error * 100 for p in curve.points]
    ys = [p.result.tax.due_to_trades for p in curve.points]
    ax.plot(xs, ys, marker="o", color="tab:blue")
    ax.set_xlabel("tracking error after the trades (%)")
    ax.set_ylabel("tax due to the trades ($)")
    ax.set_title(f"{curve.scenario}: the tax / tracking-error frontier (labels: tax weight)")
    labels = frontier_labels([(p.tax_weight, x, y) for p, x, y in zip(curve.points, xs, ys, strict=True)])
    fig.canvas.draw()  # settles the layout and the axes' limits: data coordinates map to pixels now
    renderer = fig.canvas.get_renderer()
    texts = [ax.annotate(lb.text, (lb.x, lb.y), textcoords="offset points", xytext=(4, 4), fontsize=7) for lb in labels]
    boxes = [t.get_window_extent(renderer) for t in texts]
    keep = place_labels([(b.x0, b.y0) for b in boxes], [(b.width, b.height) for b in boxes])
    for text, shown in zip(texts, keep, strict=True):
        text.set_visible(shown)
    return fig


def plot_frontier(curve: Frontier, path: str) -> None:
    """The frontier's figure (frontier_figure) written to `path`."""
    _save_figure(frontier_figure(curve), path)


def plot_unwind(result: UnwindResult, path: str) -> None:
    """The position's weight after each period (line) and the tax the plan causes per year (bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), constrained_layout=True)
    starts = [str(p.start) for p in result.periods]
    top.plot(starts, [p.weight_after * 100 for p in result.periods], marker="o", color="tab:blue")
    top.set_ylabel(f"{result.security}, % of liquid wealth")
    top.set_title(f"{result.scenario}: unwind of {result.security}")
    top.set_ylim(bottom=0)
    top.tick_params(axis="x", labelrotation=45)
    years = sorted(result.tax_by_year)
    due = [result.tax_by_year[y].with_plan - result.tax_by_year[y].without_plan for y in years]
    bottom.bar([str(y) for y in years], due, color="tab:orange")
    bottom.set_ylabel("tax due to the plan ($)")
    bottom.set_xlabel("tax year")
    _save_figure(fig, path)
