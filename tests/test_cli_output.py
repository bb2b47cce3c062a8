"""What the commands write (issue 10, item 6 and Deliver 5): output paths checked before any work, files
created with the user's umask, the trades CSV one row per lot line, shares at full precision, tables that
keep every number whole at 80 columns, a frontier plot without overlapping labels, JSON without float
noise.

Rendering is tested on results stored as JSON under tests/data/validation/results/ (written by
`rebal-opt solve|yearend|unwind --json` on the example scenarios; a 123×-scaled Maria for wide numbers),
so these tests need no solver; the CSV and JSON tests solve one small household through the CLI.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import stat
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from rebal_opt.cli import main, render
from rebal_opt.cli.files import PLOT_SUFFIXES, OutputFile, atomic_write, output_problem, replacing
from rebal_opt.cli.main import cli
from rebal_opt.models.loading import load_scenario
from rebal_opt.models.result import LotSale, Result, Trade, UnwindResult
from rebal_opt.models.yaml_io import read_yaml_file
from rebal_opt.solver.check import check as check_scenario
from rebal_opt.solver.frontier import Frontier, FrontierPoint
from rebal_opt.solver.verify import verify
from rebal_opt.solver.whatif import VariantOutcome

ROOT = Path(__file__).parent
DATA = ROOT / "data" / "validation"
RESULTS = DATA / "results"
SCENARIOS = ROOT.parent / "scenarios"
CSV_HOUSEHOLD = DATA / "csv-lot-lines.yaml"
BASE = ROOT / "data" / "base.yaml"


def stored(name: str) -> Result:
    return Result.model_validate_json((RESULTS / name).read_text(encoding="utf-8"))


def stored_unwind(name: str) -> UnwindResult:
    return UnwindResult.model_validate_json((RESULTS / name).read_text(encoding="utf-8"))


def run(*args: str | Path, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="rebal-opt", env=env)


# --- output paths: checked before any work ----------------------------------------------------------

FILE_OPTIONS = [
    ("solve", "--csv", "out.csv"),
    ("yearend", "--csv", "out.csv"),
    ("unwind", "--csv", "out.csv"),
    ("unwind", "--plot", "out.png"),
    ("frontier", "--plot", "out.png"),
]


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to read the scenario (the first step of every command) fails the test."""

    def forbidden(path: str) -> None:
        raise AssertionError(f"the command started working on {path}")

    monkeypatch.setattr(main, "load", forbidden)


def _one_error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(("command", "option", "name"), FILE_OPTIONS, ids=["-".join(c[:2]) for c in FILE_OPTIONS])
def test_missing_directory_fails_before_any_work(command: str, option: str, name: str, tmp_path: Path, no_work) -> None:
    target = tmp_path / "no-such-dir" / name
    line = _one_error_line(run(command, option, target, BASE))
    assert option in line
    assert f"the directory '{target.parent}' does not exist" in line
    assert not target.parent.exists()


@pytest.mark.parametrize(("command", "option", "name"), FILE_OPTIONS, ids=["-".join(c[:2]) for c in FILE_OPTIONS])
def test_a_directory_is_not_an_output_file(command: str, option: str, name: str, tmp_path: Path, no_work) -> None:
    line = _one_error_line(run(command, option, tmp_path, BASE))
    assert "is a directory; give a file name" in line


@pytest.mark.parametrize("command", ["unwind", "frontier"])
def test_plot_file_type_is_checked_first(command: str, tmp_path: Path, no_work) -> None:
    line = _one_error_line(run(command, "--plot", tmp_path / "curve.txt", BASE))
    assert "must end in one of" in line and ".png" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory_fails_before_any_work(tmp_path: Path, no_work) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = _one_error_line(run("solve", "--csv", locked / "out.csv", BASE))
        assert "is not writable" in line
    finally:
        locked.chmod(0o700)


