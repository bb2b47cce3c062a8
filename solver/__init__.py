"""Optimization and tax logic: scenario → arrays → MILP → solution → verification.

Nothing here prints or knows about click.
"""
