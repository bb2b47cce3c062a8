"""What-if overrides: `path=value` edits of a scenario file, applied before validation.

Paths are dotted field names with list items by position or by id: `bands.absolute`,
`tax.ordinary_income`, `accounts[0].contribution`, `accounts[brokerage].min_cash`,
`securities.VTI.price`, `rules.do_not_sell`. Values are read as YAML (`0.03`, `[VTI, BND]`, `true`).
The edited data is validated like a file, so every rule of the scenario contract applies to a variant.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from .errors import Problem, ScenarioError
from .loading import parse_scenario
from .scenario import Scenario
from .semantics import did_you_mean
from .yaml_io import parse_yaml_text

_PART = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def split_path(path: str) -> list[str | int]:
    """'accounts[0].lots[2].shares' -> ['accounts', 0, 'lots', 2, 'shares']; ids stay strings."""
    parts: list[str | int] = []
    for name, index in _PART.findall(path):
        if name:
            parts.append(name)
        else:
            parts.append(int(index) if index.lstrip("-").isdigit() else f"[{index}]")
    if not parts or "".join(str(p) for p in parts) == "":
        raise ValueError("empty path")
    return parts


def parse_assignment(text: str) -> tuple[str, Any]:
    """'bands.absolute=0.03' -> ('bands.absolute', 0.03). Raises ScenarioError on a malformed one."""
    if "=" not in text:
        raise ScenarioError([Problem("--set", f"'{text}' is not path=value; write e.g. bands.absolute=0.03")])
    path, raw = text.split("=", 1)
    path = path.strip()
    if not path:
        raise ScenarioError([Problem("--set", f"'{text}' has no path before '='")])
    return path, parse_yaml_text(raw, "--set") if raw.strip() else None


def apply_override(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` to `value` inside raw scenario data (creating missing mappings). Raises ScenarioError
    naming the path when it points into something that is not there."""
    parts = split_path(path)
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = path if last else "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[: depth + 1])
        if isinstance(part, int) or (isinstance(part, str) and part.startswith("[")):
            if not isinstance(node, list):
                raise ScenarioError([Problem(path, f"{where.lstrip('.')} is not a list")])
            index = _list_index(node, part, path)
            if last:
                node[index] = value
                return
            node = node[index]
            continue
        if not isinstance(node, dict):
            raise ScenarioError([Problem(path, f"cannot set '{part}' inside a {type(node).__name__}")])
        if last:
            node[part] = value
            return
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]


def _list_index(items: list[Any], part: str | int, path: str) -> int:
    if isinstance(part, int):
        if not -len(items) <= part < len(items):
            raise ScenarioError([Problem(path, f"index {part} is out of range (the list has {len(items)} items)")])
        return part
    wanted = part[1:-1]
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == wanted:
            return i
    hint = did_you_mean(wanted, [i for i in ids if isinstance(i, str)])
    raise ScenarioError([Problem(path, f"no item with id '{wanted}'{hint}")])


def apply_overrides(base: dict[str, Any], overrides: Mapping[str, Any], label: str) -> Scenario:
    """A validated scenario: `base` data with every override applied. Problems name the variant."""
    data = copy.deepcopy(base)
    data.pop("whatif", None)
    try:
        for path, value in overrides.items():
            apply_override(data, path, value)
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError([Problem(f"{label}: {p.path}", p.message) for p in exc.problems]) from None
