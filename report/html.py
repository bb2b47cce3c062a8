"""ReportView → one self-contained HTML page (Jinja2 template with autoescaping; CSS inline)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .build import ReportView


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("rebal_opt.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,  # a misspelt field fails the render instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(view: ReportView) -> str:
    return _environment().get_template("report.html.j2").render(v=view)
