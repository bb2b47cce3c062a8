"""Reading YAML the way a scenario author means it.

PyYAML implements YAML 1.1, where `ON`, `NO`, `Y` and `off` are booleans: a ticker like ON (ON
Semiconductor) would silently become `True`. The loader here resolves only `true`/`false` as booleans
(YAML 1.2), and it rejects duplicate keys, which PyYAML would otherwise let the last one win silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, ScenarioError


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and duplicate-key detection."""


# Drop the YAML 1.1 bool resolver and install the 1.2 one.
ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(f"duplicate key '{key}' (line {line}); each key may appear once")
        self.key = key
        self.line = line


def _construct_mapping(loader: ScenarioLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in mapping:
            raise DuplicateKeyError(key, key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=deep)  # type: ignore[no-untyped-call]
    return mapping


ScenarioLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml_text(text: str, source: str) -> Any:
    """Parse YAML text; a syntax error becomes a one-line ScenarioError with line and column."""
    try:
        return yaml.load(text, Loader=ScenarioLoader)
    except DuplicateKeyError as exc:
        raise ScenarioError([Problem("(file)", str(exc))], source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown place"
        what = exc.problem or "invalid YAML"
        raise ScenarioError(
            [Problem("(file)", f"not valid YAML at {where}: {what}; fix the syntax there")], source
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem("(file)", f"not valid YAML: {exc}")], source) from None


def read_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a ScenarioError too."""
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise ScenarioError([Problem("(file)", "no such file; check the path")], source)
    if p.is_dir():
        raise ScenarioError([Problem("(file)", "is a directory; give a scenario .yaml file")], source)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem("(file)", f"cannot be read ({exc}); give a readable UTF-8 file")
        raise ScenarioError([problem], source) from None
    return parse_yaml_text(text, source)
