"""Hypothesis strategies: households over the whole scenario contract (docs/scenario.md, models/scenario.py).

`households()` draws one scenario as the plain data a YAML file holds (dicts, lists, strings, numbers);
`scenario_yaml(data)` writes it as the text a user would. Every household it draws is meant to be valid:
if `rebal-opt validate` rejects one, either this generator or the validator is wrong (a finding).

What a household can hold, and how each part is drawn:

* `as_of` from 2025 to 2027, edge dates (31 December, 1 January, a leap day in 2028), and 2024 when flat
  rates make a year before the first tax table legal;
* `tax`: every filing status, incomes across the brackets (0 to millions), qualified dividends, itemized
  or standard deduction, realized gains and losses so far, carryforwards, state rates, flat `rates`,
  an explicit `year` and `indexing_rate` for a year past the last table;
* `targets` over one to four classes of a fixed catalog (classes the default risk model knows, and two it
  does not: `founder_stock`, `crypto`), integer percents, zeros included, with or without `cash`;
* `bands`: defaults, wide, narrow, zero-width, relative switched off;
* `securities` (at most 8): one or two per class from a ticker catalog, a multi-asset fund split over the
  targeted classes, a money-market fund, wash groups shared within a class and across classes;
* `accounts` (1 to 4, every type): cash, contributions and withdrawals, `min_cash`, lots in taxable and
  in tax-advantaged accounts (at most 25 in all), holdings, `buyable` menus (empty ones too), untradable
  accounts; lots whole and fractional (0.3, 0.0001 shares), at gains and losses, basis per share or
  total (0 too), acquired today, inside the 30-day window, short-term, on the one-year edge, long-term,
  decades ago, inherited;
* `recent_trades` (buys and sells, loss and gain sells, in any account, the window's edges included; lots
  bought in the window listed again as purchases or not) and `planned_purchases`;
* `rules`: every field (`max_tracking_error` and `harvest_in_band` included), `do_not_sell` naming
  securities and lot ids (default ids `<account>:<n>` too);
* `objective`: quadratic or absolute tracking, tax weights from 0 to 100, no risk model, volatility and
  correlation overrides (an invalid correlation matrix included: it is repaired), or the factor form;
* `yearend:`, `unwind:` and `whatif:` sections (every field; what-if variants override rules, bands,
  the tax weight, income and a contribution), about one household in four, five and six.

Then up to two *edges* from `EDGES` reshape the household into one of the shapes that broke the engine
before (issue 10, "What was seen"): a position whose only sellable lot is below `min_trade`, a new-cash
account whose menu is fully wash-blocked or holds only a 0-target class, fractional lots under
`whole_shares`, an all-cash household, a harvest inside the bands, a withdrawal paid from cash, an
inherited lot bought last week, a loss sale inside an IRA, flat rates with a large loss, and more.

Shrinking: every choice's simplest value comes first (no edge, no section, fewer accounts and lots, the
first catalog entry), so a failing household shrinks to a small readable one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

Data = dict[str, Any]

MAX_ACCOUNTS = 4
MAX_SECURITIES = 8
MAX_LOTS = 25
WINDOW_DAYS = 30
CASH = "cash"

FIRST_AS_OF = dt.date(2025, 1, 1)
LAST_AS_OF = dt.date(2027, 12, 31)
EDGE_AS_OF = [dt.date(2026, 11, 25), dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2028, 2, 29)]

CLASSES = ["us_equity", "intl_equity", "bonds", "emerging_equity", "real_estate", "tips", "founder_stock", "crypto"]
"""The first six are known to the shipped risk model; the last two are not (they need a volatility)."""
UNKNOWN_TO_RISK_MODEL = {"founder_stock": 0.6, "crypto": 0.75}

CATALOG: dict[str, tuple[str, float, str | None]] = {
    # ticker: (asset class, typical price, its natural wash group)
    "VTI": ("us_equity", 300.0, "us_total"),
    "ITOT": ("us_equity", 130.0, None),
    "VOO": ("us_equity", 550.0, "sp500"),
    "IVV": ("us_equity", 600.0, "sp500"),
    "SCHB": ("us_equity", 25.0, "us_total"),
    "VXUS": ("intl_equity", 66.0, None),
    "IXUS": ("intl_equity", 72.0, None),
    "BND": ("bonds", 72.0, "us_agg"),
    "AGG": ("bonds", 98.0, "us_agg"),
    "VWO": ("emerging_equity", 45.0, None),
    "IEMG": ("emerging_equity", 58.0, None),
    "VNQ": ("real_estate", 90.0, None),
    "SCHP": ("tips", 26.0, None),
    "ACME": ("founder_stock", 40.0, None),
    "PENNY": ("founder_stock", 0.07, None),
    "IBIT": ("crypto", 50.0, None),
    "VMFXX": (CASH, 1.0, None),
    "SPAXX": (CASH, 1.0, None),
}
FUNDS = ["VBIAX", "FFNOX"]
"""Multi-asset funds: their split is drawn over the household's targeted classes."""


def _tickers_of(asset_class: str) -> list[str]:
    return [t for t, (c, _, _) in CATALOG.items() if c == asset_class]


# ----------------------------------------------------------------------------------------------------
# Small pieces


def dollars(low: float, high: float) -> st.SearchStrategy[float]:
    """Whole dollars mostly, cents sometimes."""
    whole = st.integers(math.ceil(low), math.floor(high)).map(float)
    cents = st.integers(math.ceil(low * 100), math.floor(high * 100)).map(lambda c: c / 100)
    return st.one_of(whole, cents)


def flow() -> st.SearchStrategy[float]:
    """An account's contribution: none, new money, or a withdrawal (negative)."""
    return st.one_of(st.just(0.0), dollars(100, 50_000), dollars(-30_000, -100))


@st.composite
def share_count(draw: st.DrawFn) -> float:
    """Whole shares or fractions (three decimals); now and then an edge: 0.3, 7.5, 0.0001, 2,500."""
    if chance(draw, 8):
        return draw(st.sampled_from([0.3, 7.5, 0.0001, 2500.0]))
    if draw(st.booleans()):
        return float(draw(st.integers(1, 400)))
    return draw(st.integers(1, 400_000)) / 1000


