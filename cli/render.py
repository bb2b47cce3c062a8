"""Terminal rendering with rich tables. Formatting only: no tax or optimization logic here."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rebal_opt.models.report import CheckReport
from rebal_opt.models.result import Result, UnwindResult

if TYPE_CHECKING:
    from rebal_opt.solver.frontier import Frontier
    from rebal_opt.solver.whatif import VariantOutcome


def console() -> Console:
    # Tables go to stdout; width fixed when not a terminal so output is stable in pipes and tests.
    return Console(soft_wrap=False, width=None if Console().is_terminal else 120, highlight=False)


def pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def money(x: float) -> str:
    return f"{x:,.2f}"


def signed_pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def print_check(report: CheckReport) -> None:
    out = console()
    out.print(f"[bold]{report.scenario}[/bold] as of {report.as_of}: household value {money(report.total_value)}")
    table = Table(show_lines=False)
    for header in ("asset class", "target", "weight", "drift", "band", "status"):
        table.add_column(header, justify="left" if header in ("asset class", "status") else "right")
    for name, c in report.classes.items():
        status = "in band" if c.in_band else "[bold red]OUT OF BAND[/bold red]"
        if not c.held and c.target > 0:
            status += " (no security)"
        table.add_row(name, pct(c.target), pct(c.weight), signed_pct(c.drift), f"{pct(c.low)} – {pct(c.high)}", status)
    out.print(table)
    label = "tracking error" if report.tracking == "quadratic" else "sum of |drift|"
    out.print(f"{label}: {pct(report.tracking_error)}")
    if report.rebalance_due:
        out.print("[bold]rebalance due[/bold]:")
        for reason in report.reasons:
            out.print(f"  - {reason}")
    else:
        out.print("no rebalance due: every class is inside its band")
    for note in report.notes:
        out.print(f"note: {note}")


def trades_csv(result: Result) -> str:
    """One row per trade and lot (a trade without lots is one row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
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
        ]
    )
    for t in result.trades:
        common = [
            t.account,
            t.security,
            t.action,
            f"{t.shares:g}",
            f"{t.price:.4f}",
            f"{t.amount:.2f}",
            f"{t.cost:.2f}",
        ]
        if t.lots:
            for lot in t.lots:
                writer.writerow(
                    [
                        *common,
                        lot.lot,
                        f"{lot.shares:g}",
                        f"{lot.cost_basis:.2f}",
                        f"{lot.gain:.2f}",
                        lot.term,
                        t.reason or "",
                    ]
                )
        else:
            writer.writerow([*common, "", "", "", "", "", t.reason or ""])
    return buffer.getvalue()


