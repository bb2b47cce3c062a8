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

_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: 4× faster on a 20,000-lot file (3.6 against 13.9 CPU
seconds, bench/peers); the resolvers and constructors below are Python either way."""


class ScenarioLoader(_SafeBase):  # type: ignore[misc,valid-type]
    """SafeLoader with YAML 1.2 booleans and duplicate-key detection."""


# Drop the YAML 1.1 bool resolver and install the 1.2 one.
ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

# YAML 1.1 also reads `012` as octal 10 and `1:30` as 90 (base 60). Integers here are decimal (leading
# zeros allowed, underscores as thousands separators), or 0x / 0o written out, as in YAML 1.2.
_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0x[0-9a-fA-F]+|0o[0-7]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
for _first, _resolvers in list(ScenarioLoader.yaml_implicit_resolvers.items()):
    ScenarioLoader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _construct_int(loader: ScenarioLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.startswith(("0x", "0o")):
        return int(text, 0)
    return int(text, 10)


def _construct_float(loader: ScenarioLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    if text.lstrip("+-") == ".inf":
        return float(text.replace(".inf", "inf"))
    if text == ".nan":
        return float("nan")
    return float(text)


def _construct_timestamp(loader: ScenarioLoader, node: yaml.ScalarNode) -> Any:
    # PyYAML resolves anything shaped like a date (2026-02-30, 2026-13-01) as a timestamp and then raises
    # a bare ValueError building it, which names no field. Keep an impossible date as its text: the
    # model then rejects it at its YAML path ("accounts[0].lots[2].acquired: ...").
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return str(loader.construct_scalar(node))


ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
ScenarioLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


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
        if isinstance(key, int | float) and not isinstance(key, bool):
            key = key_node.value  # a numeric ticker (7203) is a name: keep the text as written
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
