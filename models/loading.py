"""file → validated `Scenario`: YAML parsing, pydantic validation, cross-field checks.

Every problem becomes one line with its YAML path (`accounts[1].lots[3].shares: must be greater than 0`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .errors import PathPart, Problem, ScenarioError, format_path
from .scenario import Scenario
from .securities import fill_from_master
from .semantics import check_semantics, did_you_mean
from .yaml_io import read_yaml_file


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete alternatives of an annotation (Annotated and Optional removed)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out.extend(_unwrap(arg))
        return out
    return [annotation]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _walk(loc: Sequence[PathPart]) -> tuple[list[PathPart], type[BaseModel] | None]:
    """Follow a pydantic error location through the Scenario's types.

    Returns the location with pydantic's union-member tags removed, and the model class that owns the
    last part (for suggesting keys).
    """
    clean: list[PathPart] = []
    alternatives: list[Any] = [Scenario]
    owner: type[BaseModel] | None = Scenario
    parts = list(loc)
    i = 0
    while i < len(parts):
        part = parts[i]
        models = [a for a in alternatives if _is_model(a)]
        owner = models[0] if len(models) == 1 else None
        if models and isinstance(part, str) and any(part in m.model_fields for m in models):
            model = next(m for m in models if part in m.model_fields)
            clean.append(part)
            alternatives = _unwrap(model.model_fields[part].annotation)
            i += 1
            continue
        containers = [a for a in alternatives if typing.get_origin(a) in (list, dict)]
        if isinstance(part, int) and any(typing.get_origin(a) is list for a in containers):
            lst = next(a for a in containers if typing.get_origin(a) is list)
            clean.append(part)
            alternatives = _unwrap(typing.get_args(lst)[0])
            i += 1
            continue
        if len(alternatives) > 1 and isinstance(part, str) and _looks_like_tag(part, alternatives):
            i += 1  # pydantic's name for the union member that failed
            continue
        if part == "[key]":
            i += 1  # pydantic's marker for an error in a mapping key rather than its value
            continue
        if isinstance(part, str | int) and any(typing.get_origin(a) is dict for a in containers):
            dct = next(a for a in containers if typing.get_origin(a) is dict)
            clean.append(str(part))
            alternatives = _unwrap(typing.get_args(dct)[1])
            i += 1
            continue
        clean.extend(parts[i:])
        break
    return clean, owner


def _looks_like_tag(part: str, alternatives: list[Any]) -> bool:
    names = {a.__name__ for a in alternatives if isinstance(a, type)}
    return part in names or "[" in part or part in {"str", "float", "int", "bool", "constrained-float"}


def _message(error: ErrorDetails, owner: type[BaseModel] | None) -> str:
    kind = error["type"]
    msg = error["msg"]
    if "[key]" in error["loc"]:
        return f"the key {error['input']!r} must be text; quote it in the file"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        valid = list(owner.model_fields) if owner is not None else []
        hint = did_you_mean(key, valid)
        listing = f"; valid keys: {', '.join(valid)}" if valid and not hint else ""
        return f"unknown key '{key}'{hint}{listing}"
    if kind == "missing":
        return "is required; add it"
    if kind.startswith("date"):
        return "must be a date written YYYY-MM-DD"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping of keys to values"
    if kind == "list_type":
        return "must be a list"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if msg.startswith("Input should be"):
        return "must be" + msg.removeprefix("Input should be")
    return msg


def problems_from_validation(exc: ValidationError) -> list[Problem]:
    """Turn pydantic errors into one Problem per location, union alternatives merged."""
    merged: dict[str, list[str]] = {}
    for error in exc.errors():
        clean, owner = _walk(error["loc"])
        path = format_path(clean)
        message = _message(error, owner)
        if message not in merged.setdefault(path, []):
            merged[path].append(message)
    # A union field (a fund's split or a single class) fails in each member; when one member's error is
    # deeper in the value, that one is the problem, and the other member's type mismatch is noise.
    deeper = {path for path in merged for other in merged if other != path and other.startswith(path + ".")}
    return [Problem(path, _join_alternatives(messages)) for path, messages in merged.items() if path not in deeper]


def _join_alternatives(messages: list[str]) -> str:
    """['must be A', 'must be B'] -> 'must be A or B' (a union field accepts either)."""
    first, *rest = messages
    return " or ".join([first, *(m.removeprefix("must be ") for m in rest)])


def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """Validate already-parsed YAML data; raises ScenarioError listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("(file)", "must be a YAML mapping with as_of, tax, targets, securities, accounts ...")],
            source,
        )
    data = fill_from_master(data)  # known tickers may omit asset_class and wash_group (models/securities.py)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_master_hint(problems_from_validation(exc)), source) from None
    problems = check_semantics(scenario)
    if problems:
        raise ScenarioError(problems, source)
    return scenario


def _master_hint(problems: list[Problem]) -> list[Problem]:
    """A missing asset_class of a ticker the security master doesn't know says so."""
    out = []
    for p in problems:
        parts = p.path.split(".")
        missing_class = len(parts) == 3 and parts[0] == "securities" and parts[2] == "asset_class"
        if missing_class and p.message.startswith("is req"):
            p = Problem(p.path, f"is required: {parts[1]} is not in the security master; add it")
        out.append(p)
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file."""
    return parse_scenario(read_yaml_file(path), str(path))


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario file (`rebal-opt schema`)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rebal-opt scenario"
    security = schema.get("$defs", {}).get("Security", {})
    if "asset_class" in security.get("required", []):  # filled from the security master for known tickers
        security["required"] = [r for r in security["required"] if r != "asset_class"]
    return schema