def print_result(result: Result) -> None:
    out = console()
    out.print(
        f"[bold]{result.scenario}[/bold]: {result.status.replace('_', ' ')}"
        + (
            f" (gap {result.solver.mip_gap:.4%})"
            if result.status == "time_limit" and result.solver.mip_gap is not None
            else ""
        )
    )
    table = Table(title="allocation")
    for header in ("asset class", "target", "band", "before", "after", ""):
        table.add_column(header, justify="left" if header in ("asset class", "") else "right")
    for name, c in result.allocation.items():
        flag = "" if c.in_band_after else "[bold red]out of band[/bold red]"
        before = pct(c.before) if c.in_band_before else f"[red]{pct(c.before)}[/red]"
        table.add_row(name, pct(c.target), f"{pct(c.low)} – {pct(c.high)}", before, pct(c.after), flag)
    out.print(table)
    if result.trades:
        with_reasons = any(t.reason for t in result.trades)
        trades = Table(title="trades")
        headers = ["account", "action", "security", "shares", "price", "amount", "lots (shares, gain, term)"]
        for header in [*headers, *(["reason"] if with_reasons else [])]:
            trades.add_column(header, justify="right" if header in ("shares", "price", "amount") else "left")
        for t in result.trades:
            lots = ", ".join(f"{lot.lot} ({lot.shares:g}, {money(lot.gain)}, {lot.term})" for lot in t.lots or [])
            row = [t.account, t.action, t.security, f"{t.shares:g}", money(t.price), money(t.amount), lots]
            trades.add_row(*row, *([t.reason or ""] if with_reasons else []))
        out.print(trades)
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
    if result.yearend is not None:
        y = result.yearend
        table = Table(title="year-end")
        for header in ("", "without the plan", "with the plan"):
            table.add_column(header, justify="left" if not header else "right")
        table.add_row(
            "net realized this year",
            money(y.net_realized_this_year.without_plan),
            money(y.net_realized_this_year.with_plan),
        )
        table.add_row("tax this year", money(y.tax_this_year.without_plan), money(y.tax_this_year.with_plan))
        cf = y.carryforward_next_year
        table.add_row("carryforward, short-term", money(cf.short_term.without_plan), money(cf.short_term.with_plan))
        table.add_row("carryforward, long-term", money(cf.long_term.without_plan), money(cf.long_term.with_plan))
        table.add_row("tax next year (expected)", money(y.tax_next_year.without_plan), money(y.tax_next_year.with_plan))
        out.print(table)
    for v in result.band_violations:
        out.print(
            f"[yellow]outside its band[/yellow]: {v.asset_class} at {pct(v.after)} "
            f"({pct(v.low)} – {pct(v.high)}): {v.reason}"
        )
    for b in result.wash_sale.blocked:
        what = "selling at a loss" if b.action == "sell_at_loss" else "buying"
        out.print(
            f"wash sale: {what} in group {b.group} ({', '.join(b.securities)}) blocked until {b.until}: {b.reason}"
        )
    for note in result.notes:
        out.print(f"note: {note}")
    s = result.solver
    gap = f"gap {0 if s.mip_gap is None else s.mip_gap:.2e}"
    if s.gap_dollars is not None:
        gap += f" (${s.gap_dollars:,.2f})"
    out.print(
        f"[dim]solver: {s.status}, {s.seconds:.2f} s ({s.solves} solves; build {s.build_seconds or 0:.2f} s, "
        f"HiGHS {s.solve_seconds or 0:.2f} s), {gap}; verified: {'yes' if result.verified else 'no'}[/dim]"
    )


def print_variants(outcomes: list[VariantOutcome]) -> None:
    out = console()
    table = Table(title="what if")
    for header in (
        "variant",
        "overrides",
        "status",
        "tax due to trades",
        "tracking error after",
        "trades",
        "turnover",
        "out of band",
    ):
        table.add_column(
            header,
            justify="right"
            if header in ("tax due to trades", "tracking error after", "trades", "turnover")
            else "left",
        )
    for o in outcomes:
        overrides = escape(", ".join(f"{k}={v}" for k, v in o.overrides.items())) or "—"
        if o.result is None:
            table.add_row(escape(o.name), overrides, "[red]infeasible[/red]", "", "", "", "", escape(o.message))
            continue
        r = o.result
        outside = ", ".join(v.asset_class for v in r.band_violations) or "none"
        table.add_row(
            o.name,
            overrides,
            r.status.replace("_", " "),
            money(r.tax.due_to_trades),
            pct(r.tracking_error.after),
            str(len(r.trades)),
            pct(o.turnover),
            outside,
        )
    out.print(table)


