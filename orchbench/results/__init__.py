"""The result model: the comparison document and its versions, pooled runs, statistics, per-strategy
figures, verdicts, the regression gate and history.

May import: everything below it (the harness, runtime, kit, support); never views, the Python API, the CLI or
the built-ins.
"""
