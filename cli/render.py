"""Terminal rendering with rich tables. Formatting only: no tax or optimization logic here."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rebal_opt.models.report import CheckReport


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
    out.print(
        f"[bold]{report.scenario}[/bold] as of {report.as_of}: household value {money(report.total_value)}"
    )
    table = Table(show_lines=False)
    for header in ("asset class", "target", "weight", "drift", "band", "status"):
        table.add_column(header, justify="left" if header in ("asset class", "status") else "right")
    for name, c in report.classes.items():
        status = "in band" if c.in_band else "[bold red]OUT OF BAND[/bold red]"
        if not c.held and c.target > 0:
            status += " (no security)"
        table.add_row(
            name, pct(c.target), pct(c.weight), signed_pct(c.drift), f"{pct(c.low)} – {pct(c.high)}", status
        )
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
