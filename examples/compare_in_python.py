"""A comparison from Python, as in a notebook: which strategy suits examples/my_pipeline.py best?

    python examples/compare_in_python.py [INPUT]      (default input: the project's README.md)

Every run is a fresh process, exactly as with `orchbench compare`; the guard below keeps this script's own code
from running again when a run loads the pipeline.
"""

import sys
from pathlib import Path

import orchbench

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so that `import my_pipeline` finds the example beside this script

import my_pipeline  # noqa: E402  (the pipeline: an @orchbench.workload function)

if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "README.md"
    comparison = orchbench.compare(
        my_pipeline.measure, ["sequential", "threads", "asyncio"], iterations=5, warmup=1, input=source
    )
    for row in comparison.rows:
        median = f"{row.wall.median:.3f} s" if row.wall else "no timed run"
        print(f"{row.strategy:12} median {median}   {row.correct_runs} of {row.runs} runs correct")
    if comparison.failed:
        for name, error in comparison.failed.items():
            print(f"{name}: {error}")
    print("winner:", comparison.winner or "none (no strategy is significantly the fastest)")
