"""The US capital-gains tax engine: exact evaluation and its MILP encoding."""
