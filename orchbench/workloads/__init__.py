"""The built-in workloads, each a plugin of its own (see the ``orchbench`` entry points in ``pyproject.toml``).

Nothing outside this package names one of them: the rest of orchbench knows workloads only through the plugin
contract, and the one it runs when none is named by its name, :data:`orchbench.types.DEFAULT_WORKLOAD`. The rest
of orchbench imports nothing from here, and they import nothing of orchbench but its public kit (the façade
``orchbench``; ``orchbench.testing`` from tests), so any of them could be a distribution of its own.
"""
