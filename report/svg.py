"""Inline SVG charts for the HTML report, drawn by hand: real text (searchable, crisp in print), colours
from the page's CSS classes, no script and no external resource.

Each function returns one `<svg>` element as markup; every text it draws is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

Format = Callable[[float], str]

WIDTH = 720


def pct(x: float, digits: int = 1) -> str:
    return f"{x * 100:.{digits}f}%"


def money_short(x: float) -> str:
    """$12.3k, $1.2M, $850."""
    sign = "−" if x < 0 else ""
    a = abs(x)
    if a >= 1e6:
        return f"{sign}${a / 1e6:.1f}M"
    if a >= 1e4:
        return f"{sign}${a / 1e3:.0f}k"
    if a >= 1e3:
        return f"{sign}${a / 1e3:.1f}k"
    if a >= 10 or a == 0:
        return f"{sign}${a:.0f}"
    return f"{sign}${a:.2f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10^k steps) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high - low <= 0:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _text(x: float, y: float, content: str, cls: str = "", anchor: str = "start") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(content)}</text>'


def _svg(height: float, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        + "".join(body)
        + "</svg>"
    )


@dataclass(frozen=True)
class ClassRow:
    name: str
    target: float
    low: float
    high: float
    before: float
    after: float | None
    in_band_after: bool = True


def allocation_chart(rows: Sequence[ClassRow], label: str = "allocation against the bands") -> Markup:
    """Per asset class: its band (shaded), target (tick), weight before (thin grey) and after (bar)."""
    left, right, top, row_h = 130.0, 70.0, 34.0, 34.0
    height = top + row_h * len(rows) + 30
    span = max([r.high for r in rows] + [r.before for r in rows] + [r.after or 0.0 for r in rows] + [0.01])
    ticks = nice_ticks(0.0, min(1.0, span * 1.05))
    xmax = ticks[-1]
    width = WIDTH - left - right

    def x(v: float) -> float:
        return left + width * max(0.0, min(v, xmax)) / xmax

    body = [
        f'<rect class="legend-band" x="{left:.0f}" y="8" width="14" height="10"/>',
        _text(left + 18, 17, "band", "legend"),
        f'<line class="target" x1="{left + 70:.0f}" y1="6" x2="{left + 70:.0f}" y2="20"/>',
        _text(left + 76, 17, "target", "legend"),
        f'<rect class="before" x="{left + 130:.0f}" y="10" width="14" height="6"/>',
        _text(left + 148, 17, "before", "legend"),
    ]
    if any(r.after is not None for r in rows):
        body += [
            f'<rect class="after" x="{left + 205:.0f}" y="8" width="14" height="10"/>',
            _text(left + 223, 17, "after the trades", "legend"),
        ]
    bottom = top + row_h * len(rows)
    for t in ticks:
        body.append(f'<line class="grid" x1="{x(t):.1f}" y1="{top - 4:.0f}" x2="{x(t):.1f}" y2="{bottom:.0f}"/>')
        body.append(_text(x(t), bottom + 16, pct(t, 0), "tick", "middle"))
    for i, r in enumerate(rows):
        y0 = top + i * row_h
        body.append(_text(left - 8, y0 + row_h / 2 + 4, r.name, "label", "end"))
        body.append(
            f'<rect class="band" x="{x(r.low):.1f}" y="{y0 + 3:.1f}" width="{max(x(r.high) - x(r.low), 1):.1f}" '
            f'height="{row_h - 6:.1f}"><title>{escape(r.name)} band {pct(r.low)} – {pct(r.high)}</title></rect>'
        )
        body.append(
            f'<rect class="before" x="{left:.1f}" y="{y0 + 7:.1f}" width="{x(r.before) - left:.1f}" height="6">'
            f"<title>{escape(r.name)} before {pct(r.before, 2)}</title></rect>"
        )
        if r.after is not None:
            cls = "after" if r.in_band_after else "after out"
            body.append(
                f'<rect class="{cls}" x="{left:.1f}" y="{y0 + 15:.1f}" width="{x(r.after) - left:.1f}" height="12">'
                f"<title>{escape(r.name)} after {pct(r.after, 2)}</title></rect>"
            )
        body.append(
            f'<line class="target" x1="{x(r.target):.1f}" y1="{y0 + 1:.1f}" x2="{x(r.target):.1f}" '
            f'y2="{y0 + row_h - 1:.1f}"/>'
        )
        shown = r.after if r.after is not None else r.before
        body.append(_text(WIDTH - right + 8, y0 + row_h / 2 + 4, pct(shown), "value"))
    return _svg(height, body, label)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str


def _y_axis(body: list[str], ticks: list[float], y: Callable[[float], float], left: float, fmt: Format) -> None:
    for t in ticks:
        body.append(f'<line class="grid" x1="{left:.0f}" y1="{y(t):.1f}" x2="{WIDTH - 20:.0f}" y2="{y(t):.1f}"/>')
        body.append(_text(left - 6, y(t) + 4, fmt(t), "tick", "end"))


def _legend(body: list[str], series: Sequence[Series], left: float, shape: str = "rect") -> None:
    x = left
    for s in series:
        if shape == "rect":
            body.append(f'<rect class="{s.css}" x="{x:.0f}" y="8" width="14" height="10"/>')
        else:
            body.append(f'<line class="{s.css}" x1="{x:.0f}" y1="13" x2="{x + 14:.0f}" y2="13"/>')
        body.append(_text(x + 18, 17, s.name, "legend"))
        x += 26 + 7 * len(s.name)


def bar_chart(categories: Sequence[str], series: Sequence[Series], label: str, fmt: Format = money_short) -> Markup:
    """Grouped vertical bars, one group per category, with each bar's value above it."""
    left, top, plot_h = 70.0, 34.0, 190.0
    values = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]) or 1.0)
    lo, hi = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    body: list[str] = []
    _legend(body, series, left)
    _y_axis(body, ticks, y, left, fmt)
    group = (WIDTH - 20 - left) / max(len(categories), 1)
    bar = min(48.0, group * 0.8 / max(len(series), 1))
    for i, category in enumerate(categories):
        x0 = left + i * group + (group - bar * len(series)) / 2
        for j, s in enumerate(series):
            v = s.values[i]
            if v is None:
                continue
            top_y, bottom_y = sorted((y(v), y(0.0)))
            bx = x0 + j * bar
            body.append(
                f'<rect class="{s.css}" x="{bx:.1f}" y="{top_y:.1f}" width="{bar - 2:.1f}" '
                f'height="{max(bottom_y - top_y, 0.5):.1f}"><title>{escape(s.name)}, {escape(category)}: '
                f"{escape(fmt(v))}</title></rect>"
            )
            body.append(_text(bx + bar / 2 - 1, top_y - 4, fmt(v), "barvalue", "middle"))
        body.append(_text(left + i * group + group / 2, top + plot_h + 18, category, "tick", "middle"))
    body.append(f'<line class="axis" x1="{left:.0f}" y1="{y(0.0):.1f}" x2="{WIDTH - 20:.0f}" y2="{y(0.0):.1f}"/>')
    return _svg(top + plot_h + 30, body, label)