def chance(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in `one_in` draws; shrinks to False. (Hypothesis draws the low end of an integer
    range far more often than the rest, so `integers(0, n) == 0` would be true a third of the time.)"""
    return draw(st.sampled_from(range(one_in))) == one_in - 1


def count_(draw: st.DrawFn, low: int, high: int) -> int:
    """A count drawn evenly from low..high (shrinks to low)."""
    return draw(st.sampled_from(range(low, high + 1)))


def iso(day: dt.date) -> str:
    return day.isoformat()


@dataclass
class Context:
    """What later draws need to know about the household drawn so far."""

    as_of: dt.date
    data: Data
    next_lot: int = 1
    notes: list[str] = field(default_factory=list)

    def lot_id(self, prefix: str = "L") -> str:
        # Explicit ids never contain ':', so they cannot collide with default ids '<account>:<n>'.
        self.next_lot += 1
        return f"{prefix}{self.next_lot - 1}"

    @property
    def accounts(self) -> list[Data]:
        return self.data["accounts"]

    @property
    def securities(self) -> dict[str, Data]:
        return self.data["securities"]

    def price(self, ticker: str) -> float:
        return float(self.securities[ticker]["price"])

    def lot_count(self) -> int:
        return sum(len(a.get("lots", [])) for a in self.accounts)

    def held(self) -> set[str]:
        """Securities held in a tradable account (lots or holdings)."""
        out: set[str] = set()
        for a in self.accounts:
            if a.get("tradable", True):
                out |= {lot["security"] for lot in a.get("lots", [])} | set(a.get("holdings", {}))
        return out

    def lot_ids(self) -> list[str]:
        """Every lot's id as the scenario names it (explicit, or '<account>:<n>')."""
        return [
            lot.get("id") or f"{a['id']}:{n}" for a in self.accounts for n, lot in enumerate(a.get("lots", []), start=1)
        ]

    def classes_of(self, ticker: str) -> list[str]:
        asset_class = self.securities[ticker]["asset_class"]
        return [asset_class] if isinstance(asset_class, str) else list(asset_class)


# ----------------------------------------------------------------------------------------------------
# Sections


@st.composite
def tax_section(draw: st.DrawFn, as_of: dt.date, flat: bool) -> Data:
    tax: Data = {
        "filing_status": draw(st.sampled_from(["married_joint", "single", "married_separate", "head_of_household"]))
    }
    if flat:
        tax["rates"] = {
            "short_term": draw(st.sampled_from([0.35, 0.0, 0.22, 0.37, 0.99])),
            "long_term": draw(st.sampled_from([0.15, 0.0, 0.2, 0.238])),
        }
    if chance(draw, 6):
        # An explicit year: the as_of year, or the one before (planning last year's return).
        year = as_of.year - draw(st.integers(0, 1))
        if year >= 2025 or flat:
            tax["year"] = year
    if (tax.get("year") or as_of.year) > 2026 and draw(st.booleans()):
        tax["indexing_rate"] = draw(st.sampled_from([0.025, 0.0, -0.05, 0.2]))
    bracket = st.sampled_from([150_000, 0, 15_000, 48_000, 95_000, 200_000, 400_000, 750_000, 3_000_000])
    income = draw(bracket) * draw(st.integers(80, 120)) / 100
    tax["ordinary_income"] = round(income, 2)
    if draw(st.booleans()):
        tax["other_investment_income"] = round(income * draw(st.sampled_from([0.0, 0.1, 1.0])), 2)
    if draw(st.booleans()):
        tax["qualified_dividends"] = draw(dollars(0, 60_000))
    if chance(draw, 4):
        tax["deduction"] = draw(dollars(0, 80_000))
    if draw(st.booleans()):
        tax["realized_ytd"] = {
            "short_term": draw(dollars(-30_000, 30_000)),
            "long_term": draw(dollars(-30_000, 150_000)),
        }
    if chance(draw, 4):
        tax["carryforward"] = {"short_term": draw(dollars(0, 20_000)), "long_term": draw(dollars(0, 60_000))}
    if draw(st.booleans()):
        tax["state_rate"] = draw(st.sampled_from([0.05, 0.0, 0.093, 0.133]))
    return tax


@st.composite
def targets(draw: st.DrawFn) -> Data:
    """One to four classes in integer percents summing to 100, zeros allowed, with or without cash."""
    chosen = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=4, unique=True))
    cash = draw(st.sampled_from([None, 5, 0, 2, 10, 30]))
    parts = [draw(st.integers(0, 10)) for _ in chosen]
    if sum(parts) == 0:
        parts[0] = 1
    room = 100 - (cash or 0)
    percents = [room * p // sum(parts) for p in parts]
    first = next(i for i, p in enumerate(parts) if p > 0)
    percents[first] += room - sum(percents)
    out = {c: p / 100 for c, p in zip(chosen, percents, strict=True)}
    if cash is not None:
        out[CASH] = cash / 100
    return out


@st.composite
def bands(draw: st.DrawFn) -> Data | None:
    return draw(
        st.sampled_from(
            [
                None,
                {"absolute": 0.05, "relative": 0.25},
                {"absolute": 0.02},
                {"absolute": 0.10, "relative": None},
                {"absolute": 0.5, "relative": None},
                {"absolute": 0.05, "relative": 0.0},
                {"absolute": 0.0},
            ]
        )
    )


@st.composite
def securities(draw: st.DrawFn, target_classes: list[str]) -> Data:
    """One or two catalog tickers per targeted class, maybe a multi-asset fund and a money-market fund."""
    out: Data = {}
    for asset_class in [c for c in target_classes if c != CASH]:
        options = _tickers_of(asset_class)
        count = draw(st.integers(1, min(2, len(options))))
        for ticker in draw(st.lists(st.sampled_from(options), min_size=count, max_size=count, unique=True)):
            out[ticker] = {}
    if chance(draw, 4):
        out[draw(st.sampled_from(_tickers_of(CASH)))] = {}
    while len(out) > MAX_SECURITIES - 2:  # room for a fund and an edge's security
        out.pop(next(reversed(out)))
    for ticker in out:
        asset_class, price, group = CATALOG[ticker]
        if asset_class == CASH:
            out[ticker] = {"price": draw(st.sampled_from([1.0, 10.0])), "asset_class": CASH}
        else:
            price = round(max(0.01, price * draw(st.integers(40, 160)) / 100), 2)
            out[ticker] = {"price": price, "asset_class": asset_class}
        if group is not None and not chance(draw, 3):
            out[ticker]["wash_group"] = group
    non_cash = [c for c in target_classes if c != CASH]
    if len(non_cash) >= 2 and chance(draw, 4):
        split_classes = draw(st.lists(st.sampled_from(non_cash), min_size=2, max_size=3, unique=True))
        if draw(st.booleans()):
            split_classes.append(CASH)
        parts = [draw(st.integers(1, 9)) for _ in split_classes]
        percents = [100 * p // sum(parts) for p in parts]
        percents[0] += 100 - sum(percents)
        fund = draw(st.sampled_from(FUNDS))
        out[fund] = {
            "price": draw(st.sampled_from([45.0, 12.34, 103.5])),
            "asset_class": {c: p / 100 for c, p in zip(split_classes, percents, strict=True)},
        }
    if len(out) >= 2 and chance(draw, 5):
        # A wash group shared by two securities the catalog does not pair (possibly across classes).
        pair = draw(st.lists(st.sampled_from(sorted(out)), min_size=2, max_size=2, unique=True))
        for ticker in pair:
            out[ticker]["wash_group"] = "shared"
    return out


@st.composite
def lot(draw: st.DrawFn, ctx: Context, tickers: list[str]) -> Data:
    ticker = draw(st.sampled_from(tickers))
    price = ctx.price(ticker)
    shares = draw(share_count())
    ratio = (
        draw(st.sampled_from([0.8, 0.05, 0.5, 0.97, 1.0, 1.03, 1.2, 2.0, 3.0, 0.0])) * draw(st.integers(90, 110)) / 100
    )
    age = draw(
        st.one_of(
            st.integers(366, 4000),
            st.sampled_from([0, 1, 29, 30, 31, 364, 365, 366, 367]),
            st.integers(0, 30),
            st.integers(31, 364),
            st.integers(4000, 20000),
        )
    )
    out: Data = {"security": ticker, "shares": shares}
    if draw(st.booleans()):
        out["cost_per_share"] = round(price * ratio, 4)
    else:
        out["cost_total"] = round(price * ratio * shares, 2)
    out["acquired"] = iso(ctx.as_of - dt.timedelta(days=age))
    if chance(draw, 8):
        out["inherited"] = True
    if draw(st.booleans()):
        out = {"id": ctx.lot_id(), **out}
    return out


ACCOUNT_NAMES = {"taxable": "brokerage", "tax_deferred": "ira", "tax_exempt": "roth"}
ODD_NAMES = ["Joint Brokerage", "401(k)", "hsa", "trust-2"]


@st.composite
def account(draw: st.DrawFn, ctx: Context, kind: str, taken: set[str]) -> Data:
    name = ACCOUNT_NAMES[kind]
    if chance(draw, 10):
        name = draw(st.sampled_from(ODD_NAMES))
    base, n = name, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    tickers = sorted(ctx.securities)
    out: Data = {"id": name, "type": kind}
    if draw(st.booleans()):
        out["cash"] = draw(st.one_of(dollars(0, 30_000), st.just(0.0)))
    room = MAX_LOTS - ctx.lot_count()
    if kind == "taxable":
        count = 0 if chance(draw, 8) or room < 1 else count_(draw, 1, min(8, room))
    else:
        count = count_(draw, 0, min(2, room)) if chance(draw, 4) else 0
        size = 0 if chance(draw, 8) else 1
        holdings = draw(st.dictionaries(st.sampled_from(tickers), share_count(), min_size=size, max_size=4))
        if holdings:
            out["holdings"] = holdings
    lots = [draw(lot(ctx, tickers)) for _ in range(count)]
    if lots:
        out["lots"] = lots
    # Flows and floors in proportion to what the account holds, so that most households can keep them;
    # sometimes more than it holds (a withdrawal or a floor no plan can fund: exit 3).
    value = out.get("cash", 0.0) + sum(ctx.price(t) * n for t, n in out.get("holdings", {}).items())
    value += sum(ctx.price(held["security"]) * held["shares"] for held in lots)
    tradable = not chance(draw, 8)
    contribution = draw(st.one_of(st.just(0.0), dollars(100, 50_000)))
    if value > 0 and tradable and chance(draw, 3):
        # A part of the account; now and then all of it (closing the account) or more than it holds.
        part = draw(st.sampled_from([0.1, 0.02, 0.5, 0.9]))
        part = 1.0 if chance(draw, 8) else 1.5 if chance(draw, 15) else part
        contribution = -round(max(1.0, part * value), 2)
    if contribution:
        out["contribution"] = contribution
    if chance(draw, 3):
        floor = 2.0 if chance(draw, 20) else draw(st.sampled_from([0.01, 0.0, 0.05, 0.2]))
        out["min_cash"] = round(floor * max(0.0, value + contribution), 2) if not chance(draw, 20) else 10_000.0
        if not tradable:  # a held-away account keeps the cash it has; a higher floor could never be met
            out["min_cash"] = min(out["min_cash"], out.get("cash", 0.0))
    if chance(draw, 5):
        out["buyable"] = (
            [] if chance(draw, 8) else draw(st.lists(st.sampled_from(tickers), min_size=1, max_size=4, unique=True))
        )
    if not tradable:
        out["tradable"] = False  # held away: no withdrawal from it (the edge untradable_flow tries one)
    return out


@st.composite
def recent_trades(draw: st.DrawFn, ctx: Context) -> list[Data]:
    ids = [a["id"] for a in ctx.accounts]
    tickers = sorted(ctx.securities)
    out = []
    for _ in range(count_(draw, 0, 3)):
        action = draw(st.sampled_from(["buy", "sell"]))
        trade: Data = {
            "date": iso(ctx.as_of - dt.timedelta(days=draw(st.integers(0, WINDOW_DAYS)))),
            "account": draw(st.sampled_from(ids)),
            "security": draw(st.sampled_from(tickers)),
            "action": action,
            "shares": draw(share_count()),
        }
        if action == "sell" and not chance(draw, 4):
            trade["realized_gain"] = draw(dollars(-8_000, 5_000))
        out.append(trade)
    if draw(st.booleans()):
        # Lots bought inside the window listed again as purchases (design §3: recent_trades lists them all).
        for a in ctx.accounts:
            for held in a.get("lots", []):
                if not held.get("inherited") and dt.date.fromisoformat(held["acquired"]) >= ctx.as_of - dt.timedelta(
                    days=WINDOW_DAYS
                ):
                    out.append(
                        {
                            "date": held["acquired"],
                            "account": a["id"],
                            "security": held["security"],
                            "action": "buy",
                            "shares": held["shares"],
                        }
                    )
    return out


@st.composite
def planned_purchases(draw: st.DrawFn, ctx: Context) -> list[Data]:
    ids = [a["id"] for a in ctx.accounts]
    return [
        {
            "date": iso(ctx.as_of + dt.timedelta(days=draw(st.integers(1, 60)))),
            "account": draw(st.sampled_from(ids)),
            "security": draw(st.sampled_from(sorted(ctx.securities))),
            "amount": draw(dollars(50, 5_000)),
        }
        for _ in range(count_(draw, 0, 2))
    ]


@st.composite
def rules(draw: st.DrawFn, ctx: Context) -> Data:
    out: Data = {}

    def maybe(key: str, strategy: st.SearchStrategy[Any]) -> None:
        if draw(st.booleans()):
            out[key] = draw(strategy)

    maybe("contributions_first", st.booleans())
    maybe("wash_sales", st.sampled_from(["avoid", "ignore"]))
    maybe("min_trade", st.sampled_from([0.0, 100.0, 1.0, 50.0, 1_000.0, 25_000.0]))
    maybe("whole_shares", st.booleans())
    maybe("max_trades", st.sampled_from([None, 5, 0, 1, 2, 3, 10]))
    maybe("no_short_term_gains", st.booleans())
    maybe("max_realized_gain", st.sampled_from([None, 10_000.0, 0.0, -2_000.0, 1_000.0, 100_000.0]))
    maybe("max_tracking_error", st.sampled_from([None, 0.01, 0.0005, 0.002, 0.03, 0.1, 1.0]))
    maybe("harvest_in_band", st.booleans())
    if chance(draw, 4):
        names = sorted(ctx.securities) + ctx.lot_ids()
        out["do_not_sell"] = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    if chance(draw, 5):
        out["do_not_buy"] = draw(st.lists(st.sampled_from(sorted(ctx.securities)), max_size=3, unique=True))
    if draw(st.booleans()):
        out["costs"] = {
            "commission": draw(st.sampled_from([0.0, 1.0, 4.95, 20.0])),
            "spread_bps": draw(st.sampled_from([0.0, 2.0, 1.0, 25.0, 100.0])),
        }
    return out


@st.composite
def risk_model(draw: st.DrawFn, ctx: Context, quadratic: bool) -> Data | None:
    """None, volatility/correlation overrides, or the factor form (always valid for the household)."""
    classes = [c for c in ctx.data["targets"] if c != CASH]
    unknown = [c for c in [*ctx.data["targets"], CASH] if c in UNKNOWN_TO_RISK_MODEL]
    form = draw(st.sampled_from(["none", "volatility", "factors"]))
    if form == "none" and not (quadratic and unknown):
        return None
    if form in ("none", "volatility"):
        volatility = {c: UNKNOWN_TO_RISK_MODEL[c] for c in unknown}
        for c in draw(st.lists(st.sampled_from([*classes, CASH]), max_size=2, unique=True)):
            volatility[c] = draw(st.sampled_from([0.16, 0.0, 0.05, 0.4]))
        out: Data = {"volatility": volatility} if volatility else {}
        pool = [*classes, CASH]
        if len(pool) >= 2 and draw(st.booleans()):
            correlation = {}
            for _ in range(draw(st.integers(1, 3))):
                a, b = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2, unique=True))
                # Strong negative correlations among three classes make an invalid matrix: repaired.
                correlation[f"{a}.{b}"] = draw(st.sampled_from([0.5, 0.0, -0.9, 0.95, 1.0, -1.0]))
            out["correlation"] = correlation
        return out or None
    factors = ["market", "rates", "size"][: draw(st.integers(1, 3))]
    variances = [draw(st.sampled_from([0.03, 0.0004, 0.01, 0.06])) for _ in factors]
    both_triangles = draw(st.booleans())
    covariance: Data = {}
    for i, a in enumerate(factors):
        covariance[a] = {a: variances[i]}
        for j in range(i + 1, len(factors)):
            rho = draw(st.sampled_from([0.0, 0.3, -0.5, 0.6]))
            value = round(rho * math.sqrt(variances[i] * variances[j]), 6)
            covariance[a][factors[j]] = value
    if both_triangles:
        for i, a in enumerate(factors):
            for b in factors[i + 1 :]:
                covariance[b][a] = covariance[a][b]
    loadings = {}
    for c in classes:
        named = draw(st.lists(st.sampled_from(factors), min_size=1, max_size=len(factors), unique=True))
        loadings[c] = {f: draw(st.integers(-150, 150)) / 100 for f in named}
    out = {"loadings": loadings, "factor_covariance": covariance}
    specific = {
        c: draw(st.sampled_from([0.001, 0.0, 0.02])) for c in draw(st.lists(st.sampled_from(classes), unique=True))
    }
    if specific:
        out["specific_variance"] = specific
    return out


