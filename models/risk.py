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
    """Classes that neither the scenario's risk model nor the default gives a volatility for.

    A factor model covers every class (a class it does not list carries no risk), so none is missing."""
    if override is not None and override.is_factor_model:
        return []
    given = override.volatility if override is not None else {}
    default = default_risk_model()
    return [c for c in classes if c not in given and default.base(c) is None]


@dataclass(frozen=True)
class FactorParts:
    """Σ = Gᵀ G + diag(specific) over the classes: G = F^½ Bᵀ (factors × classes), from a factor model."""

    root: np.ndarray  # (k, n): rows of F^½ Bᵀ, so that ||root @ d||² = d' B F Bᵀ d
    specific: np.ndarray  # (n,) annual specific variance per class


@dataclass(frozen=True)
class ClassRisk:
    """Σ over an ordered list of asset classes, with a note when it had to be repaired.

    `factors` is set when the scenario gave a factor model: Σ = factors.rootᵀ factors.root +
    diag(factors.specific); the dense `covariance` is then only built when asked for.
    """

    classes: list[str]
    repaired: bool
    dense: np.ndarray | None = None
    factors: FactorParts | None = None

    @property
    def covariance(self) -> np.ndarray:
        if self.dense is not None:
            return self.dense
        assert self.factors is not None
        root = self.factors.root
        return root.T @ root + np.diag(self.factors.specific)

    def tracking_error(self, drift: np.ndarray) -> float:
        """sqrt(d' Σ d) for a drift vector d (weights) in `classes` order."""
        if self.factors is not None:
            common = self.factors.root @ drift
            variance = float(common @ common) + float(self.factors.specific @ (drift * drift))
        else:
            assert self.dense is not None
            variance = float(drift @ self.dense @ drift)
        return float(np.sqrt(max(0.0, variance)))


def _psd_root(matrix: np.ndarray) -> tuple[np.ndarray, bool]:
    """R with RᵀR = the matrix with negative eigenvalues clipped, and whether any had to be."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    scale = max(1.0, float(np.abs(eigenvalues).max(initial=0.0)))
    repaired = bool(eigenvalues.min(initial=0.0) < -PSD_FLOOR * scale)
    keep = eigenvalues > PSD_FLOOR * scale
    return (vectors[:, keep] * np.sqrt(eigenvalues[keep])).T, repaired


def factor_risk(classes: list[str], model: RiskModel) -> ClassRisk:
    """The factor form: loadings and specific variances per class, a factor covariance.

    Factors are those named in `factor_covariance` and `loadings`, in order of first appearance. A
    factor covariance that is not positive semidefinite is repaired by clipping negative eigenvalues.
    """
    factors: list[str] = []
    for row in [*model.factor_covariance.values(), *model.loadings.values()]:
        for name in row:
            if name not in factors:
                factors.append(name)
    for name in model.factor_covariance:
        if name not in factors:
            factors.append(name)
    index = {f: i for i, f in enumerate(factors)}
    k = len(factors)
    cov = np.zeros((k, k))
    for a, row in model.factor_covariance.items():
        for b, value in row.items():
            cov[index[a], index[b]] = value
    # One triangle is enough: fill the other where it was left out.
    missing = (cov == 0) & (cov.T != 0)
    cov[missing] = cov.T[missing]
    root_f, repaired = _psd_root(cov) if k else (np.zeros((0, 0)), False)
    loadings = np.zeros((k, len(classes)))
    for j, c in enumerate(classes):
        for name, value in model.loadings.get(c, {}).items():
            loadings[index[name], j] = value
    root = root_f @ loadings if k else np.zeros((0, len(classes)))
    root[np.abs(root) < 1e-14] = 0.0
    specific = np.array([model.specific_variance.get(c, 0.0) for c in classes])
    return ClassRisk(classes=list(classes), repaired=repaired, factors=FactorParts(root, specific))


def class_risk(classes: list[str], override: RiskModel | None) -> ClassRisk:
    """The covariance matrix for `classes`: the scenario's factor model, or scenario figures first, then
    the default model.

    A correlation matrix assembled from pieces can fail to be positive semidefinite; it is then repaired
    by clipping negative eigenvalues (and re-normalizing the diagonal), and `repaired` says so.
    """
    if override is not None and override.is_factor_model:
        return factor_risk(classes, override)
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
    return ClassRisk(classes=list(classes), repaired=repaired, dense=covariance)
