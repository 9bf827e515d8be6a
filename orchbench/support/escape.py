"""Text from outside (a plugin's names and units, a service's answers, a saved file), escaped for the place it is
written: the terminal (:func:`orchbench.support.console.safe_text`: control characters visible, secrets masked),
Markdown (:func:`markdown_text`), CSV (:func:`csv_cell`); the HTML report escapes with :func:`html.escape`.
"""

from __future__ import annotations

import html
from typing import Any

from orchbench.support.console import safe_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP "CSV Injection": a spreadsheet runs such a cell


def markdown_text(value: Any) -> str:
    """``value`` as text in a Markdown table cell or line: :func:`safe_text`, then ``<``, ``>`` and ``&`` as HTML
    entities (a renderer passes raw HTML such as ``<script>`` through) and ``|`` escaped (it ends a cell)."""
    return html.escape(safe_text(value), quote=False).replace("|", "\\|")


def csv_cell(value: Any) -> Any:
    """A CSV cell: a number as it is; text as :func:`safe_text`, with a ``'`` before a first character that makes
    a spreadsheet read it as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    text = safe_text(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