@st.composite
def objective(draw: st.DrawFn, ctx: Context) -> Data:
    tracking = draw(st.sampled_from(["quadratic", "quadratic", "absolute"]))
    out: Data = {"tracking": tracking, "tax_weight": draw(st.sampled_from([1.0, 0.0, 0.1, 0.5, 2.0, 10.0, 100.0]))}
    model = draw(risk_model(ctx, tracking == "quadratic"))
    if model is not None:
        out["risk_model"] = model
    return out


@st.composite
def yearend_section(draw: st.DrawFn) -> Data:
    out: Data = {}
    for key in ("harvest_losses", "harvest_gains"):
        if draw(st.booleans()):
            out[key] = draw(st.booleans())
    if draw(st.booleans()):
        out["target_net_realized"] = draw(st.sampled_from([-3000.0, 0.0, 5_000.0, -20_000.0]))
    if draw(st.booleans()):
        out["next_year"] = {
            "ordinary_income": draw(st.sampled_from([150_000.0, 0.0, 40_000.0, 600_000.0])),
            "short_term": draw(dollars(-5_000, 5_000)),
            "long_term": draw(dollars(-5_000, 20_000)),
        }
    if draw(st.booleans()):
        out["future_long_term_rate"] = draw(st.sampled_from([0.15, 0.0, 0.238, 0.5]))
        out["years_until_sale"] = draw(st.sampled_from([10.0, 0.0, 1.0, 30.0]))
        out["discount_rate"] = draw(st.sampled_from([0.04, 0.0, 0.1]))
    return out


