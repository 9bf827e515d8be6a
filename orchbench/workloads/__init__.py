"""The built-in workloads, each a plugin of its own (see the ``orchbench`` entry points in ``pyproject.toml``).

Nothing outside this package names one of them: the rest of orchbench knows workloads only through the plugin
contract, and the one it runs when none is named through :data:`DEFAULT_WORKLOAD` (a project changes it with
``workload = "..."`` in ``[tool.orchbench]``).
"""

from __future__ import annotations

DEFAULT_WORKLOAD = "anagrams"  # the original exercise's pipeline: what `orchbench run STRATEGY` runs
