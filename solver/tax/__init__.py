"""The US capital-gains tax engine: exact evaluation and its MILP encoding.

evaluate_tax / tax_with_gains compute a year's federal + state tax exactly (evaluate.py);
CapitalGainsTaxEncoding carries the same function into a cvxpy MILP exactly (encoding.py).
docs/tax.md describes what is modelled and the formulation.
"""

from .encoding import HIGHS_OPTIONS, CapitalGainsTaxEncoding
from .evaluate import TaxBreakdown, TaxSituation, evaluate_tax, tax_with_gains

__all__ = [
    "HIGHS_OPTIONS",
    "CapitalGainsTaxEncoding",
    "TaxBreakdown",
    "TaxSituation",
    "evaluate_tax",
    "tax_with_gains",
]
