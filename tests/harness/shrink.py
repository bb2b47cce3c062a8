"""Shrink a failing household to a small one that fails the same way (same finding key).

    cd tests && python -m harness.shrink FAILING.yaml --key "solve: IndexError at solver/highs.py:_unpack" \\
        -o data/harness/some-name.yaml --comment "what broke"

A greedy reducer over the scenario's data (delta debugging in its simplest form): repeatedly try deleting
a key, a list item or a mapping entry, and simplifying a number (0, a whole number, two significant
digits), keeping each change after which the household still has a finding with that key. A change that
makes the file invalid ends in exit 2, a different key, and is dropped, so the result stays valid. The
long run's failures are the usual input (their YAML comment starts with the key).
"""

from __future__ import annotations

import argparse
import copy
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rebal_opt.models.yaml_io import read_yaml_file

from .checks import TIME_LIMIT, check_household
from .strategies import Data, scenario_yaml

Path_ = tuple[Any, ...]
KEEP = {
    "as_of",
    "tax",
    "targets",
    "securities",
    "accounts",
    "filing_status",
    "id",
    "type",
    "security",
    "price",
    "asset_class",
    "shares",
    "acquired",
    "date",
    "account",
    "action",
    "amount",
    "horizon_years",
}
"""Keys that are required wherever they appear: deleting them only makes the file invalid."""


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _nodes(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key in list(data):
            yield from _nodes(data[key], (*path, key))
    elif isinstance(data, list):
        for i in range(len(data)):
            yield from _nodes(data[i], (*path, i))


def _simpler_numbers(value: float) -> list[float]:
    out: list[float] = [0.0, float(round(value))]
    if value:
        digits = 1 - math.floor(math.log10(abs(value)))
        out.append(float(round(value, digits)))
    return [v for v in dict.fromkeys(out) if v != value]


def candidates(data: Data) -> Iterator[Data]:
    """Smaller or simpler versions of the household, the biggest cuts first."""
    for path, _node in list(_nodes(data)):
        if not path:
            continue
        parent, last = _get(data, path[:-1]), path[-1]
        if path[:-1] in (("accounts",), ("securities",)) and len(parent) == 1:
            continue  # a household keeps an account and a security (an empty one is another finding)
        if isinstance(parent, dict) and last not in KEEP:
            smaller = copy.deepcopy(data)
            del _get(smaller, path[:-1])[last]
            yield smaller
        if isinstance(parent, list):
            smaller = copy.deepcopy(data)
            del _get(smaller, path[:-1])[last]
            yield smaller
    for path, node in list(_nodes(data)):
        if isinstance(node, float | int) and not isinstance(node, bool) and path:
            for value in _simpler_numbers(float(node)):
                simpler = copy.deepcopy(data)
                _get(simpler, path[:-1])[path[-1]] = value
                yield simpler


def fails_the_same_way(data: Data, key: str, time_limit: float) -> bool:
    command = key.split(":", 1)[0]
    with tempfile.TemporaryDirectory() as workdir:
        try:
            outcome = check_household(data, Path(workdir), time_limit, commands=[command])
        except Exception:
            return False
    return any(f"{f.command}: {f.key}" == key for f in outcome.findings)


def shrink(data: Data, key: str, time_limit: float = TIME_LIMIT, budget: int = 600) -> Data:
    """The smallest household the greedy passes reach that still fails with `key` (at most `budget` runs)."""
    if not fails_the_same_way(data, key, time_limit):
        raise ValueError(f"the household does not fail with {key!r}")
    runs = 0
    improved = True
    while improved and runs < budget:
        improved = False
        for candidate in candidates(data):
            runs += 1
            if fails_the_same_way(candidate, key, time_limit):
                data, improved = candidate, True
                break
            if runs >= budget:
                break
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.shrink", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--key", help="the finding to keep (default: the first line of the file's comment)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--comment", default="", help="what broke, for the comment at the top")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    parser.add_argument("--budget", type=int, default=600)
    args = parser.parse_args(argv)
    key = args.key or args.scenario.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    data = read_yaml_file(args.scenario)
    small = shrink(data, key, args.time_limit, args.budget)
    comment = "\n".join(filter(None, [args.comment, f"harness finding: {key}"]))
    args.out.write_text(scenario_yaml(small, comment), encoding="utf-8")
    print(scenario_yaml(small, comment))


if __name__ == "__main__":
    main()
