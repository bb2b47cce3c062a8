"""Policy + broker files -> a complete scenario (design §6, `rebal-opt import`).

The policy (targets, bands, rules, tax situation, accounts and their types) stays in YAML; the holdings come
from the files. Each broker account in a file maps to a policy account by `broker_account` (the number as the
file writes it, its last digits for masked numbers, or a beancount parent account) or by its id. Taxable
accounts need lots with dates and cost; tax-advantaged accounts take positions. Prices come from the files
(the first file stating one wins), else from the policy.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rebal_opt.models.loading import parse_scenario
from rebal_opt.models.scenario import Scenario, new_lot_id
from rebal_opt.models.securities import complete_securities, lookup
from rebal_opt.models.yaml_io import read_yaml_file

from .base import CUSIP, Holdings, ImportedAccount, ImportedLot, SourceError
from .formats import read_source, split_source


@dataclass
class ImportOutcome:
    data: dict[str, Any]
    scenario: Scenario
    notes: list[str] = field(default_factory=list)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _matches(number: str, broker: str) -> bool:
    if number == broker:
        return True
    if broker.startswith(("Assets:", "Liabilities:")):
        return number == broker or number.startswith(broker + ":")
    a, b = _digits(number), _digits(broker)
    return bool(a) and bool(b) and (a.endswith(b) or b.endswith(a)) and min(len(a), len(b)) >= 3


def _policy_account(policy_accounts: list[dict[str, Any]], number: str) -> dict[str, Any] | None:
    for account in policy_accounts:
        brokers = account.get("broker_account")
        names = brokers if isinstance(brokers, list) else [brokers] if brokers else []
        if any(_matches(number, str(b)) for b in names):
            return account
    for account in policy_accounts:
        if account.get("id") == number:
            return account
    return None


def policy_account(
    policy_accounts: list[dict[str, Any]], number: str, owner: dict[str, Any] | None, only_account: bool
) -> dict[str, Any] | None:
    """The policy account a file's account `number` is: by `broker_account` or id, else the account whose own
    `source:` the file is, when the file holds that one account only."""
    target = _policy_account(policy_accounts, number)
    if target is None and owner is not None and only_account:
        target = owner
    return target


def import_scenario(
    policy: dict[str, Any],
    sources: Sequence[str],
    base: Path | None = None,
    policy_name: str = "policy",
    keep_sources: bool = False,
) -> ImportOutcome:
    """The complete scenario data for `policy` with holdings from `sources` and the accounts' own `source:`.

    `keep_sources`: each account that read its own file keeps `source:` (the path made absolute) so that a plan
    can be written back in that file's layout (`--ledger` for a beancount source); `rebal-opt import` drops it,
    as its output holds the lots themselves."""
    data = copy.deepcopy(policy)
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise SourceError(policy_name, "accounts", "the policy needs an accounts list (ids and types)")
    accounts: list[dict[str, Any]] = data["accounts"]
    read: list[tuple[Holdings, dict[str, Any] | None]] = [(read_source(s, base), None) for s in sources]
    kept: dict[int, str] = {}
    for account in accounts:
        spec = account.pop("source", None) if isinstance(account, dict) else None
        if spec:
            name, path = split_source(spec, base)
            read.append((read_source(spec, base), account))
            if keep_sources:
                kept[id(account)] = f"{name}:{path.resolve()}"
    notes: list[str] = []
    filled: dict[str, list[tuple[Holdings, ImportedAccount]]] = {}
    for holdings, owner in read:
        notes.extend(holdings.notes)
        for number, imported in holdings.accounts.items():
            target = policy_account(accounts, number, owner, len(holdings.accounts) == 1)
            if target is None and imported.account_type is not None:  # lots-csv may define new accounts
                target = {"id": number, "type": imported.account_type}
                accounts.append(target)
            if target is None:
                path = holdings.source.split(":", 1)[1]
                raise SourceError(
                    path,
                    f"account {number}",
                    "is not in the policy; add "
                    f"broker_account: '{number}' to the policy account it is (or list it as an account)",
                )
            if imported.account_type and imported.account_type != target.get("type"):
                path = holdings.source.split(":", 1)[1]
                raise SourceError(
                    path,
                    f"account {number}",
                    f"is {imported.account_type} in the file but "
                    f"{target.get('type')} in the policy ({target['id']}); make them agree",
                )
            filled.setdefault(str(target["id"]), []).append((holdings, imported))
    prices: dict[str, float] = {}
    for holdings, _ in read:
        for symbol, price in holdings.prices.items():
            if symbol in prices and abs(prices[symbol] - price) > 0.005 * prices[symbol]:
                notes.append(f"{holdings.source}: price of {symbol} {price:g} differs from {prices[symbol]:g} (kept)")
            prices.setdefault(symbol, price)
    taken = {
        str(lot.get("id")) for a in accounts for lot in a.get("lots") or [] if isinstance(lot, dict) and lot.get("id")
    }
    held: dict[str, tuple[Holdings, ImportedLot]] = {}  # each security, and where a file first names it
    for account in accounts:
        parts = filled.get(str(account.get("id")), [])
        if not parts:
            continue
        if account.get("lots") or account.get("holdings"):
            raise SourceError(
                policy_name,
                f"accounts.{account['id']}",
                "has holdings in the policy and in a broker file; keep them in one place",
            )
        taxable = account.get("type") == "taxable"
        lots: list[dict[str, Any]] = []
        positions: dict[str, float] = {}
        cash = 0.0
        for holdings, imported in parts:
            cash += imported.cash
            for lot in imported.lots:
                held.setdefault(lot.security, (holdings, lot))
                if not taxable:
                    positions[lot.security] = positions.get(lot.security, 0.0) + lot.shares
                    continue
                if lot.acquired is None or lot.cost_basis is None:
                    what = "no lot dates" if not holdings.lot_level else "no date or cost for this lot"
                    raise SourceError(
                        lot.where,
                        f"{lot.security}",
                        f"taxable account '{account['id']}' needs lots "
                        f"with acquired dates and cost basis, and this export has {what}; export the "
                        "lot-level file (docs/import.md) or use lots-csv",
                    )
                lot_id = lot.lot_id if lot.lot_id and lot.lot_id not in taken else None
                if lot_id:
                    taken.add(lot_id)
                entry: dict[str, Any] = {
                    "id": lot_id or new_lot_id(taken, str(account["id"]), lot.security, lot.acquired),
                    "security": lot.security,
                    "shares": lot.shares,
                    "cost_total": round(lot.cost_basis, 6),
                    "acquired": lot.acquired.isoformat(),
                }
                if lot.inherited:
                    entry["inherited"] = True
                lots.append(entry)
        account["cash"] = round(account.get("cash", 0.0) + cash, 2)
        if lots:
            account["lots"] = lots
        if positions:
            account["holdings"] = {t: n for t, n in positions.items() if n > 0}
    securities = data.get("securities") or {}
    if not isinstance(securities, dict):
        raise SourceError(policy_name, "securities", "is not a mapping of ticker to its facts (price, asset_class)")
    data["securities"] = securities
    for symbol in sorted(held):
        if symbol not in securities and lookup(symbol) is None:
            raise _unknown_security(*held[symbol])
        spec = dict(securities.get(symbol) or {})
        if symbol in prices:
            spec["price"] = prices[symbol]
        if "price" not in spec:
            raise SourceError(
                policy_name,
                f"securities.{symbol}.price",
                f"no file states a price for {symbol}; add securities.{symbol}.price to the policy",
            )
        securities[symbol] = spec
    for symbol, spec in securities.items():  # menu funds not held: refresh their prices too
        if symbol in prices and isinstance(spec, dict):
            spec["price"] = prices[symbol]
    for account in accounts:
        if id(account) in kept:
            account["source"] = kept[id(account)]
    data = complete_securities(data)
    scenario = parse_scenario(data, policy_name)
    return ImportOutcome(data, scenario, notes)


def _unknown_security(holdings: Holdings, lot: ImportedLot) -> SourceError:
    """A security neither the policy nor the security master knows: the file, row and column, and the fix."""
    path = holdings.source.split(":", 1)[1]
    named = f"'{lot.security}'" + (f" ({lot.name})" if lot.name and lot.name != lot.security else "")
    what = (
        "is a CUSIP whose fund the security master does not know by that name"
        if CUSIP.match(lot.security)
        else "is not in the security master"
    )
    return SourceError(
        path,
        lot.symbol_at or lot.where.removeprefix(f"{path}: "),
        f"{named} {what}; add it to the policy's securities with its asset class "
        f"(securities: {{'{lot.security}': {{asset_class: ...}}}})",
    )


def import_files(policy_path: str | Path, sources: Sequence[str]) -> ImportOutcome:
    """`rebal-opt import`: read the policy file and the sources (paths relative to the working directory;
    an account's own `source:` relative to the policy's folder)."""
    policy = read_yaml_file(policy_path)
    base = Path(policy_path).parent
    # Command-line sources are relative to the working directory; account sources to the policy's folder.
    resolved = [f"{split_source(s)[0]}:{split_source(s)[1].resolve()}" for s in sources]
    return import_scenario(policy, resolved, base, str(policy_path))


def load_scenario(path: str | Path) -> Scenario:
    """A scenario file whose accounts may name a `source:` broker file (read here); otherwise as
    models.loading.load_scenario."""
    data = read_yaml_file(path)
    accounts = data.get("accounts") if isinstance(data, dict) else None
    if isinstance(accounts, list) and any(isinstance(a, dict) and a.get("source") for a in accounts):
        return import_scenario(data, [], Path(path).parent, str(path), keep_sources=True).scenario
    return parse_scenario(data, str(path))
