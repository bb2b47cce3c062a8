"""file → validated `Scenario`: YAML parsing, pydantic validation, cross-field checks.

Every problem becomes one line with its YAML path (`accounts[1].lots[3].shares: must be greater than 0`).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .errors import PathPart, Problem, ScenarioError, format_path
from .scenario import (
    LIMITS,
    MAX_DATE,
    MIN_DATE,
    Account,
    Lot,
    PlannedPurchase,
    RecentTrade,
    Scenario,
    auto_lot_id,
)
from .securities import fill_from_master
from .semantics import Partial, check_semantics, did_you_mean
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


def _bound_message(error: ErrorDetails) -> str | None:
    """'is above the limit for a price ...' when a range check failed on one of the named limits."""
    ctx = error.get("ctx", {})
    bound = next((ctx[k] for k in ("le", "lt", "ge", "gt") if k in ctx), None)
    value = error["input"]
    if isinstance(value, dt.date):  # pydantic gives a date bound as text: every date field has these two
        return f"{value} is outside the supported dates, {MIN_DATE} to {MAX_DATE}"
    if not isinstance(bound, int | float) or abs(bound) not in LIMITS:
        return None
    what, unit = LIMITS[abs(bound)]
    side = "above" if error["type"].startswith("less") else "below"
    shown = f"{value:g}" if isinstance(value, int | float) else str(value)
    limit = f"{bound:,.0f}" if float(bound).is_integer() else f"{bound:g}"
    return f"{shown} is {side} the limit for {what}, {limit} {unit}".rstrip() + " (docs/scenario.md, Limits)"


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
        reason = error.get("ctx", {}).get("error")
        if isinstance(error["input"], str) and reason:
            return f"{error['input']} is not a date ({reason}); write a real date as YYYY-MM-DD"
        return "must be a date written YYYY-MM-DD"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping of keys to values"
    if kind == "list_type":
        return "must be a list"
    if kind == "too_short":
        return "must not be empty; give at least one"
    if kind in ("less_than_equal", "less_than", "greater_than_equal", "greater_than"):
        limit = _bound_message(error)
        if limit is not None:
            return limit
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if msg.startswith("Input should be"):
        return "must be" + msg.removeprefix("Input should be")
    return msg


def _error_paths(exc: ValidationError) -> list[tuple[PathPart, ...]]:
    return [tuple(_walk(error["loc"])[0]) for error in exc.errors()]


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


# --- what of an invalid file can still be checked ---------------------------------------------------
#
# pydantic stops at the first failing section of the model, so the checks across fields (targets sum to
# 1, references, dates against as_of) would only run once every field is right: a file with a bad price,
# a typo and targets summing to 1.1 reported two of its three problems. The salvage below validates the
# file piece by piece (each top-level section; each security, account, lot, trade and purchase on its
# own), builds a scenario of the valid pieces with None for the rest, and `check_semantics` runs every
# check whose inputs all validated. A piece that failed is never guessed at, so no check reports a
# problem that fixing the field errors would make disappear.

_LIST_SECTIONS = {"accounts": Account, "recent_trades": RecentTrade, "planned_purchases": PlannedPurchase}


def _under(paths: list[tuple[PathPart, ...]], *prefix: PathPart) -> list[tuple[PathPart, ...]]:
    n = len(prefix)
    return [p[n:] for p in paths if p[:n] == prefix]


_INVALID = object()
"""A piece that failed validation (None may be a valid value)."""


def _valid_or_none(adapter: TypeAdapter[Any], raw: Any) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError:
        return None


def _valid_or_invalid(adapter: TypeAdapter[Any], raw: Any) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError:
        return _INVALID


def _salvage_account(raw: Any, errors: list[tuple[PathPart, ...]]) -> Account | None:
    """The account with its valid lots (None in place of the others), or None when the account's own
    fields (or a collection other than lots) failed."""
    if not isinstance(raw, dict) or not all(len(e) >= 2 and e[0] == "lots" for e in errors):
        return None
    raw_lots = raw.get("lots")
    if not isinstance(raw_lots, list):
        return None
    account = _valid_or_none(TypeAdapter(Account), {**raw, "lots": []})
    if account is None:
        return None
    lot_adapter = TypeAdapter(Lot)
    bad = {e[1] for e in errors}
    lots = [None if j in bad else _valid_or_none(lot_adapter, lot) for j, lot in enumerate(raw_lots)]
    return account.model_copy(update={"lots": lots})


def _name_lots(account: Account) -> None:
    # What Scenario's own validator does; validating piece by piece skips it.
    for n, lot in enumerate(account.lots, start=1):
        if lot is not None and lot.id is None:
            object.__setattr__(lot, "id", auto_lot_id(account.id, n))


def _salvage_section(name: str, raw: Any, errors: list[tuple[PathPart, ...]]) -> Any:
    """The valid part of one top-level section, or _INVALID when nothing of it can be trusted."""
    info = Scenario.model_fields[name]
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[info.annotation, info])
    if not errors:
        return _valid_or_invalid(adapter, raw)
    if any(not e for e in errors):
        return _INVALID  # the section itself is wrong (not a mapping, empty ...)
    if name == "securities" and isinstance(raw, dict):
        bad = {str(e[0]) for e in errors}
        return _valid_or_invalid(adapter, {k: v for k, v in raw.items() if str(k) not in bad})
    if name in _LIST_SECTIONS and isinstance(raw, list) and all(isinstance(e[0], int) for e in errors):
        item: TypeAdapter[Any] = TypeAdapter(_LIST_SECTIONS[name])
        items: list[Any] = []
        for i, value in enumerate(raw):
            mine = _under(errors, i)
            if not mine:
                items.append(_valid_or_none(item, value))
            elif name == "accounts":
                items.append(_salvage_account(value, mine))
            else:
                items.append(None)
        return items
    return _INVALID


def _salvage(data: dict[str, Any], paths: list[tuple[PathPart, ...]]) -> tuple[Scenario, Partial]:
    """A scenario of the sections (and items) that validate, None elsewhere, and what is missing."""
    fields: dict[str, Any] = {}
    invalid: set[str] = set()
    for name, info in Scenario.model_fields.items():
        value = (
            _salvage_section(name, data[name], _under(paths, name))
            if name in data
            else (_INVALID if info.is_required() else info.get_default(call_default_factory=True))
        )
        if value is _INVALID:
            invalid.add(name)
            value = None
        fields[name] = value
    accounts = fields["accounts"] or []
    for account in accounts:
        if account is not None:
            _name_lots(account)
    raw_securities = data.get("securities")
    raw_accounts = data.get("accounts")
    partial = Partial(
        invalid=frozenset(invalid),
        tickers=frozenset(str(k) for k in raw_securities) if isinstance(raw_securities, dict) else frozenset(),
        account_ids=tuple(a["id"] for a in raw_accounts if isinstance(a, dict) and isinstance(a.get("id"), str))
        if isinstance(raw_accounts, list)
        else (),
        complete=fields["accounts"] is not None
        and all(a is not None and all(lot is not None for lot in a.lots) for a in accounts),
    )
    return Scenario.model_construct(**fields), partial


def _drop_empty_positions(scenario: Scenario) -> tuple[Scenario, list[str]]:
    """Lots and holdings of 0 shares (leftovers in broker exports) are left out, each with a note."""
    notes: list[str] = []
    accounts: list[Account] = []
    for i, account in enumerate(scenario.accounts):
        lots = [lot for lot in account.lots if lot.shares > 0]
        holdings = {ticker: n for ticker, n in account.holdings.items() if n > 0}
        notes += [
            f"accounts[{i}].lots[{j}]: lot {lot.id} of {lot.security} has 0 shares; ignored"
            for j, lot in enumerate(account.lots)
            if lot.shares == 0
        ]
        notes += [
            f"accounts[{i}].holdings.{ticker}: 0 shares; ignored" for ticker, n in account.holdings.items() if n == 0
        ]
        changed = len(lots) != len(account.lots) or len(holdings) != len(account.holdings)
        accounts.append(account.model_copy(update={"lots": lots, "holdings": holdings}) if changed else account)
    if not notes:
        return scenario, []
    return scenario.model_copy(update={"accounts": accounts}), notes


def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """Validate already-parsed YAML data; raises ScenarioError listing every problem.

    The scenario's `load_notes` say what was accepted but left out (0-share lots and holdings)."""
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("(file)", "must be a YAML mapping with as_of, tax, targets, securities, accounts ...")],
            source,
        )
    data = fill_from_master(data)  # known tickers may omit asset_class and wash_group (models/securities.py)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        salvaged, partial = _salvage(data, _error_paths(exc))
        problems = _master_hint(problems_from_validation(exc)) + check_semantics(salvaged, partial)
        raise ScenarioError(problems, source) from None
    problems = check_semantics(scenario)
    if problems:
        raise ScenarioError(problems, source)
    scenario, notes = _drop_empty_positions(scenario)
    return scenario.with_load_notes(notes)


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
