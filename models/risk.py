"""The asset-class risk model: the shipped default (data/risk_model.yaml) merged with a scenario's override.

Tracking error is sqrt(d' Σ d) with Σ = diag(vol) · R · diag(vol) over the scenario's asset classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from .scenario import RiskModel

PSD_FLOOR = 1e-10


@dataclass(frozen=True)
class DefaultRiskModel:
    volatility: dict[str, float]
    correlation: dict[frozenset[str], float]
    default_correlation: float
    aliases: dict[str, str]

    def base(self, asset_class: str) -> str | None:
        """The base class whose risk an asset class takes, or None when the default does not know it."""
        if asset_class in self.volatility:
            return asset_class
        return self.aliases.get(asset_class)

    def rho(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        return self.correlation.get(frozenset((a, b)), self.default_correlation)


@cache
def default_risk_model() -> DefaultRiskModel:
    text = resources.files("rebal_opt.models.data").joinpath("risk_model.yaml").read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    correlation = {frozenset(key.split(".")): float(v) for key, v in raw["correlation"].items()}
    return DefaultRiskModel(
        volatility={k: float(v) for k, v in raw["classes"].items()},
        correlation=correlation,
        default_correlation=float(raw.get("default_correlation", 0.0)),
        aliases=dict(raw.get("aliases", {})),
    )


def classes_without_volatility(classes: list[str], override: RiskModel | None) -> list[str]:
    """Classes that neither the scenario's risk model nor the default gives a volatility for."""
    given = override.volatility if override is not None else {}
    default = default_risk_model()
    return [c for c in classes if c not in given and default.base(c) is None]


@dataclass(frozen=True)
class ClassRisk:
    """Σ over an ordered list of asset classes, with a note when correlations had to be repaired."""

    classes: list[str]
    covariance: np.ndarray
    repaired: bool

    def tracking_error(self, drift: np.ndarray) -> float:
        """sqrt(d' Σ d) for a drift vector d (weights) in `classes` order."""
        return float(np.sqrt(max(0.0, float(drift @ self.covariance @ drift))))


def class_risk(classes: list[str], override: RiskModel | None) -> ClassRisk:
    """The covariance matrix for `classes`: scenario figures first, then the default model.

    A correlation matrix assembled from pieces can fail to be positive semidefinite; it is then repaired
    by clipping negative eigenvalues (and re-normalizing the diagonal), and `repaired` says so.
    """
    default = default_risk_model()
    vols_given = override.volatility if override is not None else {}
    corr_given = {frozenset(k.split(".")): v for k, v in (override.correlation if override else {}).items()}
    vol = np.zeros(len(classes))
    for i, c in enumerate(classes):
        if c in vols_given:
            vol[i] = vols_given[c]
        else:
            base = default.base(c)
            if base is None:
                raise KeyError(c)
            vol[i] = default.volatility[base]
    n = len(classes)
    corr = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            key = frozenset((classes[i], classes[j]))
            if key in corr_given:
                rho = corr_given[key]
            else:
                bi, bj = default.base(classes[i]), default.base(classes[j])
                rho = default.rho(bi, bj) if bi is not None and bj is not None else default.default_correlation
            corr[i, j] = corr[j, i] = rho
    repaired = False
    eigenvalues, vectors = np.linalg.eigh(corr)
    if eigenvalues.min() < -PSD_FLOOR:
        repaired = True
        clipped = (vectors * np.clip(eigenvalues, 0.0, None)) @ vectors.T
        scale = np.sqrt(np.clip(np.diag(clipped), PSD_FLOOR, None))
        corr = clipped / np.outer(scale, scale)
    covariance = corr * np.outer(vol, vol)
    return ClassRisk(classes=list(classes), covariance=covariance, repaired=repaired)
