"""Many solves: the policy simulator (back-test) and batch runs, on a process pool or a Dask cluster.

simulate a household (`simulation.simulate`), batch many households (`batch.run_batch`); both send their
tasks through one executor (`executor.run_tasks`). docs/simulate.md and docs/batch.md describe them.
"""
