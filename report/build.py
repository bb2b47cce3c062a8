"""The report's content, assembled from a scenario and what a planning command made of it.

Everything the page shows is computed here (figures, rows, charts); the template only lays it out.
Kinds: `solve` and `yearend` (a `Result`), `unwind` (an `UnwindResult`) and `frontier` (a `Frontier`,
whose plan at the scenario's own tax weight is shown in full).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from rebal_opt.models.result import ClassAllocation, Result, Trade, UnwindResult, YearEndSummary
from rebal_opt.models.scenario import Scenario, YearEnd
from rebal_opt.solver.check import check as check_scenario
from rebal_opt.solver.execution import ExecutionError, apply_executions, executions_from_plan
from rebal_opt.solver.household import account_values
from rebal_opt.solver.wash import wash_windows
from rebal_opt.solver.yearend import year_end_summary

from . import svg
from .reasons import trade_reason

if TYPE_CHECKING:
    from rebal_opt.journal.store import Proposal
    from rebal_opt.solver.frontier import Frontier

KIND_TITLES = {
    "solve": "Rebalance",
    "yearend": "Year-end tax planning",
    "unwind": "Staged sale (unwind)",
    "frontier": "Tax / tracking-error trade-off",
}


def money(x: float | None) -> str:
    if x is None:
        return "—"
    return f"−${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def pct(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class LotRow:
    lot: str
    shares: str
    basis: str
    gain: str
    term: str
    loss: bool


@dataclass(frozen=True)
class TradeRow:
    account: str
    action: str
    security: str
    shares: str
    price: str
    amount: str
    lots: list[LotRow]
    reason: str


@dataclass(frozen=True)
class ClassRowView:
    name: str
    target: str
    band: str
    before: str
    after: str
    drift: str
    status: str
    out: bool


@dataclass(frozen=True)
class TaxRow:
    label: str
    without: str
    with_plan: str
    due: str


@dataclass(frozen=True)
class WashRow:
    group: str
    securities: str
    blocked: str
    until: str
    reason: str
    new: bool


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    caption: str = ""


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class TrailRow:
    kind: str
    at: str
    by: str
    reason: str


@dataclass(frozen=True)
class Stamp:
    verified: bool
    text: str
    details: list[str]


@dataclass
class ReportView:
    title: str
    household: str
    kind: str
    kind_title: str
    as_of: str
    generated: str
    program_version: str
    stamp: Stamp
    figures: list[Figure]
    allocation_chart: Markup | None
    allocation_rows: list[ClassRowView]
    allocation_after: bool
    trades: list[TradeRow]
    trades_title: str
    tax_rows: list[TaxRow]
    tax_notes: list[str]
    wash_rows: list[WashRow]
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    proposal: dict[str, Any] | None = None
    trail: list[TrailRow] = field(default_factory=list)


def _standing_today(scenario: Scenario) -> dict[str, ClassAllocation]:
    """Each class today (no plan after it), for the reasons of trades whose result has no allocation."""
    return {
        n: ClassAllocation(
            target=c.target,
            before=c.weight,
            after=c.weight,
            low=c.low,
            high=c.high,
            in_band_before=c.in_band,
            in_band_after=c.in_band,
        )
        for n, c in check_scenario(scenario).classes.items()
    }


def _trade_rows(scenario: Scenario, result: Result | None, trades: list[Trade]) -> list[TradeRow]:
    allocation = result.allocation if result is not None else _standing_today(scenario)
    rows = []
    for t in trades:
        lots = [
            LotRow(
                lot.lot,
                f"{lot.shares:,.4g}",
                money(lot.cost_basis),
                money(lot.gain),
                lot.term,
                lot.gain < 0,
            )
            for lot in t.lots or []
        ]
        rows.append(
            TradeRow(
                t.account,
                t.action,
                t.security,
                f"{t.shares:,.6g}",
                money(t.price),
                money(t.amount),
                lots,
                trade_reason(scenario, allocation, t),
            )
        )
    return rows


def _allocation(scenario: Scenario, result: Result | None) -> tuple[Markup, list[ClassRowView], bool]:
    if result is not None and result.allocation:
        rows = [
            svg.ClassRow(n, c.target, c.low, c.high, c.before, c.after, c.in_band_after)
            for n, c in result.allocation.items()
        ]
        views = [
            ClassRowView(
                n,
                pct(c.target),
                f"{pct(c.low)} – {pct(c.high)}",
                pct(c.before),
                pct(c.after),
                f"{(c.after - c.target) * 100:+.2f} pts",
                "in band" if c.in_band_after else "outside its band",
                not c.in_band_after,
            )
            for n, c in result.allocation.items()
        ]
        return svg.allocation_chart(rows), views, True
    report = check_scenario(scenario)
    rows = [svg.ClassRow(n, c.target, c.low, c.high, c.weight, None, c.in_band) for n, c in report.classes.items()]
    views = [
        ClassRowView(
            n,
            pct(c.target),
            f"{pct(c.low)} – {pct(c.high)}",
            pct(c.weight),
            "—",
            f"{c.drift * 100:+.2f} pts",
            "in band" if c.in_band else "outside its band",
            not c.in_band,
        )
        for n, c in report.classes.items()
    ]
    return svg.allocation_chart(rows, "allocation today against the bands"), views, False


def _wash_rows(scenario: Scenario, result: Result | None, trades: list[Trade]) -> list[WashRow]:
    """Blocks in force on as_of, then the ones the plan's own trades start (a loss sale blocks buying the
    group back, a purchase blocks loss sales), each with the day it lifts."""
    rows: list[WashRow] = []
    before = wash_windows(scenario)
    if result is not None:
        for b in result.wash_sale.blocked:
            what = "selling at a loss" if b.action == "sell_at_loss" else "buying"
            rows.append(WashRow(b.group, ", ".join(b.securities), what, str(b.until), b.reason, False))
    else:
        for g, s in before.sale_blocks.items():
            rows.append(WashRow(g, "", "selling at a loss", str(s.until), s.reason(), False))
        for g, b in before.buy_blocks.items():
            rows.append(WashRow(g, "", "buying", str(b.until), b.reason(), False))
    if not trades:
        return rows
    try:
        after = apply_executions(scenario, executions_from_plan(trades, scenario.as_of)).scenario
    except ExecutionError:
        return rows
    windows = wash_windows(after)
    members: dict[str, list[str]] = {}
    for ticker in scenario.securities:
        members.setdefault(scenario.wash_group(ticker), []).append(ticker)
    for g, s in windows.sale_blocks.items():
        old = before.sale_blocks.get(g)
        if old is None or old.until != s.until:
            rows.append(
                WashRow(
                    g,
                    ", ".join(members.get(g, [])),
                    "selling at a loss",
                    str(s.until),
                    f"after the plan: {s.reason()}",
                    True,
                )
            )
    for g, b in windows.buy_blocks.items():
        old_buy = before.buy_blocks.get(g)
        if old_buy is None or old_buy.until != b.until:
            rows.append(
                WashRow(g, ", ".join(members.get(g, [])), "buying", str(b.until), f"after the plan: {b.reason()}", True)
            )
    return rows


def _stamp(verified: bool, info: Any, status: str) -> Stamp:
    details = [f"status {status.replace('_', ' ')}"]
    if info is not None:
        gap = info.mip_gap
        if gap is not None:
            details.append(f"optimality gap {gap:.2e}" + (f" (${info.gap_dollars:,.2f})" if info.gap_dollars else ""))
        details.append(f"{info.seconds:.2f} s, {info.solves} solve{'s' if info.solves != 1 else ''}")
    text = (
        "Checked by the independent verifier: every lot, cash balance, tax figure, band and wash-sale rule "
        "recomputed from the scenario"
        if verified
        else "NOT verified: do not act on this plan"
    )
    return Stamp(verified, text, details)


def _tax_summary(scenario: Scenario, result: Result) -> YearEndSummary:
    """This year's and next year's tax with and without the plan (year-end planning's own figures)."""
    if result.yearend is not None:
        return result.yearend
    if scenario.yearend is None:  # next year's defaults: this year's income, no other gains
        scenario = scenario.model_copy(update={"yearend": YearEnd()})
    return year_end_summary(scenario, result)


def _result_tax(scenario: Scenario, result: Result) -> tuple[list[TaxRow], list[str]]:
    summary = _tax_summary(scenario, result)
    year = scenario.tax_year
    this, nxt = summary.tax_this_year, summary.tax_next_year
    rows = [
        TaxRow(
            f"{year} (this year)",
            money(this.without_plan),
            money(this.with_plan),
            money(this.with_plan - this.without_plan),
        ),
        TaxRow(
            f"{year + 1} (next year, expected)",
            money(nxt.without_plan),
            money(nxt.with_plan),
            money(nxt.with_plan - nxt.without_plan),
        ),
    ]
    cf = summary.carryforward_next_year
    notes = [
        f"Realized by the plan: short-term {money(result.realized.short_term)}, long-term "
        f"{money(result.realized.long_term)}.",
        f"Loss carried into {year + 1}: short-term {money(cf.short_term.with_plan)}, long-term "
        f"{money(cf.long_term.with_plan)} (without the plan {money(cf.short_term.without_plan)} and "
        f"{money(cf.long_term.without_plan)}).",
        "Next year's tax assumes this year's income again unless the scenario's yearend.next_year says otherwise.",
    ]
    return rows, notes


def _household_value(scenario: Scenario) -> float:
    return sum(account_values(scenario).values())


def _base_view(scenario: Scenario, kind: str, program_version: str, stamp: Stamp) -> dict[str, Any]:
    return {
        "title": f"{KIND_TITLES[kind]} — {scenario.label}",
        "household": scenario.label,
        "kind": kind,
        "kind_title": KIND_TITLES[kind],
        "as_of": scenario.as_of.isoformat(),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "program_version": program_version,
        "stamp": stamp,
    }


def _result_view(scenario: Scenario, kind: str, result: Result, program_version: str) -> ReportView:
    chart, rows, after = _allocation(scenario, result)
    tax_rows, tax_notes = _result_tax(scenario, result)
    summary = _tax_summary(scenario, result)
    next_due = summary.tax_next_year.with_plan - summary.tax_next_year.without_plan
    figures = [
        Figure("Household value", money(_household_value(scenario)), f"as of {scenario.as_of}"),
        Figure("Tax due to the trades", money(result.tax.due_to_trades), f"{scenario.tax_year}"),
        Figure("Tax effect next year", money(next_due), f"{scenario.tax_year + 1}, expected"),
        Figure(
            "Tracking error",
            f"{pct(result.tracking_error.before)} → {pct(result.tracking_error.after)}",
            "before → after",
        ),
        Figure("Trades", str(len(result.trades)), f"costs {money(result.costs)}"),
    ]
    view = ReportView(
        **_base_view(scenario, kind, program_version, _stamp(result.verified, result.solver, result.status)),
        figures=figures,
        allocation_chart=chart,
        allocation_rows=rows,
        allocation_after=after,
        trades=_trade_rows(scenario, result, result.trades),
        trades_title="Trades",
        tax_rows=tax_rows,
        tax_notes=tax_notes,
        wash_rows=_wash_rows(scenario, result, result.trades),
        notes=[*(f"{v.asset_class} stays outside its band: {v.reason}" for v in result.band_violations), *result.notes],
    )
    if kind == "yearend" and result.yearend is not None:
        y = result.yearend
        view.charts.append(
            Chart(
                "Tax this year and next, with and without the plan",
                svg.bar_chart(
                    [f"{scenario.tax_year}", f"{scenario.tax_year + 1} (expected)"],
                    [
                        svg.Series(
                            "without the plan",
                            [y.tax_this_year.without_plan, y.tax_next_year.without_plan],
                            "s-without",
                        ),
                        svg.Series("with the plan", [y.tax_this_year.with_plan, y.tax_next_year.with_plan], "s-with"),
                    ],
                    "tax this year and next with and without the plan",
                ),
                f"Net realized this year: {money(y.net_realized_this_year.without_plan)} without the plan, "
                f"{money(y.net_realized_this_year.with_plan)} with it.",
            )
        )
    return view


def _unwind_view(scenario: Scenario, result: UnwindResult, program_version: str) -> ReportView:
    from rebal_opt.journal.planning import unwind_period_tax

    chart, rows, after = _allocation(scenario, None)
    first = result.periods[0] if result.periods else None
    trades = first.trades if first is not None else []
    years = sorted(result.tax_by_year)
    tax_rows = [
        TaxRow(
            f"{y}" + (" (this year)" if y == scenario.tax_year else ""),
            money(result.tax_by_year[y].without_plan),
            money(result.tax_by_year[y].with_plan),
            money(result.tax_by_year[y].with_plan - result.tax_by_year[y].without_plan),
        )
        for y in years
    ]
    first_tax = unwind_period_tax(scenario, result) if first is not None else 0.0
    t = result.totals
    figures = [
        Figure("Household value", money(_household_value(scenario)), f"as of {scenario.as_of}"),
        Figure("Tax due to the first period", money(first_tax), f"{scenario.tax_year}, the trades to place now"),
        Figure("Tax due to the whole plan", money(t.tax_due_to_plan), f"present value {money(t.present_value)}"),
        Figure(
            f"{result.security} weight at the end",
            pct(result.periods[-1].weight_after) if result.periods else "—",
            f"after {len(result.periods)} periods",
        ),
        Figure("Shares sold / gifted", f"{t.shares_sold:,.0f} / {t.shares_gifted:,.0f}", result.security),
    ]
    view = ReportView(
        **_base_view(scenario, "unwind", program_version, _stamp(result.verified, result.solver, result.status)),
        figures=figures,
        allocation_chart=chart,
        allocation_rows=rows,
        allocation_after=after,
        trades=_trade_rows(scenario, None, trades),
        trades_title=f"Trades of the first period ({first.start if first else scenario.as_of})",
        tax_rows=tax_rows,
        tax_notes=["Each year's total tax (federal and state) without and with the whole schedule."],
        wash_rows=_wash_rows(scenario, None, trades),
        notes=list(result.notes),
    )
    monthly = len({p.tax_year for p in result.periods}) < len(result.periods)
    labels = [f"{p.start:%Y-%m}" if monthly else str(p.tax_year) for p in result.periods]
    xs = [float(p.period) for p in result.periods]
    view.charts.append(
        Chart(
            f"{result.security}'s weight in liquid wealth after each period",
            svg.line_chart(
                xs,
                [svg.Series(f"{result.security} weight", [p.weight_after for p in result.periods], "s-with")],
                f"{result.security} weight after each period",
                x_format=lambda v: f"period {v:.0f}",
                y_format=lambda v: svg.pct(v, 0),
                x_labels=labels,
            ),
        )
    )
    view.charts.append(
        Chart(
            "Tax per year, without and with the plan",
            svg.bar_chart(
                [str(y) for y in years],
                [
                    svg.Series("without the plan", [result.tax_by_year[y].without_plan for y in years], "s-without"),
                    svg.Series("with the plan", [result.tax_by_year[y].with_plan for y in years], "s-with"),
                ],
                "tax per year without and with the plan",
            ),
        )
    )
    names = ["this plan", *(n.replace("_", " ") for n in result.baselines)]
    totals = [t, *result.baselines.values()]
    view.charts.append(
        Chart(
            "Tax caused by this plan against the baselines",
            svg.bar_chart(
                names,
                [
                    svg.Series("tax due", [x.tax_due_to_plan for x in totals], "s-with"),
                    svg.Series("present value", [x.present_value for x in totals], "s-pv"),
                ],
                "tax of this plan against selling now and equal installments",
            ),
            "The baselines sell as many shares as the plan sells and gifts: all now, or in equal installments.",
        )
    )
    view.tables.append(
        Table(
            "Schedule",
            ["period", "start", "tax year", "sold", "lots", "gifted", "short-term", "long-term", "weight after"],
            [
                [
                    str(p.period),
                    str(p.start),
                    str(p.tax_year),
                    f"{sum(s.shares for s in p.sold):,.4g}",
                    ", ".join(f"{s.lot} ({s.shares:,.4g})" for s in p.sold) or "—",
                    f"{sum(g.shares for g in p.gifted):,.4g}",
                    money(p.realized.short_term),
                    money(p.realized.long_term),
                    pct(p.weight_after),
                ]
                for p in result.periods
            ],
        )
    )
    if result.price_scenarios:
        view.tables.append(
            Table(
                "If prices take another path",
                ["path", "tax due", "present value", "weight at the end"],
                [
                    [s.name, money(s.tax_due_to_plan), money(s.present_value), pct(s.weight_after)]
                    for s in result.price_scenarios
                ],
            )
        )
    return view


def _nearest_point(curve: Frontier, weight: float) -> int:
    def distance(w: float) -> float:
        return abs(math.log((w + 1e-3) / (weight + 1e-3)))

    return min(range(len(curve.points)), key=lambda i: distance(curve.points[i].tax_weight))


def _frontier_view(scenario: Scenario, curve: Frontier, program_version: str) -> ReportView:
    chosen = _nearest_point(curve, scenario.objective.tax_weight)
    plan = curve.points[chosen].result
    view = _result_view(scenario, "solve", plan, program_version)
    view.kind, view.kind_title = "frontier", KIND_TITLES["frontier"]
    view.title = f"{KIND_TITLES['frontier']} — {scenario.label}"
    view.trades_title = f"Trades of the plan at tax weight {curve.points[chosen].tax_weight:g}"
    view.stamp = Stamp(
        all(p.result.verified for p in curve.points),
        "Every point of the curve is a plan checked by the independent verifier"
        if all(p.result.verified for p in curve.points)
        else "NOT every point was verified: do not act on these plans",
        [f"{len(curve.points)} points, {curve.solves} solves, {curve.seconds:.2f} s"],
    )
    points = curve.points
    view.charts.insert(
        0,
        Chart(
            "Tax due to the trades against the tracking error left",
            svg.line_chart(
                [p.tracking_error for p in points],
                [
                    svg.Series(
                        "plans over the sweep of the tax weight", [p.result.tax.due_to_trades for p in points], "s-with"
                    )
                ],
                "tax due against tracking error",
                x_format=lambda v: svg.pct(v, 2),
                y_format=svg.money_short,
                point_labels=[f"{p.tax_weight:g}" if i % 3 == 0 or i == chosen else "" for i, p in enumerate(points)],
                x_title="tracking error after the trades",
                y_title="tax due to the trades",
            ),
            "Labels: the weight on tax. Less tax never comes with less tracking error.",
        ),
    )
    view.tables.insert(
        0,
        Table(
            "Points of the curve",
            ["tax weight", "tax due", "tracking error after", "trades", "status"],
            [
                [
                    f"{p.tax_weight:g}" + (" (this scenario)" if i == chosen else ""),
                    money(p.result.tax.due_to_trades),
                    pct(p.tracking_error),
                    str(len(p.result.trades)),
                    p.result.status.replace("_", " "),
                ]
                for i, p in enumerate(points)
            ],
        ),
    )
    view.notes = [*curve.notes, *view.notes]
    return view


def build_view(
    scenario: Scenario,
    kind: str,
    result: Result | UnwindResult | Frontier,
    program_version: str,
    proposal: Proposal | None = None,
) -> ReportView:
    if isinstance(result, UnwindResult):
        view = _unwind_view(scenario, result, program_version)
    elif isinstance(result, Result):
        view = _result_view(scenario, kind, result, program_version)
    else:
        view = _frontier_view(scenario, result, program_version)
    if proposal is not None:
        view.proposal = {
            "id": proposal.id,
            "status": proposal.status,
            "created": proposal.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "by": proposal.created_by,
            "program_version": proposal.program_version,
            "input_hash": proposal.input_hash[:16],
        }
        view.program_version = proposal.program_version
        view.trail = [
            TrailRow(e.kind, e.at.strftime("%Y-%m-%d %H:%M UTC"), e.actor, e.reason or _event_summary(e.detail))
            for e in proposal.events
        ]
    return view


def _event_summary(detail: dict[str, Any]) -> str:
    realized = detail.get("realized")
    if realized:
        return f"realized short-term {money(realized.get('short_term'))}, long-term {money(realized.get('long_term'))}"
    return ""
