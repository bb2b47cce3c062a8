"""`check`: is a rebalance due? Household-wide weights by class against their bands."""

from __future__ import annotations

import numpy as np

from rebal_opt.models.report import AccountCheck, CheckReport, ClassCheck
from rebal_opt.models.risk import class_risk
from rebal_opt.models.scenario import CASH_CLASS, Scenario

from .household import ClassWeight, account_values, allocation_before, starting_cash, withdrawals


def tracking_error(scenario: Scenario, weights: dict[str, ClassWeight]) -> tuple[float, bool]:
    """The tracking error of an allocation in the scenario's mode, and whether Σ needed repair.

    quadratic: sqrt(d' Σ d); absolute: Σ |d|.
    """
    classes = list(weights)
    drift = np.array([weights[c].drift for c in classes])
    if scenario.objective.tracking == "absolute":
        return float(np.abs(drift).sum()), False
    risk = class_risk(classes, scenario.objective.risk_model)
    return risk.tracking_error(drift), risk.repaired


def check(scenario: Scenario) -> CheckReport:
    weights = allocation_before(scenario)
    held_classes = {c for s in scenario.securities.values() for c in s.class_split()}
    cash = starting_cash(scenario)
    held_classes |= {CASH_CLASS} if sum(cash.values()) > 0 else set()
    reasons: list[str] = []
    notes: list[str] = []
    for w in weights.values():
        if not w.in_band:
            side = "above" if w.weight > w.high else "below"
            edge = w.high if w.weight > w.high else w.low
            reasons.append(
                f"{w.asset_class} is {side} its band: {w.weight:.2%} against {edge:.2%} (target {w.target:.2%})"
            )
        if w.target > 0 and w.asset_class not in held_classes and w.asset_class != CASH_CLASS:
            notes.append(f"asset class '{w.asset_class}' has a target but no security in the file to hold it")
    values = account_values(scenario)
    out = withdrawals(scenario)
    for account in scenario.accounts:
        amount = out.get(account.id, 0.0)
        if cash[account.id] - amount >= account.min_cash:
            continue
        if amount > 0:
            reasons.append(f"withdrawal of {amount:,.2f} from {account.id} needs funding")
        else:
            reasons.append(
                f"{account.id} holds {cash[account.id]:,.2f} in cash, below its min_cash {account.min_cash:,.2f}"
            )
    for account in scenario.accounts:
        if not account.tradable:
            notes.append(f"account '{account.id}' is not tradable: it counts in the allocation, never trades")
    te, repaired = tracking_error(scenario, weights)
    budget = scenario.rules.max_tracking_error
    if budget is not None and te > budget:
        # The budget is a rule like a band: a household above it is due for a rebalance even in band.
        reasons.append(f"the tracking error is {te:.4%}, above rules.max_tracking_error {budget:.4%}")
    if repaired:
        notes.append("the correlations given do not form a valid matrix; the nearest valid one was used")
    return CheckReport(
        scenario=scenario.label,
        as_of=scenario.as_of,
        total_value=round(sum(w.value for w in weights.values()), 2),
        rebalance_due=bool(reasons),
        reasons=reasons,
        classes={
            c: ClassCheck(
                target=w.target,
                weight=w.weight,
                drift=w.drift,
                low=w.low,
                high=w.high,
                value=round(w.value, 2),
                in_band=w.in_band,
                held=c in held_classes,
            )
            for c, w in weights.items()
        },
        tracking=scenario.objective.tracking,
        tracking_error=te,
        accounts=[
            AccountCheck(
                id=a.id,
                type=a.type.value,
                value=round(values[a.id], 2),
                cash=a.cash,
                contribution=a.contribution,
                tradable=a.tradable,
            )
            for a in scenario.accounts
        ],
        notes=notes,
    )
