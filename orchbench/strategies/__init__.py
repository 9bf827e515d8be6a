"""The built-in strategies (sequential, threads, asyncio, processes, hybrid), each a plugin of its own (see the
``orchbench`` entry points in ``pyproject.toml``).

May import: only the public kit (the façade ``orchbench``), as a third-party strategy would, and each other.
"""
