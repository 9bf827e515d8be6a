"""orchbench-ray: the ``ray`` strategy, a pool of Ray actors fed batches of items.

Ray itself is imported only when a run starts, so ``orchbench list`` stays fast with this plugin installed.
"""

from __future__ import annotations

__version__ = "0.1.0"

import orchbench
from orchbench_ray.strategy import RayStrategy

__all__ = ["RayStrategy", "__version__"]


@orchbench.hookimpl
def orchbench_strategies() -> list[type[orchbench.Strategy]]:
    return [RayStrategy]
