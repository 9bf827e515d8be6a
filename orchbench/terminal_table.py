"""Tables that fit a terminal without cutting a number: column widths chosen so numbers stay whole and text wraps
where it costs the fewest lines, then drawn by rich (and printed whole, even when wider than the console)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Column:
    """One column of every rendering. ``place``: in the terminal's main table, its details table, or only in
    exports (Markdown, CSV-like views); exports show every column. ``numeric`` cells are never broken."""

    header: str
    cells: list[str]
    place: str = "main"
    numeric: bool = True


LONG_WORD = 14  # a word of text up to this long never breaks in a narrow table


def _limits(col: Column) -> tuple[int, int]:
    """A column's least width that keeps its cells whole (numbers; words of text), and its natural width."""
    if col.numeric:
        cells = [len(c) for c in col.cells]
    else:  # words as long as a number stay whole; longer ones (a long strategy name) may fold
        cells = [min(len(w), LONG_WORD) for c in col.cells for w in c.split()]
    return max([1, *cells]), max(len(c) for c in [col.header, *col.cells])


def _lines(text: str, width: int) -> tuple[int, int]:
    """How many lines ``text`` takes wrapped at spaces within ``width``, and how many words fold over lines."""
    lines, used, folds = 1, 0, 0
    for word in text.split():
        if used and used + 1 + len(word) <= width:
            used += 1 + len(word)
            continue
        folds += len(word) > width
        lines += bool(used) + (len(word) - 1) // width
        used = len(word) % width or width
    return lines, folds


def _fit(cols: Sequence[Column], room: int) -> list[int]:
    """Column widths within ``room``: each column gets the least that keeps its cells whole, then the spare room
    goes, a few characters at a time, where it saves the most per character: lines of rows (the header's included)
    and words folded over lines first, then lines of cells."""
    limits = [_limits(c) for c in cols]
    widths = [least for least, _ in limits]
    rows = [[c.header for c in cols], *zip(*(c.cells for c in cols), strict=True)]

    def cost(widths: Sequence[int]) -> int:
        wrapped = [[_lines(cell, w) for cell, w in zip(row, widths, strict=True)] for row in rows]
        lines = [[n for n, _ in row] for row in wrapped]
        folds = sum(f for row in wrapped for _, f in row)
        return 1000 * (sum(map(max, lines)) + folds) + sum(map(sum, lines))

    spare, now = room - sum(widths), cost(widths)
    while spare > 0:
        best: tuple[float, int, int, int] | None = None  # (saving per character, column, extra, new cost)
        for i, (_, natural) in enumerate(limits):
            for extra in range(1, min(spare, natural - widths[i]) + 1):
                trial = cost([w + extra * (j == i) for j, w in enumerate(widths)])
                if trial < now:
                    if best is None or (now - trial) / extra > best[0]:
                        best = ((now - trial) / extra, i, extra, trial)
                    break
        if best is None:
            break
        _, i, extra, now = best
        widths[i] += extra
        spare -= extra
    return widths


def natural_width(cols: Sequence[Column]) -> int:
    """The width of a table of these columns with every cell on one line, borders included."""
    return sum(high for _, high in map(_limits, cols)) + 3 * len(cols) - 1


def rich_table(
    styles: Sequence[str | None], cols: Sequence[Column], title: Any, width: int | None, text_columns: int = 1
) -> Any:
    """A rich table of these columns, a row style per row. Numbers are never cut or broken across lines: a numeric
    column is at least as wide as its widest cell. Within ``width`` only text wraps (at spaces; a name longer than
    its column folds); with no width every cell keeps one line. The first ``text_columns`` are left-aligned."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAVY, pad_edge=False, title_justify="left")
    border = 3 * len(cols) - 1  # SIMPLE_HEAVY without edge padding: a space each side, 3 between columns
    widths = [natural for _, natural in map(_limits, cols)] if width is None else _fit(cols, width - border)
    for i, (col, w) in enumerate(zip(cols, widths, strict=True)):
        table.add_column(
            Text(col.header),
            justify="left" if i < text_columns else "right",
            overflow="fold",
            width=w,
            no_wrap=width is None,
        )
    for i, style in enumerate(styles):
        table.add_row(*(Text(col.cells[i]) for col in cols), style=style)
    return table


def print_whole(console: Console, table: Any) -> None:
    """Print a table at its own width even when wider than the console (which would cut or squeeze it)."""
    from rich.measure import Measurement
    from rich.segment import Segments

    options = console.options.update_width(10_000)
    width = Measurement.get(console, options, table).maximum
    if width <= console.width:
        console.print(table)
        return
    lines = console.render_lines(table, options.update_width(width), pad=False, new_lines=True)
    console.print(Segments([segment for line in lines for segment in line]), crop=False, soft_wrap=True)
