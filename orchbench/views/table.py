"""Tables that fit a terminal without cutting a name or a number.

Every column gets at least the width that keeps its cells whole: a number on one line, every word of text and of
the header unbroken. When the columns still do not fit side by side, they are stacked: the table is printed as
several tables, each repeating the key columns (the strategy), so no column is dropped. Spare room then goes where
it saves the most lines of wrapped text. Tables are drawn by rich and printed whole.
"""

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


def border(count: int) -> int:
    """Characters a table of ``count`` columns spends besides its cells: two spaces between columns."""
    return 2 * (count - 1)


def _limits(col: Column, longest: int) -> tuple[int, int]:
    """A column's least width that keeps its cells and header words whole (a word longer than ``longest`` folds:
    the last resort for a name wider than the terminal can give), and its natural width (every cell on one line)."""
    words = [len(w) for w in col.header.split()]
    if col.numeric:
        words += [len(c) for c in col.cells]
    else:
        words += [len(w) for c in col.cells for w in c.split()]
    return min(max([1, *words]), longest), max(len(c) for c in [col.header, *col.cells])


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


def _longest(width: int) -> int:
    """The longest word kept whole in a table ``width`` wide: a longer one folds, so one name cannot crowd every
    figure out of the table."""
    return max(8, width // 2)


def _fit(cols: Sequence[Column], room: int, longest: int) -> list[int]:
    """Column widths within ``room``: each column gets the least that keeps its cells whole, then the spare room
    goes, a few characters at a time, where it saves the most per character: lines of rows (the header's included)
    and words folded over lines first, then lines of cells."""
    limits = [_limits(c, longest) for c in cols]
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
    return sum(high for _, high in (_limits(c, 10**6) for c in cols)) + border(len(cols))


def stack(cols: Sequence[Column], width: int, key_columns: int = 1) -> list[list[Column]]:
    """The columns split into tables that each fit ``width`` with every cell whole, each table starting with the
    first ``key_columns`` columns; one table when they fit side by side. Order is kept."""
    keys, rest = list(cols[:key_columns]), list(cols[key_columns:])
    longest = _longest(width)

    def fits(group: Sequence[Column]) -> bool:
        return sum(_limits(c, longest)[0] for c in group) + border(len(group)) <= width

    groups: list[list[Column]] = []
    current = list(keys)
    for col in rest:
        if fits([*current, col]) or len(current) == len(keys):
            current.append(col)
        else:
            groups.append(current)
            current = [*keys, col]
    groups.append(current)
    return groups


def rich_table(
    styles: Sequence[str | None], cols: Sequence[Column], title: Any, width: int | None, text_columns: int = 1
) -> Any:
    """A rich table of these columns, a row style per row. Numbers are never cut or broken across lines: a numeric
    column is at least as wide as its widest cell. Within ``width`` only text wraps (at spaces; a word wider than
    half the width folds); with no width every cell keeps one line. The first ``text_columns`` are left-aligned,
    and so is any other column that is not numeric."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        header_style="bold",
        box=box.SIMPLE_HEAVY,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        title_justify="left",
    )
    if width is None:
        widths = [natural for _, natural in (_limits(c, 10**6) for c in cols)]
    else:
        widths = _fit(cols, max(len(cols), width - border(len(cols))), _longest(width))
    for i, (col, w) in enumerate(zip(cols, widths, strict=True)):
        table.add_column(
            Text(col.header),
            justify="left" if i < text_columns or not col.numeric else "right",
            overflow="fold",
            width=w,
            no_wrap=width is None,
        )
    for i, style in enumerate(styles):
        table.add_row(*(Text(col.cells[i]) for col in cols), style=style)
    return table


def print_table(
    console: Console,
    cols: Sequence[Column],
    title: Any,
    styles: Sequence[str | None] | None = None,
    *,
    key_columns: int = 1,
    text_columns: int = 1,
    wide: bool = False,
    continued: str | None = None,
) -> int:
    """Print ``cols`` as one table when it fits the console (or with ``wide``, at its own width however wide),
    else stacked into tables that each fit, every table after the first titled ``continued`` (by default the
    title and "(continued)"). Returns how many tables were printed."""
    from rich.text import Text

    styles = list(styles) if styles is not None else [None] * len(cols[0].cells)
    if wide or natural_width(cols) <= console.width:
        print_whole(console, rich_table(styles, cols, title, None, text_columns))
        console.print()
        return 1
    groups = stack(cols, console.width, key_columns)
    for n, group in enumerate(groups):
        if n == 0:
            heading = title
        else:
            name = title.plain if isinstance(title, Text) else str(title)
            heading = Text(continued or f"{name} (continued)", style="bold")
        print_whole(console, rich_table(styles, group, heading, console.width, text_columns))
        console.print()
    return len(groups)


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