def test_output_problem(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert output_problem(tmp_path / "new.csv") is None
    assert output_problem(tmp_path / "file.txt") is None  # replaced when the command succeeds
    assert output_problem(Path("relative-name.csv")) is None  # the working directory
    assert output_problem(tmp_path / "file.txt" / "x.csv") == f"'{tmp_path / 'file.txt'}' is not a directory"
    assert output_problem(tmp_path / "a.png", PLOT_SUFFIXES) is None
    assert output_problem(tmp_path / "a.PDF", PLOT_SUFFIXES) is None


def test_plot_suffixes_are_ones_matplotlib_writes() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert {s.lstrip(".") for s in PLOT_SUFFIXES} <= set(FigureCanvasAgg.get_supported_filetypes())


def test_every_file_option_is_checked_before_work() -> None:
    """Any option of any command that names a file to write uses OutputFile (one check, not a copy per
    command); a new command's --orders or -o gets the same by using it."""
    for name, command in cli.commands.items():
        for param in command.params:
            if param.param_type_name != "option":
                continue
            name = param.name or ""
            reads = name.startswith(("scenario", "policy", "fills", "db", "history"))  # files the command reads
            writes = isinstance(param.type, OutputFile) or (
                getattr(param.type, "writable", False) or (name.endswith("_path") and not reads)
            )
            if writes:
                assert isinstance(param.type, OutputFile), f"{name} {param.opts} is not checked before work"


# --- files: umask, atomic ---------------------------------------------------------------------------


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_umask(tmp_path: Path, umask_027) -> None:
    target = tmp_path / "plan.csv"
    atomic_write(target, "a,b\n")
    assert _mode(target) == 0o640  # 0666 less 027 (mkstemp alone gives 0600)
    assert target.read_text() == "a,b\n"


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask_027) -> None:
    target = tmp_path / "plan.csv"
    target.write_text("old")
    target.chmod(0o604)
    atomic_write(target, "new")
    assert _mode(target) == 0o604
    assert target.read_text() == "new"


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the command failed")
    assert list(tmp_path.iterdir()) == []


# --- the trades CSV ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_household(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, str]], Path]:
    """One solve of the CSV household: its JSON result and its CSV rows (written with umask 022)."""
    out = tmp_path_factory.mktemp("csv") / "trades.csv"
    old = os.umask(0o022)
    try:
        result = run("solve", "--json", "--csv", out, CSV_HOUSEHOLD)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return json.loads(result.stdout), rows, out


def test_csv_file_is_created_with_the_umask(csv_household) -> None:
    assert _mode(csv_household[2]) == 0o644


def test_csv_keeps_the_old_columns_first(csv_household) -> None:
    with csv_household[2].open(newline="") as handle:
        header = next(csv.reader(handle))
    old = ["account", "security", "action", "shares", "price", "amount", "cost", "lot", "lot_shares"]
    old += ["cost_basis", "gain", "term", "reason"]
    assert header[: len(old)] == old
    assert set(header) >= {"acquired", "trade", "trade_shares", "trade_amount", "trade_cost"}


def test_csv_has_one_row_per_lot_line(csv_household) -> None:
    payload, rows, _ = csv_household
    assert any(len(t.get("lots") or []) > 1 for t in payload["trades"])  # the household sells several lots
    assert len(rows) == sum(max(1, len(t.get("lots") or [])) for t in payload["trades"])
    json_lines = [(t["security"], lot["lot"], lot["shares"]) for t in payload["trades"] for lot in t.get("lots") or []]
    csv_lines = [(r["security"], r["lot"], float(r["shares"])) for r in rows if r["lot"]]
    assert csv_lines == json_lines


