"""Output of `rebal-opt check`: the allocation against bands and whether a rebalance is due."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class ReportModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassCheck(ReportModel):
    target: float
    weight: float
    drift: float
    low: float
    high: float
    value: float
    in_band: bool
    held: bool  # some security (or cash) of the household is in this class


class AccountCheck(ReportModel):
    id: str
    type: str
    value: float
    cash: float
    contribution: float
    tradable: bool


class CheckReport(ReportModel):
    scenario: str
    as_of: dt.date
    total_value: float
    rebalance_due: bool
    reasons: list[str]
    classes: dict[str, ClassCheck]
    tracking: str
    tracking_error: float
    accounts: list[AccountCheck]
    notes: list[str]