@st.composite
def unwind_section(draw: st.DrawFn, ctx: Context, tax_year: int) -> Data | None:
    held = sorted(ctx.held())
    if not held:
        return None
    horizon = draw(st.integers(1, 3))
    per_year = 12 if chance(draw, 6) else draw(st.sampled_from([1, 4]))
    if per_year == 12:
        horizon = 1
    periods = horizon * per_year
    out: Data = {"security": draw(st.sampled_from(held)), "horizon_years": horizon, "periods_per_year": per_year}
    out["max_weight"] = draw(st.sampled_from([0.0, 0.1, 0.05, 0.25, 1.0]))
    unit = draw(st.sampled_from(["shares", "fraction"]))
    if draw(st.booleans()):
        if unit == "fraction":
            out["per_period_unit"] = "fraction"
            high = draw(st.sampled_from([0.5, 0.1, 0.25, 1.0]))
            low = draw(st.sampled_from([0.0, 0.05, high]))
        else:
            high = draw(st.sampled_from([1_000.0, 100_000.0, 10.0, 100.0]))
            low = draw(st.sampled_from([0.0, 1.0, 10.0]))
        if draw(st.booleans()):
            out["max_per_period"] = high
        if draw(st.booleans()):
            out["min_per_period"] = min(low, high)
    if periods > 1 and chance(draw, 4):
        out["blackout"] = draw(st.lists(st.integers(1, periods), max_size=2, unique=True))
    if draw(st.booleans()):
        years = draw(st.lists(st.integers(tax_year, tax_year + horizon), max_size=2, unique=True))
        out["years"] = {
            year: {
                "ordinary_income": draw(st.sampled_from([40_000.0, 0.0, 300_000.0])),
                "gift_budget": draw(st.sampled_from([0.0, 10_000.0, 1_000_000.0])),
            }
            for year in years
        }
    if draw(st.booleans()):
        out["expected_return"] = draw(st.sampled_from([0.06, 0.0, -0.3, 0.2]))
        out["market_return"] = draw(st.sampled_from([0.06, 0.0, -0.2]))
    if draw(st.booleans()):
        out["price_scenarios"] = [
            {
                "name": f"path-{k}",
                "security": draw(st.sampled_from([-0.4, 0.0, -0.9, 0.5])),
                "market": draw(st.sampled_from([0.0, -0.3, 0.1])),
            }
            for k in range(draw(st.integers(1, 2)))
        ]
    if draw(st.booleans()):
        out["discount_rate"] = draw(st.sampled_from([0.04, 0.0, 0.2]))
        out["idiosyncratic_volatility"] = draw(st.sampled_from([0.3, 0.0, 1.0]))
        out["risk_weight"] = draw(st.sampled_from([0.5, 0.0, 0.02, 5.0]))
    return out