def test_csv_lines_add_up_to_their_trade(csv_household) -> None:
    payload, rows, _ = csv_household
    by_trade: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_trade[row["trade"]].append(row)
    assert len(by_trade) == len(payload["trades"])
    for number, trade in enumerate(payload["trades"], start=1):
        lines = by_trade[str(number)]
        assert {(r["account"], r["security"], r["action"]) for r in lines} == {
            (trade["account"], trade["security"], trade["action"])
        }
        # summing the amount column counts each sale once, to the cent
        assert sum(Decimal(r["amount"]) for r in lines) == Decimal(f"{trade['amount']:.2f}")
        assert sum(Decimal(r["cost"]) for r in lines) == Decimal(f"{trade['cost']:.2f}")
        assert sum(Decimal(r["shares"]) for r in lines) == Decimal(repr(trade["shares"]))
        for r in lines:
            assert Decimal(r["trade_amount"]) == Decimal(f"{trade['amount']:.2f}")
            # each line's amount is its own shares at the price, within a cent
            assert abs(Decimal(r["amount"]) - Decimal(r["shares"]) * Decimal(r["price"])) <= Decimal("0.01")


def test_csv_lot_lines_carry_the_lots_facts(csv_household) -> None:
    _, rows, _ = csv_household
    lots = {lot["id"]: lot for a in read_yaml_file(CSV_HOUSEHOLD)["accounts"] for lot in a.get("lots", [])}
    for r in (r for r in rows if r["lot"]):
        lot = lots[r["lot"]]
        assert r["acquired"] == lot["acquired"].isoformat()
        assert r["lot_shares"] == r["shares"]
        basis = Decimal(str(lot["cost_per_share"])) * Decimal(r["shares"])
        assert abs(Decimal(r["cost_basis"]) - basis) <= Decimal("0.005")
        assert Decimal(r["gain"]) == Decimal(r["amount"]) - Decimal(r["cost_basis"])


def test_csv_shares_have_every_decimal(csv_household) -> None:
    _, rows, _ = csv_household
    assert "40.123457" in {r["shares"] for r in rows}  # the HIGH lot sold whole, as the file gives it
    for r in rows:
        assert r["shares"] == repr(float(r["shares"])).removesuffix(".0")
        assert Decimal(r["price"]) in (Decimal("123.457"), Decimal("71.003"))


def test_csv_of_a_fractional_plan_keeps_its_shares() -> None:
    result = stored("solve-james.json")
    planned = [repr(t.shares) for t in result.trades]
    assert any(len(s.partition(".")[2]) == 6 for s in planned)  # e.g. 1107.883322, once written 1107.88
    rows = list(csv.DictReader(io.StringIO(render.trades_csv(result))))
    assert [row["shares"] for row in rows] == planned


def test_split_cents_by_hand() -> None:
    assert render._split_cents(100.00, [1, 1, 1]) == [33.34, 33.33, 33.33]
    assert render._split_cents(0.02, [1, 1, 1]) == [0.01, 0.01, 0.0]
    assert render._split_cents(7753.07, [40.123457, 22.676328]) == [4953.52, 2799.55]
    assert render._split_cents(5.0, [0.0, 0.0]) == [5.0, 0.0]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=10**13),
    st.lists(st.floats(min_value=1e-6, max_value=1e7, allow_nan=False), min_size=1, max_size=30),
)
def test_split_cents_adds_up_and_stays_within_a_cent(total_cents: int, parts: list[float]) -> None:
    out = render._split_cents(total_cents / 100, parts)
    assert sum(round(x * 100) for x in out) == total_cents
    weight = sum(parts)
    for x, p in zip(out, parts, strict=True):
        assert abs(round(x * 100) - total_cents * p / weight) < 1 + 1e-6 * total_cents * p / weight


# --- the screen: full precision, and whole numbers at 80 columns -------------------------------------


def _render(print_fn: Any, *args: Any) -> str:
    out = Console(width=80, file=io.StringIO(), soft_wrap=False, highlight=False, color_system=None)
    print_fn(*args, out=out)
    return out.file.getvalue()  # type: ignore[attr-defined]


def _intact(token: str, text: str) -> bool:
    """`token` appears as a whole number: not glued to further digits on either side."""
    return re.search(rf"(?<![\d.,]){re.escape(token)}(?![\d]|[.,]\d)", text) is not None


