"""Rendering of simulations and batch runs: the policy table, the fan chart, the batch summary.
Formatting only."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .render import console, money, pct


def print_simulation(report: dict[str, Any]) -> None:
    out = console()
    out.print(
        f"[bold]{report['scenario']}[/bold]: {report['paths']} path(s) × {report['horizon_years']} year(s), "
        f"{report['step']}ly steps, prices: {report['source']}, seed {report['seed']}"
    )
    table = Table(show_lines=False)
    headers = (
        "policy", "after-tax $k", "vs base bp/yr", "taxes $", "turnover", "rebal/yr", "trades/yr", "harv/yr",
        "drift", "TE", "failed",
    )
    for h in headers:
        table.add_column(h, justify="left" if h == "policy" else "right", no_wrap=h == "policy")
    for p in report["policies"]:
        m = p["metrics"]
        versus = m.get("vs_baseline_bp_per_year")
        table.add_row(
            p["name"] + (" *" if p["name"] == report.get("baseline") else ""),
            f"{m['after_tax_value']['mean'] / 1000:,.1f}",
            f"{versus['mean']:+.1f}" if versus is not None else "–",
            f"{m['taxes_paid']['mean']:,.0f}",
            pct(m["turnover"]["mean"]),
            f"{m['rebalances_per_year']['mean']:.2f}",
            f"{m['trades_per_year']['mean']:.1f}",
            f"{m['harvests_per_year']['mean']:.2f}",
            pct(m["drift_mean"]["mean"]),
            pct(m["tracking_error_mean"]["mean"]),
            str(p["failed_steps"]),
        )
    out.print(table)
    out.print(
        "means across paths (--json has the spread); * the baseline. after-tax: liquidation value at the end after "
        "capital-gains tax, tax on tax-deferred balances and taxes owed; turnover a year; drift: largest "
        "|weight − target| of any class, averaged over time; TE: tracking error, averaged over time"
    )
    for p in report["policies"]:
        if p["failed_steps"]:
            first = p["failures"][0]
            out.print(
                f"[bold red]{p['name']}[/bold red]: {p['failed_steps']} step(s) failed, first on {first['date']} "
                f"(path {first['path']}, {first['kind']}): {first['error']}"
            )


def plot_simulation(report: dict[str, Any], path: str) -> None:
    """Fan chart of after-tax wealth (5–95% and 25–75% of paths, median line) and mean drift over time."""
    import datetime as dt

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .render import _save_figure

    dates = [dt.date.fromisoformat(d) for d in report["series"]["dates"]]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True, constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, s) in enumerate(report["series"]["policies"].items()):
        color = colors[i % len(colors)]
        fan = s["after_tax_value"]
        top.fill_between(dates, fan["p5"], fan["p95"], color=color, alpha=0.08, linewidth=0)
        top.fill_between(dates, fan["p25"], fan["p75"], color=color, alpha=0.18, linewidth=0)
        top.plot(dates, fan["p50"], color=color, label=name)
        bottom.plot(dates, [d * 100 for d in s["drift"]["mean"]], color=color, label=name)
    top.set_ylabel("after-tax liquidation value ($)")
    top.set_title(f"{report['scenario']}: {report['paths']} path(s), median with 25–75% and 5–95% of paths")
    top.legend(fontsize=8)
    bottom.set_ylabel("largest class drift, mean of paths (%)")
    bottom.set_xlabel("date")
    _save_figure(fig, path)


def print_batch(rows: list[dict[str, Any]], ran: int, skipped: int) -> None:
    out = console()
    table = Table(show_lines=False)
    for h in ("household", "status", "exit", "tax due", "drift before", "drift after", "trades", "error"):
        table.add_column(h, justify="left" if h in ("household", "status", "error") else "right")
    for r in rows:
        table.add_row(
            r["scenario"],
            str(r["status"]),
            str(r["exit_code"]),
            money(r["tax_due"]) if r.get("tax_due") is not None else "–",
            pct(r["max_drift_before"]) if r.get("max_drift_before") is not None else "–",
            pct(r["max_drift_after"]) if r.get("max_drift_after") is not None else "–",
            str(r["trades"]) if r.get("trades") is not None else "–",
            (r.get("error") or "")[:80],
        )
    out.print(table)
    failed = sum(1 for r in rows if r["exit_code"] != 0)
    out.print(f"{len(rows)} household(s): {ran} run, {skipped} already done (skipped), {failed} not ending 0")
