"""The household harness (issue 10): hypothesis strategies that generate households over the whole scenario
contract (`strategies`), the checks every household must pass through the CLI (`checks`), and the long-run
driver (`long_run`). Used by tests/test_harness.py and tests/test_harness_regressions.py."""