def _assert_readable(text: str, tokens: list[str]) -> None:
    assert "…" not in text
    wide = [line for line in text.splitlines() if len(line.rstrip()) > 80]
    assert not wide, wide
    missing = [t for t in tokens if not _intact(t, text)]
    assert not missing, f"cut or missing: {missing}\n{text}"


def _result_tokens(result: Result) -> list[str]:
    tokens: list[str] = []
    for c in result.allocation.values():
        tokens += [render.pct(c.target), render.pct(c.before), render.pct(c.after), render.pct(c.low)]
    for line in render.trade_lines(result.trades):
        t = line.trade
        tokens += [render.shares_text(t.shares), render.price_text(t.price), render.money(t.amount)]
        tokens += [render.shares_text(line.shares), render.money(line.amount)]
        if line.lot:
            tokens += [line.acquired, render.money(line.gain or 0.0)]
    return tokens


SOLVED = ["solve-maria.json", "solve-james.json", "solve-wide-numbers.json", "yearend-harvest.json"]


@pytest.mark.parametrize("name", SOLVED)
def test_solve_and_yearend_tables_at_80_columns(name: str) -> None:
    result = stored(name)
    tokens = _result_tokens(result)
    if result.yearend is not None:
        y = result.yearend
        tokens += [render.money(y.tax_this_year.with_plan), render.money(y.tax_next_year.without_plan)]
    _assert_readable(_render(render.print_result, result), tokens)


def test_screen_shares_have_every_decimal() -> None:
    result = stored("solve-james.json")
    text = _render(render.print_result, result)
    for t in result.trades:
        whole, _, decimals = repr(t.shares).partition(".")
        assert _intact(f"{int(whole):,}.{decimals}", text)  # e.g. 1,107.883322 (was 1107.88)


@pytest.mark.parametrize("name", SOLVED)
def test_screen_amounts_are_the_shown_shares_at_the_shown_price(name: str) -> None:
    for line in render.trade_lines(stored(name).trades):
        t = line.trade
        price = Decimal(render.price_text(t.price).replace(",", ""))
        shown = Decimal(render.shares_text(t.shares).replace(",", "")) * price
        assert Decimal(render.money(t.amount).replace(",", "")) == shown.quantize(Decimal("0.01"))
        line_shown = Decimal(render.shares_text(line.shares).replace(",", "")) * price
        assert abs(Decimal(render.money(line.amount).replace(",", "")) - line_shown) <= Decimal("0.01")


def test_unwind_tables_at_80_columns() -> None:
    result = stored_unwind("unwind-founder.json")
    tokens = []
    for p in result.periods:
        tokens += [str(p.start), render.pct(p.weight_after), render.money(p.realized.long_term)]
        tokens += [render.shares_text(s.shares) for s in p.sold]
    for year in result.tax_by_year.values():
        tokens += [render.money(year.without_plan), render.money(year.with_plan)]
    for b in [result.totals, *result.baselines.values()]:
        tokens += [render.money(b.tax_due_to_plan), render.money(b.present_value), render.shares_text(b.shares_sold)]
    assert any(not float(s.shares).is_integer() for p in result.periods for s in p.sold)
    _assert_readable(_render(render.print_unwind, result), tokens)


def _frontier(points: list[tuple[float, float, float]]) -> Frontier:
    base = stored("solve-maria.json")
    out = []
    for w, te, tax in points:
        result = base.model_copy(
            update={
                "tracking_error": base.tracking_error.model_copy(update={"after": te}),
                "tax": base.tax.model_copy(update={"due_to_trades": tax}),
            }
        )
        out.append(FrontierPoint(w, result))
    return Frontier("maria-concentrated-tech", out, 12.5, 4, ["a note"])


WEIGHTS = [0, *(0.05 * 1.4**k for k in range(19))]
CROWDED = [(w, 0.02 / (1 + w) + 0.0001 * (w > 3), 50_000 * w / (1 + w)) for w in WEIGHTS]


