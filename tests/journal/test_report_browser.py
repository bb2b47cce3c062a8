"""Each example scenario's report in a real browser: Debian's headless Chromium loads the file, takes a
screenshot and dumps the DOM it built, in one run.

Checked: the browser logged no console message (the page has no script, and its Content-Security-Policy
turns any attempt to load something into a logged violation), the DOM shows the key figures, and the
screenshot is not blank. One report is also printed to PDF (the print stylesheet) and has pages.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def browse(chromium: str, tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{page.stem}-{len(args)}"
    profile.mkdir()
    return subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def dollars(x: float) -> str:
    return f"−${-x:,.2f}" if x < 0 else f"${x:,.2f}"


def test_every_example_report_renders_in_chromium(chromium: str, example_reports: list[Any], tmp_path: Path) -> None:
    for report in example_reports:
        shot = tmp_path / f"{report.name}.png"
        run = browse(chromium, tmp_path, report.html, "--window-size=1200,1400", f"--screenshot={shot}", "--dump-dom")
        assert run.returncode == 0, f"{report.name}: {run.stderr[-2000:]}"
        assert console_messages(run.stderr) == [], f"{report.name}: {console_messages(run.stderr)}"

        dom = " ".join(re.sub(r"<[^>]+>", " ", run.stdout).split())
        assert "Verified" in dom and report.name.removesuffix("-frontier") in dom, report.name
        if report.command in ("solve", "yearend"):
            assert dollars(report.result["tax"]["due_to_trades"]) in dom, report.name
        elif report.command == "unwind":
            assert dollars(report.result["totals"]["tax_due_to_plan"]) in dom, report.name

        with Image.open(shot) as image:
            rgb = image.convert("RGB")
            assert rgb.size == (1200, 1400)
            colours = rgb.getcolors(maxcolors=1 << 20) or []
            ink = sum(n for n, c in colours if sum(c) < 600)  # pixels visibly darker than the white page
            assert len(colours) > 50 and ink > 0.01 * 1200 * 1400, f"{report.name}: the screenshot looks blank"


def test_a_report_prints_to_pdf(chromium: str, example_reports: list[Any], tmp_path: Path) -> None:
    report = next(r for r in example_reports if r.name == "maria-unwind-monthly")
    pdf = tmp_path / "report.pdf"
    run = browse(chromium, tmp_path, report.html, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert run.returncode == 0, run.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 2 <= pages <= 12, pages
