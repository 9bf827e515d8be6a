"""How results are shown: terminal tables that fit, Markdown, CSV and JSON exports, the HTML page, plots,
CI outputs and the progress line.

May import: the result model and everything below it; never the Python API, the CLI or the built-ins.
"""