def test_frontier_table_at_80_columns() -> None:
    curve = _frontier(CROWDED)
    tokens = [f"{p.tax_weight:g}" for p in curve.points]
    tokens += [render.money(p.result.tax.due_to_trades) for p in curve.points]
    tokens += [render.pct(p.tracking_error) for p in curve.points]
    _assert_readable(_render(render.print_frontier, curve), tokens)


def test_whatif_table_at_80_columns() -> None:
    maria, james = stored("solve-maria.json"), stored("solve-james.json")
    outcomes = [
        VariantOutcome("base", {}, maria, household_value=2_000_000.0),
        VariantOutcome("a-very-long-variant-name", {"rules.max_realized_gain": 50_000}, james, household_value=5e5),
        VariantOutcome("impossible", {"rules.do_not_sell": ["QQQ"]}, None, ["rules"], "no plan keeps the rules"),
    ]
    tokens = [render.money(maria.tax.due_to_trades), render.pct(maria.tracking_error.after)]
    tokens += [render.pct(o.turnover) for o in outcomes]
    text = _render(render.print_variants, outcomes)
    _assert_readable(text, tokens)
    assert "a-very-long-variant-name: rules.max_realized_gain=50000" in text


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_check_table_at_80_columns(path: Path) -> None:
    report = check_scenario(load_scenario(path))
    tokens = [render.money(report.total_value)]
    for c in report.classes.values():
        tokens += [render.pct(c.weight), render.signed_pct(c.drift), render.pct(c.high)]
    _assert_readable(_render(render.print_check, report), tokens)


def test_columns_reach_the_console() -> None:
    result = run("check", SCENARIOS / "james-multi-account.yaml", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= 80
    assert "…" not in result.stdout


# --- the frontier plot ------------------------------------------------------------------------------


def test_points_with_one_plan_share_one_label() -> None:
    labels = render.frontier_labels([(0.0, 1.0, 5.0), (0.5, 1.0, 5.0), (1.0, 0.5, 9.0), (2.0, 1.0, 5.0)])
    assert [(lb.x, lb.y, lb.text) for lb in labels] == [(1.0, 5.0, "0–2"), (0.5, 9.0, "1")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0, 400), st.floats(5, 60), st.floats(5, 12)), max_size=30))
def test_kept_labels_never_overlap(boxes: list[tuple[float, float, float, float]]) -> None:
    keep = render.place_labels([(x, y) for x, y, _, _ in boxes], [(w, h) for _, _, w, h in boxes])
    if boxes:
        assert keep[0]
    kept = [(x, y, x + w, y + h) for (x, y, w, h), k in zip(boxes, keep, strict=True) if k]
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    # a label is left out only for one it would overlap
    for (x, y, w, h), k in zip(boxes, keep, strict=True):
        if not k:
            assert any(x < b[2] + 2 and b[0] < x + w + 2 and y < b[3] + 2 and b[1] < y + h + 2 for b in kept)


def test_frontier_plot_labels_do_not_overlap(tmp_path: Path) -> None:
    curve = _frontier(CROWDED)
    fig = render.frontier_figure(curve)
    path = tmp_path / "frontier.png"
    fig.savefig(path)  # lays the figure out as written
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.axes[0].texts if t.get_visible()]
    assert 1 <= len(texts) < len(curve.points)  # the crowded points are not all labelled
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)