@st.composite
def whatif_section(draw: st.DrawFn, ctx: Context) -> Data:
    """One or two named variants, each a few `path: value` overrides that keep the household valid."""
    choices: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("rules.whole_shares", st.booleans()),
        ("bands.absolute", st.sampled_from([0.02, 0.1])),
        ("rules.min_trade", st.sampled_from([100.0, 1_000.0])),
        ("objective.tax_weight", st.sampled_from([0.0, 5.0])),
        ("tax.ordinary_income", st.sampled_from([40_000.0, 600_000.0])),
        ("rules.wash_sales", st.sampled_from(["ignore", "avoid"])),
        ("rules.max_trades", st.sampled_from([3, 1])),
        ("rules.costs.spread_bps", st.sampled_from([10.0, 0.0])),
    ]
    tradable = [i for i, a in enumerate(ctx.accounts) if a.get("tradable", True)]
    if tradable:
        choices.append((f"accounts[{tradable[0]}].contribution", st.sampled_from([5_000.0, 0.0])))
    out: Data = {}
    for k in range(count_(draw, 1, 2)):
        picked = draw(st.lists(st.sampled_from([path for path, _ in choices]), min_size=1, max_size=2, unique=True))
        out[f"variant-{k + 1}"] = {path: draw(dict(choices)[path]) for path in picked}
    return out


# ----------------------------------------------------------------------------------------------------
# Edges: shapes that broke the engine before (issue 10), each a small reshaping of a drawn household


def _account_of(ctx: Context, kinds: tuple[str, ...], tradable: bool = True) -> Data | None:
    """An existing account of one of these types (tradable when asked), or a new one if there is room."""
    for a in ctx.accounts:
        if a["type"] in kinds and a.get("tradable", True) == tradable:
            return a
    if len(ctx.accounts) >= MAX_ACCOUNTS:
        return None
    taken = {a["id"] for a in ctx.accounts}
    name, n = f"edge-{kinds[0]}", 2
    while name in taken:
        name, n = f"edge-{kinds[0]}-{n}", n + 1
    new: Data = {"id": name, "type": kinds[0]}
    if not tradable:
        new["tradable"] = False
    ctx.accounts.append(new)
    return new


def _stock(ctx: Context) -> str | None:
    """A non-cash security of the household (the first one), or None."""
    return next((t for t, s in ctx.securities.items() if s["asset_class"] != CASH), None)


def _add_security(ctx: Context, ticker: str, target_if_new: float = 0.0) -> bool:
    """Add a catalog security (and its class with a 0 target when untargeted); False when there's no room."""
    if ticker in ctx.securities:
        return True
    if len(ctx.securities) >= MAX_SECURITIES:
        return False
    asset_class, price, _ = CATALOG[ticker]
    ctx.securities[ticker] = {"price": price, "asset_class": asset_class}
    if asset_class != CASH:
        ctx.data["targets"].setdefault(asset_class, target_if_new)
    return True


def _add_lot(
    ctx: Context, account: Data, ticker: str, shares: float, basis_ratio: float, age_days: int, **extra: Any
) -> Data | None:
    if ctx.lot_count() >= MAX_LOTS:
        return None
    new = {
        "id": ctx.lot_id("E"),
        "security": ticker,
        "shares": shares,
        "cost_per_share": round(ctx.price(ticker) * basis_ratio, 4),
        "acquired": iso(ctx.as_of - dt.timedelta(days=age_days)),
        **extra,
    }
    account.setdefault("lots", []).append(new)
    return new


def _rules(ctx: Context) -> Data:
    return ctx.data.setdefault("rules", {})


def _recent(ctx: Context, **trade: Any) -> None:
    ctx.data.setdefault("recent_trades", []).append(trade)


def _recent_loss_sale(draw: st.DrawFn, ctx: Context, account_id: str, ticker: str, gain: float) -> None:
    """A sale of 10 shares at a loss on a day of the last 30."""
    day = ctx.as_of - dt.timedelta(days=draw(st.integers(0, WINDOW_DAYS)))
    _recent(ctx, date=iso(day), account=account_id, security=ticker, action="sell", shares=10.0, realized_gain=gain)


