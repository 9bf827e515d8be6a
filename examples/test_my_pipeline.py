"""my_pipeline's strategies checked in a test suite: every strategy must give the right total.

pytest examples/test_my_pipeline.py            (orchbench's pytest plugin gives the `orchbench` fixture)
pytest examples/test_my_pipeline.py --orchbench-save results/   (keep each comparison's results file)
"""

from pathlib import Path

import my_pipeline


def test_every_strategy_gets_the_line_lengths_right(orchbench):
    comparison = orchbench.compare(
        my_pipeline.measure, ["sequential", "threads", "asyncio"], iterations=3, warmup=0, input=Path(__file__)
    )
    # a wrong, incomplete or failed run has already failed the test, with its first error
    assert sorted(comparison.correct) == ["asyncio", "sequential", "threads"]
