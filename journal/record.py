"""Recording fills: the household after the executions of an approved proposal.

The state transition itself is `solver.execution.apply_executions` (lots sold shrink with their basis per
share kept, purchases become lots dated on the fill at the fill's cost, cash moves, realized gains add to
realized_ytd, the trades stay in recent_trades for the next 30 days' wash-sale windows). This module
decides what it is given:

* the household before: the proposal's scenario, or the holdings after this proposal's last recorded
  batch (fills may arrive in several batches);
* the lots a taxable sale took when the fills file does not name them: the plan's lots for that account
  and security, in the plan's order, less what earlier fills of this proposal already took;
* fills in a later tax year than the scenario's: the year is rolled first (`roll_tax_year`: the
  carryforward comes in, realized_ytd starts at 0).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rebal_opt.models.result import Trade
from rebal_opt.models.scenario import AccountType, Scenario
from rebal_opt.models.yaml_write import scenario_yaml
from rebal_opt.solver.execution import Execution, ExecutionError, apply_executions, roll_tax_year

from .fills import FillsError
from .planning import proposal_scenario, proposal_trades, read_scenario
from .store import RECORDED, Change, Fill, Proposal

SHARE_TOL = 1e-6


def household_before(proposal: Proposal) -> tuple[Scenario, bool]:
    """The household the next batch of fills applies to, and whether contributions are still to settle."""
    last = proposal.latest(RECORDED)
    if last is not None and last.holdings_text is not None:
        return read_scenario(last.holdings_text, f"proposal {proposal.id}'s holdings"), False
    return proposal_scenario(proposal), True


def _plan_lots(trades: Sequence[Trade]) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """The plan's lots for each (account, security) sale, in the plan's order."""
    out: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for t in trades:
        if t.action == "sell":
            out[(t.account, t.security)].extend((lot.lot, lot.shares) for lot in t.lots or [])
    return out


def assign_lots(
    fills: Sequence[Fill], scenario: Scenario, plan: Sequence[Trade], earlier: Sequence[Fill], source: str
) -> list[Fill]:
    """Each taxable sale with the lots it took: as named in the file, or the plan's next lots in order."""
    taxable = {a.id for a in scenario.accounts if a.type == AccountType.TAXABLE}
    taken: dict[str, float] = defaultdict(float)
    for f in earlier:
        for lot, shares in f.lots:
            taken[lot] += shares
    plan_lots = _plan_lots(plan)
    out = []
    problems = []
    for f in sorted(fills, key=lambda f: f.line):
        if f.action != "sell" or f.account not in taxable or f.lots:
            for lot, shares in f.lots:
                taken[lot] += shares
            out.append(f)
            continue
        left = f.shares
        lots = []
        for lot, planned in plan_lots.get((f.account, f.security), []):
            free = planned - taken[lot]
            if left <= SHARE_TOL:
                break
            if free > SHARE_TOL:
                take = min(free, left)
                lots.append((lot, take))
                taken[lot] += take
                left -= take
        if left > SHARE_TOL:
            planned_total = sum(n for _, n in plan_lots.get((f.account, f.security), []))
            problems.append(
                f"{source}: line {f.line}: sells {f.shares:g} {f.security} in {f.account}, but the plan's lots for "
                f"that sale ({planned_total:g} shares) have only {f.shares - left:g} left; name the lots it took "
                "in a lots column (LOTID:SHARES;...)"
            )
            continue
        out.append(replace(f, lots=tuple(lots)))
    if problems:
        raise FillsError(problems)
    return out


def _execution(f: Fill) -> Execution:
    return Execution(
        f.account,
        f.security,
        f.action,  # type: ignore[arg-type]
        f.shares,
        f.price,
        f.date,
        f.lots,
        f.commission,
    )


