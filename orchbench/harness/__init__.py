"""The run machinery: plugin discovery, the isolated child process, the runner, the task every strategy
drives (retries, faults, hedging, caching), the measured window and its time account, verification against the
reference, tuning and fair settings, memory profiles.

May import: the kit (``orchbench.api``, ``types``, ``errors``, ``hookspecs``, ``presets``, ``simple``),
``orchbench.runtime``, ``orchbench.support`` and each other; never the results, views, API, CLI or built-ins.
"""
