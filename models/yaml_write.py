"""A validated `Scenario` → scenario-file YAML that loads back to the same scenario.

Fields at their default are left out (the file stays as short as one written by hand), except where
leaving one out would change its meaning. Dates are written plain (2026-11-25), not quoted.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .scenario import Scenario

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _ScenarioDumper(yaml.SafeDumper):
    """SafeDumper that writes ISO dates plain; PyYAML's YAML 1.1 rules still quote ON/NO/Y tickers."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if _DATE.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:timestamp", value)
    return dumper.represent_str(value)


class _Flow(dict[str, Any]):
    """A mapping written on one line, as a lot is in a hand-written file."""


def _represent_flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_ScenarioDumper.add_representer(str, _represent_str)
_ScenarioDumper.add_representer(_Flow, _represent_flow)


def _one_line_rows(data: dict[str, Any]) -> dict[str, Any]:
    """Securities, lots, holdings, recent trades and planned purchases one per line."""
    data["securities"] = {t: _Flow(s) for t, s in data.get("securities", {}).items()}
    for account in data.get("accounts", []):
        if "lots" in account:
            account["lots"] = [_Flow(lot) for lot in account["lots"]]
        if "holdings" in account:
            account["holdings"] = _Flow(account["holdings"])
    for key in ("recent_trades", "planned_purchases"):
        if key in data:
            data[key] = [_Flow(row) for row in data[key]]
    return data


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data, defaults left out.

    exclude_defaults (and not exclude_none): a None that is not the default (bands.relative: null) is kept,
    so loading the data back gives the same scenario.
    """
    return scenario.model_dump(mode="json", exclude_defaults=True)


def scenario_yaml(scenario: Scenario, header: str | None = None) -> str:
    """The scenario as YAML text, with `header` as leading comment lines."""
    rows = _one_line_rows(scenario_data(scenario))
    text = yaml.dump(rows, Dumper=_ScenarioDumper, sort_keys=False, allow_unicode=True, width=160)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    return text
