"""The HTML report: self-contained, and showing the figures of the result it was made from (read back from
the journal's stored result JSON, not from the report's own code)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"


def dollars(x: float) -> str:
    return f"−${-x:,.2f}" if x < 0 else f"${x:,.2f}"


class _Page(HTMLParser):
    """The page's tags and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def page(path: Path) -> tuple[_Page, str]:
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser, " ".join(" ".join(parser.text).split())


def test_every_report_is_self_contained(example_reports: list[Any]) -> None:
    for report in example_reports:
        html = report.html.read_text(encoding="utf-8")
        parsed, _ = page(report.html)
        tags = {tag for tag, _ in parsed.tags}
        assert not tags & {"script", "link", "img", "iframe", "object", "embed"}, report.name
        assert not [a for _, attrs in parsed.tags for a in ("src", "href") if a in attrs], report.name
        assert "url(" not in html and "@import" not in html, report.name
        # The only absolute URL is the SVG namespace (a name, never fetched).
        assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}, report.name
        assert "@media print" in html


def test_the_key_figures_of_each_result_are_on_the_page(example_reports: list[Any]) -> None:
    for report in example_reports:
        if report.command == "frontier":
            continue
        _, text = page(report.html)
        result = report.result
        assert result["scenario"] in text
        assert ("✔ Verified" if result["verified"] else "✘ Not verified") in text
        if report.command == "unwind":
            first = result["periods"][0]
            trades = first["trades"]
            assert f"Trades of the first period ({first['start']})" in text
            assert dollars(result["totals"]["tax_due_to_plan"]) in text
            for period in result["periods"]:
                assert f"{period['weight_after'] * 100:.2f}%" in text  # the schedule table
        else:
            trades = result["trades"]
            assert dollars(result["tax"]["due_to_trades"]) in text
            after = result["tracking_error"]["after"]
            assert f"{after * 100:.2f}%" in text
            for name, c in result["allocation"].items():
                assert f"{name} {c['target'] * 100:.2f}%" in text  # the allocation table's row
            for block in result["wash_sale"]["blocked"]:
                assert block["until"] in text and block["group"] in text
        for t in trades:
            assert dollars(t["amount"]) in text
            for lot in t.get("lots", []):
                assert lot["lot"] in text and dollars(lot["gain"]) in text
        if report.command == "yearend":
            y = result["yearend"]
            assert dollars(y["tax_next_year"]["with_plan"]) in text
            assert "Tax this year and next, with and without the plan" in text


def test_the_command_specific_charts(example_reports: list[Any]) -> None:
    charts = {r.name: r for r in example_reports}
    _, unwind = page(charts["maria-unwind-monthly"].html)
    assert "QQQ's weight in liquid wealth after each period" in unwind
    assert "Tax caused by this plan against the baselines" in unwind and "equal installments" in unwind
    _, frontier = page(charts["sarah-70-30-frontier"].html)
    assert "Tax due to the trades against the tracking error left" in frontier
    assert "Points of the curve" in frontier and "(this scenario)" in frontier
    parsed, approved = page(charts["sarah-70-30"].html)
    assert "Approval trail" in approved and "advisor" in approved and "reviewed with the client" in approved
    assert sum(1 for tag, _ in parsed.tags if tag == "svg") >= 1


def test_report_of_a_scenario_file_and_bad_targets(invoke: Any, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = invoke("report", SCENARIOS / "sarah-70-30.yaml", "--html", out)
    assert result.exit_code == 0, result.stderr
    _, text = page(out)
    assert "Rebalance: sarah-70-30" in text
    missing = invoke("report", "no-such.yaml", "--html", tmp_path / "x.html")
    assert missing.exit_code == 2 and "no such scenario file, and not a proposal id" in missing.stderr
    assert not (tmp_path / "x.html").exists()
    unknown = invoke("report", "41", "--html", tmp_path / "y.html", "--db", tmp_path / "none.sqlite")
    assert unknown.exit_code == 2 and "no journal at" in unknown.stderr
    assert not (tmp_path / "y.html").exists()


@pytest.mark.parametrize("bad", ["<script>alert(1)</script>", 'R&D "fund" <b>'])
def test_names_from_the_scenario_are_escaped(invoke: Any, tmp_path: Path, bad: str) -> None:
    import yaml

    data = yaml.safe_load((SCENARIOS / "sarah-70-30.yaml").read_text())
    data["name"] = bad
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "r.html"
    assert invoke("report", scenario, "--html", out).exit_code == 0
    html = out.read_text()
    assert bad not in html
    _, text = page(out)
    assert bad in text
