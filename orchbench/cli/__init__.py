"""The ``orchbench`` command line: the typer app (:mod:`orchbench.cli.app`, the console script) and one module per
command. It parses, calls and renders; what a command does lives in the layers below.

May import: every other layer of orchbench (views, the Python API, results, harness, kit, runtime, support), never
the built-in strategies or workloads, which it knows only through the plugin registry.
"""
