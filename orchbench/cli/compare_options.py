"""The options of ``orchbench compare`` as typer annotations, for a command of a plugin's that compares (the kit's
``orchbench.compare_options``): ``iterations: orchbench.compare_options.Iterations = 5`` gives it ``-n/--iterations``
with compare's help, and ``tune_setting(tune, tune_budget)`` checks ``--tune``/``--tune-budget`` as compare does."""

from __future__ import annotations

from orchbench.cli.compare import (
    Baseline,
    Budget,
    Iterations,
    Quiet,
    ResultsDir,
    Strategies,
    Tune,
    TuneBudgetOpt,
    Warmup,
    Wide,
    tune_setting,
)

__all__ = [
    "Baseline",
    "Budget",
    "Iterations",
    "Quiet",
    "ResultsDir",
    "Strategies",
    "Tune",
    "TuneBudgetOpt",
    "Warmup",
    "Wide",
    "tune_setting",
]