def line_chart(
    xs: Sequence[float],
    series: Sequence[Series],
    label: str,
    x_format: Format,
    y_format: Format,
    x_labels: Sequence[str] | None = None,
    point_labels: Sequence[str] | None = None,
    x_title: str = "",
    y_title: str = "",
) -> Markup:
    """Lines with markers over numeric x (or over categories when `x_labels` names each x)."""
    left, top, plot_h = 78.0, 34.0, 200.0
    right_edge = WIDTH - 24.0
    values = [v for s in series for v in s.values if v is not None]
    y_ticks = nice_ticks(min([0.0, *values]), max(values, default=1.0) or 1.0)
    lo, hi = y_ticks[0], y_ticks[-1]
    if x_labels is None:
        x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
        x_lo, x_hi = x_ticks[0], x_ticks[-1]
    else:
        x_ticks = list(xs)
        x_lo, x_hi = min(xs, default=0.0) - 0.5, max(xs, default=1.0) + 0.5

    def px(v: float) -> float:
        return left + (right_edge - left) * (v - x_lo) / ((x_hi - x_lo) or 1.0)

    def py(v: float) -> float:
        return top + plot_h * (hi - v) / ((hi - lo) or 1.0)

    body: list[str] = []
    _legend(body, series, left, shape="line")
    _y_axis(body, y_ticks, py, left, y_format)
    step = max(1, math.ceil(len(x_ticks) / 12))
    for i, t in enumerate(x_ticks):
        if i % step:
            continue
        text = x_labels[i] if x_labels is not None else x_format(t)
        body.append(_text(px(t), top + plot_h + 16, text, "tick", "middle"))
    if x_title:
        body.append(_text((left + right_edge) / 2, top + plot_h + 34, x_title, "axis-title", "middle"))
    if y_title:
        body.append(
            f'<text class="axis-title" transform="translate(14,{top + plot_h / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_title)}</text>'
        )
    for s in series:
        points = [(px(x), py(v)) for x, v in zip(xs, s.values, strict=True) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            body.append(f'<polyline class="{s.css}" fill="none" points="{path}"/>')
        for (a, b), x, v in zip(points, xs, [v for v in s.values if v is not None], strict=False):
            body.append(
                f'<circle class="{s.css} marker" cx="{a:.1f}" cy="{b:.1f}" r="3.5"><title>{escape(s.name)}: '
                f"{escape(x_format(x))}, {escape(y_format(v))}</title></circle>"
            )
    if point_labels is not None and series:
        labelled: set[tuple[int, int]] = set()  # points drawn on one spot get one label
        for x, v, text in zip(xs, series[0].values, point_labels, strict=True):
            spot = (round(px(x) / 12), round(py(v) / 12)) if v is not None else (0, 0)
            if v is not None and text and spot not in labelled:
                labelled.add(spot)
                body.append(_text(px(x) + 5, py(v) - 6, text, "pointlabel"))
    return _svg(top + plot_h + (44 if x_title else 28), body, label)