def edge_small_sellable_lot(draw: st.DrawFn, ctx: Context) -> None:
    """min_trade 100 and a position whose only sellable lot is worth less (the rest do_not_sell or wash-blocked)."""
    brokerage, ticker = _account_of(ctx, ("taxable",)), _stock(ctx)
    if brokerage is None or ticker is None:
        return
    price = ctx.price(ticker)
    blocked_by_wash = draw(st.booleans())
    big = _add_lot(ctx, brokerage, ticker, float(max(1, round(5_000 / price))), 1.4 if blocked_by_wash else 0.6, 900)
    small = _add_lot(ctx, brokerage, ticker, round(draw(st.sampled_from([60.0, 30.0, 99.0])) / price, 4), 0.7, 1200)
    if big is None or small is None:
        return
    _rules(ctx)["min_trade"] = 100.0
    if blocked_by_wash:
        _rules(ctx)["wash_sales"] = "avoid"
        _recent(
            ctx,
            date=iso(ctx.as_of - dt.timedelta(days=5)),
            account=brokerage["id"],
            security=ticker,
            action="buy",
            shares=1.0,
        )
    else:
        _rules(ctx).setdefault("do_not_sell", []).append(big["id"])


def edge_wash_blocked_menu(draw: st.DrawFn, ctx: Context) -> None:
    """New cash in an account whose whole menu was sold at a loss in the last 30 days."""
    into = _account_of(ctx, draw(st.sampled_from([("tax_deferred",), ("taxable",), ("tax_exempt",)])))
    ticker = _stock(ctx)
    if into is None or ticker is None:
        return
    into["contribution"] = draw(st.sampled_from([10_000.0, 500.0, 60_000.0]))
    into["buyable"] = [ticker]
    seller = _account_of(ctx, ("taxable",)) or into
    _recent_loss_sale(draw, ctx, seller["id"], ticker, -1_500.0)
    _rules(ctx).update(wash_sales="avoid", contributions_first=True)


def edge_new_cash_zero_target_menu(draw: st.DrawFn, ctx: Context) -> None:
    """New cash in an account that can only buy a class with a 0 target."""
    zero = [
        t
        for t, s in ctx.securities.items()
        if isinstance(s["asset_class"], str)
        and s["asset_class"] != CASH
        and ctx.data["targets"].get(s["asset_class"], 0.0) == 0.0
    ]
    if not zero:
        extra = next((t for t in ("SCHP", "VNQ", "IEMG") if CATALOG[t][0] not in ctx.data["targets"]), None)
        if extra is None or not _add_security(ctx, extra):
            return
        zero = [extra]
    into = _account_of(ctx, (draw(st.sampled_from(["tax_deferred", "taxable", "tax_exempt"])),))
    if into is None:
        return
    into["contribution"] = draw(st.sampled_from([5_000.0, 100.0, 50_000.0]))
    into["buyable"] = [zero[0]]
    _rules(ctx)["contributions_first"] = True


def edge_fractional_lots_whole_shares(draw: st.DrawFn, ctx: Context) -> None:
    """whole_shares with lots of 0.3, 7.5 and 12.25 shares of one security, at a gain and at a loss."""
    brokerage, ticker = _account_of(ctx, ("taxable",)), _stock(ctx)
    if brokerage is None or ticker is None:
        return
    for shares, ratio, age in ((0.3, 0.5, 800), (7.5, 1.3, 900), (12.25, 0.8, 200)):
        _add_lot(ctx, brokerage, ticker, shares, ratio, age)
    _rules(ctx)["whole_shares"] = True


def edge_all_cash(draw: st.DrawFn, ctx: Context) -> None:
    """Every account holds only cash."""
    for a in ctx.accounts:
        a.pop("lots", None)
        a.pop("holdings", None)
        a["cash"] = draw(st.sampled_from([20_000.0, 0.0, 150.0]))


def edge_harvest_in_band(draw: st.DrawFn, ctx: Context) -> None:
    """Every class inside wide bands, no flows, a long-term loss lot and a substitute in another wash group."""
    brokerage, ticker = _account_of(ctx, ("taxable",)), _stock(ctx)
    if brokerage is None or ticker is None:
        return
    asset_class = ctx.securities[ticker]["asset_class"]
    if isinstance(asset_class, str):
        substitutes = [t for t in _tickers_of(asset_class) if t != ticker]
        if substitutes and _add_security(ctx, substitutes[0]):
            ctx.securities[substitutes[0]]["wash_group"] = f"{substitutes[0]}-own"
    ctx.data["bands"] = {"absolute": 0.5, "relative": None}
    for a in ctx.accounts:
        a.pop("contribution", None)
    _add_lot(ctx, brokerage, ticker, float(max(1, round(30_000 / ctx.price(ticker)))), 1.5, 1_100)
    if draw(st.booleans()):
        _rules(ctx)["harvest_in_band"] = draw(st.booleans())


def edge_withdrawal_from_cash(draw: st.DrawFn, ctx: Context) -> None:
    """A withdrawal paid from cash that leaves cash far from its target."""
    into = _account_of(ctx, (draw(st.sampled_from(["taxable", "tax_deferred"])),))
    if into is None:
        return
    into["cash"] = 40_000.0
    into["contribution"] = -draw(st.sampled_from([38_000.0, 40_000.0, 20_000.0]))
    into.pop("min_cash", None)


def edge_inherited_last_week(draw: st.DrawFn, ctx: Context) -> None:
    """An inherited lot acquired days ago (not a purchase) beside a long-term loss lot of the same security."""
    brokerage, ticker = _account_of(ctx, ("taxable",)), _stock(ctx)
    if brokerage is None or ticker is None:
        return
    _add_lot(
        ctx, brokerage, ticker, 20.0, draw(st.sampled_from([1.0, 1.2, 0.9])), draw(st.integers(0, 10)), inherited=True
    )
    _add_lot(ctx, brokerage, ticker, 40.0, 1.4, 1_000)


def edge_ira_loss_sale(draw: st.DrawFn, ctx: Context) -> None:
    """A 'loss' sale inside an IRA in the window (no loss exists there), the security wanted now."""
    ira, ticker = _account_of(ctx, ("tax_deferred", "tax_exempt")), _stock(ctx)
    if ira is None or ticker is None:
        return
    _recent_loss_sale(draw, ctx, ira["id"], ticker, -2_000.0)
    ira["contribution"] = 10_000.0


def edge_flat_rates_large_loss(draw: st.DrawFn, ctx: Context) -> None:
    """Flat rates and a lot with a $50,000 loss (the $3,000 limit applies)."""
    brokerage, ticker = _account_of(ctx, ("taxable",)), _stock(ctx)
    if brokerage is None or ticker is None:
        return
    ctx.data["tax"]["rates"] = {"short_term": 0.35, "long_term": 0.2}
    price = ctx.price(ticker)
    shares = float(max(1, round(100_000 / price)))
    _add_lot(ctx, brokerage, ticker, shares, 1.0 + 50_000 / (shares * price), draw(st.sampled_from([800, 100])))


