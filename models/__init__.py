"""Validated data models: the scenario (input contract), the result (output contract), shipped data.

Must not import cvxpy or highspy.
"""
