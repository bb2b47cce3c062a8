"""Terminal rendering of the journal: proposal lists, one proposal, a diff, a recording. Formatting only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from .render import console, money, pct

if TYPE_CHECKING:
    from rebal_opt.journal.diff import ProposalDiff
    from rebal_opt.journal.store import Event, Proposal


def _maybe(x: float | None, fmt: Any) -> str:
    return "—" if x is None else fmt(x)


def print_proposals(items: list[Proposal]) -> None:
    out = console()
    if not items:
        out.print("no proposals")
        return
    table = Table(title="proposals")
    headers = ("id", "household", "command", "status", "created", "as of", "tax due", "tracking error", "trades")
    for header in headers:
        table.add_column(header, justify="right" if header in ("id", "tax due", "tracking error", "trades") else "left")
    for p in items:
        table.add_row(
            str(p.id),
            escape(p.household),
            p.command + (f" {p.period}" if p.period else ""),
            p.status,
            p.created_at.strftime("%Y-%m-%d %H:%M"),
            str(p.as_of),
            _maybe(p.tax_due, money),
            _maybe(p.tracking_error, pct),
            str(p.trade_count),
        )
    out.print(table)


def print_trail(events: tuple[Event, ...] | list[Event]) -> None:
    out = console()
    if not events:
        out.print("approval trail: none yet (proposed)")
        return
    table = Table(title="approval trail")
    for header in ("event", "when (UTC)", "by", "reason / detail"):
        table.add_column(header)
    for e in events:
        detail = e.reason or ""
        realized = e.detail.get("realized")
        if realized:
            detail = (detail + "; " if detail else "") + (
                f"{len(e.fills)} fills, realized short-term {money(realized['short_term'])}, "
                f"long-term {money(realized['long_term'])}"
            )
        table.add_row(e.kind, e.at.strftime("%Y-%m-%d %H:%M"), escape(e.actor), escape(detail))
    out.print(table)


def print_proposal_header(p: Proposal) -> None:
    out = console()
    out.print(
        f"[bold]proposal {p.id}[/bold]: {escape(p.household)}, {p.command}"
        + (f" period {p.period}" if p.period else "")
        + f", status [bold]{p.status}[/bold]"
    )
    out.print(
        f"made {p.created_at:%Y-%m-%d %H:%M} UTC by {escape(p.created_by)} with rebal-opt {p.program_version}; "
        f"trade date {p.as_of}; solver {p.solver_status}; verified {'yes' if p.verified else 'no'}"
    )
    out.print(f"[dim]inputs sha256 {p.input_hash}; scenario from {escape(p.scenario_source or '(text)')}[/dim]")


def print_diff(d: ProposalDiff) -> None:
    out = console()
    out.print(f"[bold]proposal {d.first.id} → {d.second.id}[/bold]")
    if d.trades:
        table = Table(title="trades")
        for header in ("account", "action", "security", f"shares in {d.first.id}", f"shares in {d.second.id}", ""):
            table.add_column(header, justify="right" if header.startswith("shares") else "left")
        for t in d.trades:
            table.add_row(t.account, t.action, t.security, f"{t.shares_before:g}", f"{t.shares_after:g}", t.change)
        out.print(table)
    else:
        out.print("trades: the same")
    figures = Table(title="figures")
    for header in ("", str(d.first.id), str(d.second.id), "change"):
        figures.add_column(header, justify="left" if not header else "right")
    for name, (a, b) in d.figures.items():
        fmt = pct if name.startswith("tracking") else (lambda x: f"{x:g}") if name == "trades" else money
        change = "" if a is None or b is None else fmt(b - a)
        figures.add_row(name.replace("_", " "), _maybe(a, fmt), _maybe(b, fmt), change)
    out.print(figures)
    if d.drift:
        drift = Table(title="drift after the trades (weight − target)")
        for header in ("asset class", str(d.first.id), str(d.second.id)):
            drift.add_column(header, justify="left" if header == "asset class" else "right")
        for name, (a, b) in d.drift.items():
            drift.add_row(name, _maybe(a, lambda x: f"{x * 100:+.2f} pts"), _maybe(b, lambda x: f"{x * 100:+.2f} pts"))
        out.print(drift)


def print_recording(proposal_id: int, event: Event) -> None:
    out = console()
    realized = event.detail.get("realized", {})
    out.print(
        f"recorded {len(event.fills)} fills for proposal {proposal_id}: realized short-term "
        f"{money(realized.get('short_term', 0.0))}, long-term {money(realized.get('long_term', 0.0))}; "
        f"holdings dated {event.holdings_as_of}"
    )
    if event.detail.get("new_lots"):
        out.print(f"new lots: {', '.join(event.detail['new_lots'])}")
    table = Table(title="the plan's trades after this recording")
    for header in ("account", "action", "security", "planned", "filled", "state"):
        table.add_column(header, justify="right" if header in ("planned", "filled") else "left")
    for row in event.detail.get("trades", []):
        table.add_row(
            row["account"], row["action"], row["security"], f"{row['planned']:g}", f"{row['filled']:g}", row["state"]
        )
    out.print(table)