def _apply(
    scenario: Scenario, fills: Sequence[Fill], settle: bool, source: str
) -> tuple[Scenario, float, float, list[str]]:
    """apply_executions year by year (rolling the tax year between), errors located by file line."""
    short = long = 0.0
    new_lots: list[str] = []
    by_year: dict[int, list[Fill]] = defaultdict(list)
    for f in fills:
        by_year[f.date.year].append(f)
    for year in sorted(by_year):
        if year < scenario.tax_year:
            line = min(f.line for f in by_year[year])
            raise FillsError([f"{source}: line {line}: the fill is dated {year}, before tax year {scenario.tax_year}"])
        if year > scenario.tax_year:
            scenario = roll_tax_year(scenario, year)
        try:
            outcome = apply_executions(scenario, [_execution(f) for f in by_year[year]], settle_contributions=settle)
        except ExecutionError as exc:
            message = str(exc)
            line = next((f.line for f in by_year[year] if message.startswith(_execution(f).describe())), None)
            where = f"{source}: line {line}" if line is not None else source
            raise FillsError([f"{where}: {message}"]) from None
        settle = False
        scenario = outcome.scenario
        short += outcome.realized_short
        long += outcome.realized_long
        new_lots += outcome.new_lots
    return scenario, round(short, 2), round(long, 2), new_lots


def fill_status(plan: Sequence[Trade], fills: Sequence[Fill]) -> list[dict[str, Any]]:
    """Per planned trade and per fill outside the plan: planned and filled shares (all batches so far)."""
    filled: dict[tuple[str, str, str], float] = defaultdict(float)
    for f in fills:
        filled[(f.account, f.security, f.action)] += f.shares
    rows = []
    planned_keys = set()
    for t in plan:
        key = (t.account, t.security, t.action)
        planned_keys.add(key)
        got = filled.get(key, 0.0)
        state = "filled" if got >= t.shares - SHARE_TOL else ("partial" if got > SHARE_TOL else "not filled")
        if got > t.shares + SHARE_TOL:
            state = "overfilled"
        rows.append(
            {
                "account": t.account,
                "security": t.security,
                "action": t.action,
                "planned": t.shares,
                "filled": round(got, 6),
                "state": state,
            }
        )
    for key, got in filled.items():
        if key not in planned_keys:
            account, security, action = key
            rows.append(
                {
                    "account": account,
                    "security": security,
                    "action": action,
                    "planned": 0.0,
                    "filled": round(got, 6),
                    "state": "not in the plan",
                }
            )
    return rows


def record_change(proposal: Proposal, fills: Sequence[Fill], source: str, reason: str | None = None) -> Change:
    """What `record` writes for these fills (raises FillsError and changes nothing when they cannot be)."""
    before, settle = household_before(proposal)
    plan = proposal_trades(proposal)
    earlier = proposal.recorded_fills
    assigned = assign_lots(fills, before, plan, earlier, source)
    latest = max(f.date for f in assigned)
    if latest < before.as_of:
        raise FillsError([f"{source}: every fill is dated before the holdings' date {before.as_of}"])
    after, short, long, new_lots = _apply(before, assigned, settle, source)
    detail = {
        "realized": {"short_term": short, "long_term": long},
        "new_lots": new_lots,
        "trades": fill_status(plan, [*earlier, *assigned]),
        "source": source,
    }
    header = (
        f"{after.label}: holdings after the fills recorded for proposal {proposal.id} (rebal-opt record); "
        "prices are the proposal's: update them before the next plan"
    )
    return Change(
        reason=reason,
        detail=detail,
        holdings_text=scenario_yaml(after, header=header),
        holdings_as_of=after.as_of,
        fills=assigned,
    )


def holdings_at(scenario: Scenario, as_of: dt.date | None) -> Scenario:
    """The recorded holdings dated `as_of` (the tax year rolled when it is later): old recent trades leave
    the wash-sale look-back, past planned purchases drop out."""
    if as_of is None or as_of == scenario.as_of:
        return scenario
    if as_of < scenario.as_of:
        raise FillsError([f"--as-of {as_of} is before the last recorded fill's date {scenario.as_of}"])
    if as_of.year > scenario.tax_year:
        scenario = roll_tax_year(scenario, as_of.year)
    return apply_executions(scenario, [], as_of=as_of, settle_contributions=False).scenario