def unwind_csv(result: UnwindResult) -> str:
    """One row per period and lot sold or gifted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["period", "start", "tax_year", "action", "account", "lot", "shares", "price", "gain", "term", "weight_after"]
    )
    for p in result.periods:
        for s in p.sold:
            writer.writerow(
                [
                    p.period,
                    p.start,
                    p.tax_year,
                    "sell",
                    s.account,
                    s.lot,
                    f"{s.shares:g}",
                    f"{s.price:.4f}",
                    f"{s.gain:.2f}",
                    s.term,
                    f"{p.weight_after:.6f}",
                ]
            )
        for g in p.gifted:
            writer.writerow(
                [
                    p.period,
                    p.start,
                    p.tax_year,
                    "gift",
                    g.account,
                    g.lot,
                    f"{g.shares:g}",
                    "",
                    "0.00",
                    "",
                    f"{p.weight_after:.6f}",
                ]
            )
    return buffer.getvalue()


def print_unwind(result: UnwindResult) -> None:
    out = console()
    out.print(f"[bold]{escape(result.scenario)}[/bold]: unwind of {escape(result.security)} — {result.status}")
    table = Table(title="schedule")
    for header in (
        "period",
        "start",
        "tax year",
        "sold",
        "lots",
        "gifted",
        "short-term",
        "long-term",
        "year's tax without",
        "with",
        "weight after",
    ):
        table.add_column(header, justify="left" if header in ("start", "lots") else "right")
    for p in result.periods:
        lots = ", ".join(f"{escape(s.lot)} ({s.shares:g})" for s in p.sold)
        table.add_row(
            str(p.period),
            str(p.start),
            str(p.tax_year),
            f"{sum(s.shares for s in p.sold):g}",
            lots,
            f"{sum(g.shares for g in p.gifted):g}",
            money(p.realized.short_term),
            money(p.realized.long_term),
            money(p.tax.without_plan),
            money(p.tax.with_plan),
            pct(p.weight_after),
        )
    out.print(table)
    totals = Table(title="taxes caused by the plan")
    for header in ("", "tax due", "present value", "shares sold", "gifted"):
        totals.add_column(header, justify="left" if not header else "right")
    t = result.totals
    totals.add_row(
        "this plan", money(t.tax_due_to_plan), money(t.present_value), f"{t.shares_sold:g}", f"{t.shares_gifted:g}"
    )
    for name, b in result.baselines.items():
        totals.add_row(
            name.replace("_", " "),
            money(b.tax_due_to_plan),
            money(b.present_value),
            f"{b.shares_sold:g}",
            f"{b.shares_gifted:g}",
        )
    out.print(totals)
    for s in result.price_scenarios:
        out.print(
            f"if prices follow {escape(s.name)}: tax due {money(s.tax_due_to_plan)} (present value "
            f"{money(s.present_value)}), weight at the end {pct(s.weight_after)}"
        )
    for note in result.notes:
        out.print(f"note: {note}")
    info = result.solver
    out.print(
        f"[dim]solver: {info.status}, {info.seconds:.2f} s (build {info.build_seconds or 0:.2f} s, HiGHS "
        f"{info.solve_seconds or 0:.2f} s), gap {0 if info.mip_gap is None else info.mip_gap:.2e}; every "
        f"period verified: {'yes' if result.verified else 'no'}[/dim]"
    )


def print_frontier(curve: Frontier) -> None:
    out = console()
    table = Table(title=f"{escape(curve.scenario)}: tax against tracking error")
    headers = ("tax weight", "tax due to trades", "costs", "tracking error after", "trades", "gap ($)", "settled by")
    for header in headers:
        table.add_column(header, justify="right")
    for p in curve.points:
        r = p.result
        gap = r.solver.gap_dollars
        table.add_row(
            f"{p.tax_weight:g}",
            money(r.tax.due_to_trades),
            money(r.costs),
            pct(p.tracking_error),
            str(len(r.trades)),
            "" if gap is None else money(gap),
            "a solve" if r.solver.solves else "bounds",
        )
    out.print(table)
    for note in curve.notes:
        out.print(f"note: {note}")
    out.print(
        f"[dim]{curve.solves} solves for {len(curve.points)} points, {curve.seconds:.2f} s; every plan verified. "
        "'bounds': the weights' neighbours prove its plan within the gap without a solve (see docs/frontier.md)[/dim]"
    )


def _save_figure(fig: object, path: str) -> None:
    """Write a matplotlib figure next to `path` and rename it into place (no half-written file)."""
    import matplotlib.pyplot as plt

    with tempfile.NamedTemporaryFile(suffix=".png", dir=os.path.dirname(os.path.abspath(path)), delete=False) as tmp:
        fig.savefig(tmp.name, dpi=110)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    os.replace(tmp.name, path)


def plot_frontier(curve: Frontier, path: str) -> None:
    """Tax due to the trades against the tracking error left, one marker per point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    xs = [p.tracking_error * 100 for p in curve.points]
    ys = [p.result.tax.due_to_trades for p in curve.points]
    ax.plot(xs, ys, marker="o", color="tab:blue")
    for p, x, y in zip(curve.points, xs, ys, strict=True):
        ax.annotate(f"{p.tax_weight:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("tracking error after the trades (%)")
    ax.set_ylabel("tax due to the trades ($)")
    ax.set_title(f"{curve.scenario}: the tax / tracking-error frontier (labels: tax weight)")
    _save_figure(fig, path)


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