def edge_position_below_min_trade(draw: st.DrawFn, ctx: Context) -> None:
    """A position worth less than min_trade (a holding or a lot)."""
    ticker = _stock(ctx)
    holder = _account_of(ctx, (draw(st.sampled_from(["tax_deferred", "taxable"])),))
    if holder is None or ticker is None:
        return
    _rules(ctx)["min_trade"] = 500.0
    shares = round(draw(st.sampled_from([100.0, 450.0, 499.0])) / ctx.price(ticker), 4)
    if holder["type"] == "taxable":
        _add_lot(ctx, holder, ticker, shares, 0.9, 700)
    else:
        holder.setdefault("holdings", {})[ticker] = shares


def edge_untradable_flow(draw: st.DrawFn, ctx: Context) -> None:
    """New money or a withdrawal in an account that never trades."""
    away = _account_of(ctx, (draw(st.sampled_from(["taxable", "tax_deferred"])),), tradable=False)
    if away is None:
        return
    away["cash"] = draw(st.sampled_from([5_000.0, 0.0]))
    away["contribution"] = draw(st.sampled_from([10_000.0, -2_000.0, -10_000.0]))


def edge_one_class(draw: st.DrawFn, ctx: Context) -> None:
    """Everything in one class (the others, cash included, at 0)."""
    keep = draw(st.sampled_from(sorted(ctx.data["targets"])))
    ctx.data["targets"] = {c: (1.0 if c == keep else 0.0) for c in ctx.data["targets"]}


def edge_zero_width_bands(draw: st.DrawFn, ctx: Context) -> None:
    ctx.data["bands"] = draw(st.sampled_from([{"absolute": 0.0}, {"absolute": 0.05, "relative": 0.0}]))


def edge_recent_buy_blocks_loss(draw: st.DrawFn, ctx: Context) -> None:
    """A loss lot whose wash group was bought in another account (an IRA) in the window, or will be."""
    brokerage, ticker = _account_of(ctx, ("taxable",)), _stock(ctx)
    other = _account_of(ctx, ("tax_deferred", "tax_exempt"))
    if brokerage is None or ticker is None or other is None:
        return
    _add_lot(ctx, brokerage, ticker, float(max(1, round(20_000 / ctx.price(ticker)))), 1.3, 600)
    if draw(st.booleans()):
        _recent(
            ctx,
            date=iso(ctx.as_of - dt.timedelta(days=draw(st.integers(0, 30)))),
            account=other["id"],
            security=ticker,
            action="buy",
            shares=3.0,
        )
    else:
        ctx.data.setdefault("planned_purchases", []).append(
            {
                "date": iso(ctx.as_of + dt.timedelta(days=draw(st.integers(1, 35)))),
                "account": other["id"],
                "security": ticker,
                "amount": 400.0,
            }
        )


def edge_expensive_whole_shares(draw: st.DrawFn, ctx: Context) -> None:
    """whole_shares with a security that costs more than most of the cash."""
    ticker = _stock(ctx)
    if ticker is None:
        return
    ctx.securities[ticker]["price"] = draw(st.sampled_from([5_000.0, 900.0]))
    _rules(ctx)["whole_shares"] = True


def edge_nothing_sellable(draw: st.DrawFn, ctx: Context) -> None:
    """do_not_sell every security: only new cash can move the allocation."""
    _rules(ctx)["do_not_sell"] = sorted(ctx.securities)


EDGES: dict[str, Callable[[st.DrawFn, Context], None]] = {
    "small_sellable_lot": edge_small_sellable_lot,
    "wash_blocked_menu": edge_wash_blocked_menu,
    "new_cash_zero_target_menu": edge_new_cash_zero_target_menu,
    "fractional_lots_whole_shares": edge_fractional_lots_whole_shares,
    "all_cash": edge_all_cash,
    "harvest_in_band": edge_harvest_in_band,
    "withdrawal_from_cash": edge_withdrawal_from_cash,
    "inherited_last_week": edge_inherited_last_week,
    "ira_loss_sale": edge_ira_loss_sale,
    "flat_rates_large_loss": edge_flat_rates_large_loss,
    "position_below_min_trade": edge_position_below_min_trade,
    "untradable_flow": edge_untradable_flow,
    "one_class": edge_one_class,
    "zero_width_bands": edge_zero_width_bands,
    "recent_buy_blocks_loss": edge_recent_buy_blocks_loss,
    "expensive_whole_shares": edge_expensive_whole_shares,
    "nothing_sellable": edge_nothing_sellable,
}


# ----------------------------------------------------------------------------------------------------
# The household


def _prune(ctx: Context) -> None:
    """Keep references valid after the edges reshaped the household (lots removed, ids moved)."""
    names = set(ctx.securities) | set(ctx.lot_ids())
    rules_ = ctx.data.get("rules", {})
    if "do_not_sell" in rules_:
        rules_["do_not_sell"] = [n for n in dict.fromkeys(rules_["do_not_sell"]) if n in names]
    for key in ("recent_trades", "planned_purchases"):
        if not ctx.data.get(key):
            ctx.data.pop(key, None)


@st.composite
def households(
    draw: st.DrawFn,
    edges: bool = True,
    yearend: bool | None = None,
    unwind: bool | None = None,
    whatif: bool | None = None,
) -> Data:
    """One household as scenario data (see the module docstring). `edges=False` draws no edge;
    `yearend` / `unwind` / `whatif`: True always writes that section (unwind: when a tradable account
    holds something), False never, None sometimes."""
    flat = chance(draw, 5)
    as_of = draw(st.one_of(st.dates(FIRST_AS_OF, LAST_AS_OF), st.sampled_from(EDGE_AS_OF)))
    if flat and chance(draw, 4):
        as_of = as_of.replace(year=2024, day=min(as_of.day, 28))
    data: Data = {"name": "harness", "as_of": iso(as_of), "tax": draw(tax_section(as_of, flat))}
    data["targets"] = draw(targets())
    band = draw(bands())
    if band is not None:
        data["bands"] = band
    data["securities"] = draw(securities(list(data["targets"])))
    ctx = Context(as_of=as_of, data=data)
    data["accounts"] = []
    taken: set[str] = set()
    kinds = draw(
        st.lists(st.sampled_from(["taxable", "tax_deferred", "tax_exempt"]), min_size=1, max_size=MAX_ACCOUNTS)
    )
    for kind in kinds:
        data["accounts"].append(draw(account(ctx, kind, taken)))
    data["recent_trades"] = draw(recent_trades(ctx))
    data["planned_purchases"] = draw(planned_purchases(ctx))
    data["rules"] = draw(rules(ctx))
    chosen = draw(st.lists(st.sampled_from(sorted(EDGES)), max_size=2, unique=True)) if edges else []
    for name in chosen:
        EDGES[name](draw, ctx)
    data["objective"] = draw(objective(ctx))
    if yearend or (yearend is None and chance(draw, 4)):
        data["yearend"] = draw(yearend_section())
    if whatif or (whatif is None and chance(draw, 6)):
        data["whatif"] = draw(whatif_section(ctx))
    if unwind or (unwind is None and chance(draw, 5)):
        section = draw(unwind_section(ctx, int(data["tax"].get("year", as_of.year))))
        if section is not None:
            data["unwind"] = section
    _prune(ctx)
    if chosen:
        data["name"] = "harness-" + "-".join(chosen)
    assert len(data["accounts"]) <= MAX_ACCOUNTS and len(data["securities"]) <= MAX_SECURITIES
    assert ctx.lot_count() <= MAX_LOTS
    return data


