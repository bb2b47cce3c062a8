"""Cross-field checks of the `simulate:` section (called from models.semantics)."""

from __future__ import annotations

from .errors import Problem
from .market import FIGURES, classes_without_figures
from .scenario import Scenario

MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _did_you_mean(name: str, choices: list[str]) -> str:
    from .semantics import did_you_mean  # semantics imports this module

    return did_you_mean(name, choices)


def simulation_problems(scenario: Scenario) -> list[Problem]:
    sim = scenario.simulate
    if sim is None:
        return []
    problems: list[Problem] = []
    accounts = {a.id: a for a in scenario.accounts}
    for i, flow in enumerate(sim.cash_flows):
        path = f"simulate.cash_flows[{i}]"
        account = accounts.get(flow.account)
        if account is None:
            hint = _did_you_mean(flow.account, list(accounts))
            problems.append(Problem(f"{path}.account", f"unknown account '{flow.account}'{hint}"))
        elif not account.tradable:
            problems.append(Problem(f"{path}.account", f"account '{flow.account}' is not tradable; no cash flows"))
        if flow.start is not None and flow.end is not None and flow.end < flow.start:
            problems.append(Problem(f"{path}.end", f"{flow.end} is before start {flow.start}"))
    classes = {c for s in scenario.securities.values() for c in s.class_split()} | set(scenario.asset_classes())
    names = sorted(classes | set(scenario.securities))
    for figure in FIGURES:
        for key in getattr(sim.prices, figure):
            if key not in classes and key not in scenario.securities:
                problems.append(
                    Problem(
                        f"simulate.prices.{figure}.{key}",
                        f"'{key}' is neither an asset class nor a security{_did_you_mean(key, names)}",
                    )
                )
    for figure, asset_class in classes_without_figures(scenario, sim.prices):
        problems.append(
            Problem(f"simulate.prices.{figure}", f"no default for asset class '{asset_class}'; give {asset_class}: ...")
        )
    seen: set[str] = set()
    step = MONTHS[sim.step]
    for i, policy in enumerate(sim.policies):
        if policy.name in seen:
            problems.append(Problem(f"simulate.policies[{i}].name", f"'{policy.name}' is used twice; names are unique"))
        seen.add(policy.name)
        if policy.every is not None and MONTHS[policy.every] < step:
            problems.append(
                Problem(f"simulate.policies[{i}].every", f"every {policy.every} is shorter than step: {sim.step}")
            )
    if sim.baseline is not None:
        match = [p for p in sim.policies if p.name == sim.baseline]
        if not match:
            hint = _did_you_mean(sim.baseline, [p.name for p in sim.policies])
            problems.append(Problem("simulate.baseline", f"no policy named '{sim.baseline}'{hint}"))
    return problems