def test_frontier_plot_is_written(tmp_path: Path) -> None:
    path = tmp_path / "frontier.png"
    render.plot_frontier(_frontier(CROWDED), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["frontier.png"]


def test_plot_type_follows_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "frontier.pdf"
    render.plot_frontier(_frontier(CROWDED[:3]), str(path))
    assert path.read_bytes()[:5] == b"%PDF-"


# --- JSON ---------------------------------------------------------------------------------------------


def test_json_text_drops_float_noise() -> None:
    payload = {"low": 0.35000000000000003, "after": [0.1 + 0.2], "money": 1234.5600000000002, "n": 3, "s": "x"}
    assert json.loads(render.json_text(payload)) == {"low": 0.35, "after": [0.3], "money": 1234.56, "n": 3, "s": "x"}
    assert json.loads(render.json_text({"tiny": 1.5980845882982458e-10})) == {"tiny": 2e-10}


def test_money_is_serialized_in_cents() -> None:
    lot = LotSale(lot="A", shares=1.5, cost_basis=100.004999, gain=-0.004, term="long", acquired=dt.date(2020, 1, 2))
    trade = Trade(account="a", security="X", action="sell", shares=1.5, price=66.67, amount=100.005, lots=[lot])
    dumped = trade.model_dump(mode="json")
    assert dumped["amount"] == 100.0 or dumped["amount"] == 100.01  # round half even on the binary value
    assert dumped["lots"][0]["cost_basis"] == 100.0
    assert dumped["lots"][0]["gain"] == 0.0 and str(dumped["lots"][0]["gain"]) == "0.0"  # no -0.0
    assert dumped["price"] == 66.67 and dumped["shares"] == 1.5  # prices and shares are not money
    assert trade.model_dump()["amount"] == 100.005  # Python values are left alone


def _floats(value: Any, path: str = "") -> list[tuple[str, float]]:
    if isinstance(value, float):
        return [(path, value)]
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _floats(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v, f"{path}[]")]
    return []


def _decimals(x: float) -> int:
    text = repr(x)
    if "e-" in text:
        mantissa, exponent = text.split("e-")
        return int(exponent) + len(mantissa.partition(".")[2])
    return len(text.partition(".")[2])


MONEY = re.compile(
    r"(amount|cost|cost_basis|gain|short_term|long_term|without_trades|with_trades|due_to_trades|costs)$"
)


def test_solve_json_has_no_float_noise_and_verifies(csv_household) -> None:
    payload = csv_household[0]
    for path, x in _floats(payload):
        assert _decimals(x) <= 10, (path, x)
        if MONEY.search(path) and not path.startswith(".tracking_error"):
            assert _decimals(x) <= 2, (path, x)
    # the plan read back from the JSON still passes the independent verifier
    verification = verify(load_scenario(CSV_HOUSEHOLD), Result.model_validate(payload))
    assert verification.ok, verification.violations


def test_check_json_has_no_float_noise() -> None:
    result = run("check", "--json", SCENARIOS / "david-60-40-crash.yaml")
    assert result.exit_code == 0
    floats = _floats(json.loads(result.stdout))
    assert floats and all(_decimals(x) <= 10 for _, x in floats)
    assert "0.35000000000000003" not in result.stdout


def test_unwind_csv_keeps_every_decimal() -> None:
    result = stored_unwind("unwind-founder.json")
    rows = list(csv.DictReader(io.StringIO(render.unwind_csv(result))))
    sold = [repr(s.shares).removesuffix(".0") for p in result.periods for s in p.sold]
    assert [r["shares"] for r in rows if r["action"] == "sell"] == sold
    assert any(len(s.partition(".")[2]) == 6 for s in sold)  # 9547.432198 was written 9547.43


def test_numbers_near_the_limits_are_never_cut() -> None:
    # Amounts near the scenario's $1e12 limit cannot fit 80 columns: the table is printed wider rather
    # than cut (a terminal wraps the line; the number stays whole).
    base = stored("solve-james.json")
    big = {"shares": 99_999.123456, "price": 9_999_999.99, "amount": 999_991_234_567.89}
    trade = base.trades[0].model_copy(update=big)
    result = base.model_copy(update={"trades": [trade]})
    text = _render(render.print_result, result)
    assert "…" not in text
    for token in ("99,999.123456", "9,999,999.99", "999,991,234,567.89"):
        assert _intact(token, text)