# ----------------------------------------------------------------------------------------------------
# A direct-indexing household (issue 11's shape over the contract)

DI_STOCKS = (11, 24)
"""Stocks in a direct-indexing household: from 11 classes the tracking cone has more than 10 leaves, so
the engine writes it in the extended form and solves it by the conic search (solver/cone.py)."""

DI_MAX_LOTS = 60


@st.composite
def direct_indexing_households(draw: st.DrawFn) -> Data:
    """Single stocks, each its own class and target, risk from a factor model with a specific variance per
    stock (the engine's security-level path: the extended cone, the conic search, the wash-sale
    perspective), over the rest of the contract: any tax situation, bands, rules and tax weight; lots in a
    taxable account at gains and losses, some bought inside the wash-sale window; maybe an IRA or a Roth
    holding some of the same stocks, and a purchase there in the window that blocks a loss sale; now and then
    two stocks in one wash group (share classes), a year-end or what-if section."""
    flat = chance(draw, 3)
    as_of = draw(st.one_of(st.dates(FIRST_AS_OF, LAST_AS_OF), st.sampled_from(EDGE_AS_OF[:3])))
    data: Data = {"name": "harness-direct-indexing", "as_of": iso(as_of), "tax": draw(tax_section(as_of, flat))}
    tickers = [f"S{k:02d}" for k in range(draw(st.integers(*DI_STOCKS)))]
    classes = {t: f"stock_{t.lower()}" for t in tickers}
    cash = draw(st.sampled_from([None, 0, 2]))
    parts = [draw(st.integers(1, 9)) for _ in tickers]
    room = 10_000 - 100 * (cash or 0)  # basis points
    points = [room * p // sum(parts) for p in parts]
    points[0] += room - sum(points)
    data["targets"] = {classes[t]: b / 10_000 for t, b in zip(tickers, points, strict=True)}
    if cash is not None:
        data["targets"][CASH] = cash / 100
    band = draw(bands())
    if band is not None:
        data["bands"] = band
    data["securities"] = {}
    for t in tickers:
        price = draw(st.sampled_from([12.5, 48.0, 95.25, 210.0, 1_450.0])) * draw(st.integers(60, 140)) / 100
        data["securities"][t] = {"price": round(price, 2), "asset_class": classes[t]}
    if chance(draw, 4):
        pair = draw(st.lists(st.sampled_from(tickers), min_size=2, max_size=2, unique=True))
        for t in pair:
            data["securities"][t]["wash_group"] = "share_classes"
    ctx = Context(as_of=as_of, data=data)
    brokerage: Data = {"id": "brokerage", "type": "taxable", "cash": draw(st.sampled_from([0.0, 2_500.0, 40_000.0]))}
    lots: list[Data] = []
    for t in tickers:
        for _ in range(draw(st.integers(0, 3))):
            if len(lots) < DI_MAX_LOTS:
                lots.append(draw(lot(ctx, [t])))
    if lots:
        brokerage["lots"] = lots
    if chance(draw, 4):
        brokerage["contribution"] = draw(st.sampled_from([10_000.0, -5_000.0]))
    data["accounts"] = [brokerage]
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["tax_deferred", "tax_exempt"]))
        held = draw(st.lists(st.sampled_from(tickers), min_size=1, max_size=6, unique=True))
        other: Data = {"id": ACCOUNT_NAMES[kind], "type": kind, "cash": draw(st.sampled_from([0.0, 5_000.0]))}
        other["holdings"] = {t: draw(share_count()) for t in held}
        data["accounts"].append(other)
        if chance(draw, 2):
            data["recent_trades"] = [
                {
                    "date": iso(as_of - dt.timedelta(days=draw(st.integers(0, 30)))),
                    "account": other["id"],
                    "security": draw(st.sampled_from(held)),
                    "action": "buy",
                    "shares": 2.0,
                }
            ]
    data["rules"] = draw(rules(ctx))
    factors = ["market", "value", "momentum", "size"][: draw(st.integers(1, 4))]
    variances = [draw(st.sampled_from([0.03, 0.01, 0.0025])) for _ in factors]
    covariance: Data = {f: {f: v} for f, v in zip(factors, variances, strict=True)}
    loadings = {
        classes[t]: {f: draw(st.integers(-150, 150)) / 100 for f in factors[: draw(st.integers(1, len(factors)))]}
        for t in tickers
    }
    specific = {classes[t]: draw(st.sampled_from([0.04, 0.01, 0.09, 0.0])) for t in tickers}
    data["objective"] = {
        "tracking": "quadratic",
        "tax_weight": draw(st.sampled_from([1.0, 0.0, 0.5, 2.0, 10.0])),
        "risk_model": {"loadings": loadings, "factor_covariance": covariance, "specific_variance": specific},
    }
    if chance(draw, 4):
        data["yearend"] = draw(yearend_section())
    if chance(draw, 6):
        data["whatif"] = draw(whatif_section(ctx))
    _prune(ctx)
    return data


# ----------------------------------------------------------------------------------------------------
# YAML


class _Dumper(yaml.SafeDumper):
    """Block style for sections, flow style for lots, trades and other small mappings of scalars."""


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.Node:
    flow_style = all(not isinstance(v, dict | list) for v in value.values()) and len(value) <= 8
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=flow_style)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow_style = all(not isinstance(v, dict | list) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow_style)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def scenario_yaml(data: Data, comment: str | None = None) -> str:
    """The household as a scenario file's text, with an optional comment at the top."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    if comment:
        text = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines()) + text
    return text
