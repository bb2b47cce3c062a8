"""Year-end tax planning: the trades before 31 December that lower this year's and next year's tax.

The plan is the rebalance engine with `purpose="yearend"` (see `objective.YearEndTax`): loss harvesting
into substitutes, gain harvesting while gains are taxed at 0%, an optional target for the year's net
result, next year's use of the carryforward — all inside the household's bands and wash-sale windows.
This module wraps it: it labels each trade with its reason and reports the year's tax and next year's
carryforward with and without the plan.
"""

from __future__ import annotations

from collections import defaultdict

from rebal_opt.models.result import (
    CarryforwardNextYear,
    Result,
    Trade,
    WithAndWithout,
    YearEndSummary,
)
from rebal_opt.models.scenario import Scenario, YearEnd

from .engine import solve
from .highs import DEFAULT_MIP_GAP
from .objective import deferred_rate
from .tax.evaluate import evaluate_tax, tax_with_gains
from .taxes import next_year_situation, situation_from_scenario, with_carryforward

LOSS_HARVEST = "loss harvest"
LOSS_SUBSTITUTE = "loss harvest (substitute)"
GAIN_HARVEST = "gain harvest"
GAIN_BUY_BACK = "gain harvest (buy back)"
GAIN_REINVEST = "gain harvest (reinvest)"
REBALANCE = "rebalance"


def label_trades(scenario: Scenario, trades: list[Trade]) -> list[Trade]:
    """Each trade with its reason, from what the trades do.

    * A taxable sale whose lots are all losses is a loss harvest; purchases in its account, in one of its
      asset classes and another wash group, are its substitute (a purchase elsewhere rebalances).
    * A taxable sale with gains is a gain harvest (a basis step-up) when it does not move the allocation:
      the same security is bought back in the account (buy back), or the account does not sell any of the
      sale's asset classes on net — its proceeds are reinvested in those classes there (reinvest).
    * Anything else rebalances: a sale with gains is "rebalance" only when its account sells one of its
      classes on net (beyond what whole shares leave over).
    """
    bought = {(t.account, t.security) for t in trades if t.action == "buy"}
    moved = _classes_sold_on_net(scenario, trades)
    harvested_classes: set[tuple[str, str]] = set()  # (account, asset class) of loss harvests
    harvested_groups: set[str] = set()
    reasons: dict[int, str] = {}
    for i, t in enumerate(trades):
        if t.action != "sell" or not t.lots:
            continue
        classes = set(scenario.securities[t.security].class_split())
        if all(lot.gain < 0 for lot in t.lots):
            reasons[i] = LOSS_HARVEST
            harvested_classes |= {(t.account, c) for c in classes}
            harvested_groups.add(scenario.wash_group(t.security))
        elif (t.account, t.security) in bought or not classes & moved[t.account]:
            reasons[i] = GAIN_HARVEST
    gain_harvests = [trades[i] for i, r in reasons.items() if r == GAIN_HARVEST]
    bought_back = {(t.account, t.security) for t in gain_harvests}
    reinvested = {(t.account, c) for t in gain_harvests for c in scenario.securities[t.security].class_split()}
    for i, t in enumerate(trades):
        if t.action != "buy":
            continue
        classes = set(scenario.securities[t.security].class_split())
        if (t.account, t.security) in bought_back:
            reasons[i] = GAIN_BUY_BACK
        elif scenario.wash_group(t.security) not in harvested_groups and any(
            (t.account, c) in harvested_classes for c in classes
        ):
            reasons[i] = LOSS_SUBSTITUTE
        elif any((t.account, c) in reinvested for c in classes):
            reasons[i] = GAIN_REINVEST
    return [t.model_copy(update={"reason": reasons.get(i, REBALANCE)}) for i, t in enumerate(trades)]


def _classes_sold_on_net(scenario: Scenario, trades: list[Trade]) -> dict[str, set[str]]:
    """Per account, the asset classes it sells more of than it buys (dollars, by each security's class
    split), beyond one share of the largest purchase in the class (what whole shares can leave over)."""
    net: dict[tuple[str, str], float] = defaultdict(float)
    grain: dict[tuple[str, str], float] = defaultdict(lambda: 0.01)
    for t in trades:
        for asset_class, fraction in scenario.securities[t.security].class_split().items():
            key = (t.account, asset_class)
            net[key] += fraction * (t.amount if t.action == "sell" else -t.amount)
            if t.action == "buy":
                grain[key] = max(grain[key], fraction * t.price)
    out: dict[str, set[str]] = defaultdict(set)
    for (account, asset_class), sold in net.items():
        if sold > grain[(account, asset_class)]:
            out[account].add(asset_class)
    return out


def year_end_summary(scenario: Scenario, result: Result) -> YearEndSummary:
    """This year's tax, next year's carryforward and tax, with and without the plan (exact evaluation)."""
    this_year = situation_from_scenario(scenario)
    without = evaluate_tax(this_year)
    with_plan = tax_with_gains(this_year, result.realized.short_term, result.realized.long_term)
    next_year = next_year_situation(scenario)
    next_without = evaluate_tax(
        with_carryforward(next_year, without.carryforward_short_next, without.carryforward_long_next)
    )
    next_with = evaluate_tax(
        with_carryforward(next_year, with_plan.carryforward_short_next, with_plan.carryforward_long_next)
    )
    ytd = scenario.tax.realized_ytd.short_term + scenario.tax.realized_ytd.long_term
    plan_net = result.realized.short_term + result.realized.long_term
    return YearEndSummary(
        tax_this_year=WithAndWithout(without_plan=round(without.total_tax, 2), with_plan=round(with_plan.total_tax, 2)),
        carryforward_next_year=CarryforwardNextYear(
            short_term=WithAndWithout(
                without_plan=round(without.carryforward_short_next, 2),
                with_plan=round(with_plan.carryforward_short_next, 2),
            ),
            long_term=WithAndWithout(
                without_plan=round(without.carryforward_long_next, 2),
                with_plan=round(with_plan.carryforward_long_next, 2),
            ),
        ),
        tax_next_year=WithAndWithout(
            without_plan=round(next_without.total_tax, 2), with_plan=round(next_with.total_tax, 2)
        ),
        net_realized_this_year=WithAndWithout(without_plan=round(ytd, 2), with_plan=round(ytd + plan_net, 2)),
        deferred_rate=deferred_rate(scenario),
    )


def solve_yearend(scenario: Scenario, time_limit: float | None = None, mip_gap: float = DEFAULT_MIP_GAP) -> Result:
    """Plan the year's last trades; a scenario without a `yearend:` section uses its defaults."""
    if scenario.yearend is None:
        scenario = scenario.model_copy(update={"yearend": YearEnd()})
    result = solve(scenario, time_limit=time_limit, mip_gap=mip_gap, purpose="yearend")
    return result.model_copy(
        update={"trades": label_trades(scenario, result.trades), "yearend": year_end_summary(scenario, result)}
    )
