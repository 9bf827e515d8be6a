"""Views of a run's time account (:mod:`orchbench.harness.account`): lines for `run`, a table for `compare` and
Markdown, and pictures — a stacked bar per strategy and a per-worker timeline — as SVG for the HTML page and as PNG.

An account read from a file may be anything: every view takes what it understands of it and skips the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape as _html
from typing import Any

from orchbench.views.table import Column

PARTS = ("running", "waiting", "waiting_to_run", "retry_wait", "transfer", "idle")
LABELS = {
    "running": "running",
    "waiting": "waiting",
    "waiting_to_run": "waiting to run",
    "retry_wait": "retry waits",
    "transfer": "transfer",
    "idle": "idle",
}
COLOURS = {  # colour-blind-safe (Okabe–Ito)
    "startup": "#999999",
    "running": "#0072B2",
    "waiting": "#56B4E9",
    "waiting_to_run": "#D55E00",
    "retry_wait": "#E69F00",
    "transfer": "#CC79A7",
    "idle": "#DDDDDD",
}
TIMELINE_MAX_ROWS = 32  # lanes drawn in a timeline: more would not be readable
TIMELINE_MAX_SPANS = 2000


def escape(value: Any) -> str:
    """Text from a results file, safe inside SVG: control characters made visible, then markup escaped."""
    from orchbench.support.console import safe_text

    return _html(safe_text(value))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def shares(account: Mapping[str, Any]) -> dict[str, float | None]:
    """Each part's share of the worker time (None: unknown)."""
    total = _num(account.get("worker_seconds"))
    parts = _mapping(account.get("parts"))
    out: dict[str, float | None] = {}
    for part in PARTS:
        value = _num(parts.get(part))
        out[part] = value / total if value is not None and total else None
    return out


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{100 * value:.0f} %"


def _s(value: Any) -> str:
    from orchbench.support.units import duration

    value = _num(value)
    return "?" if value is None else duration(value)


def _count(value: Any, noun: str) -> str:
    return f"{value} {noun}{'' if value == 1 else 's'}"


def _seconds(value: Any) -> str:
    value = _num(value)
    return "?" if value is None else f"{value:.3f}"


def _before_window(account: Mapping[str, Any]) -> float:
    """``Strategy.start`` before the window (e.g. starting Ray and its actors), when worth showing; else 0."""
    before = _num(_mapping(account.get("startup")).get("before_window_s")) or 0.0
    return before if before >= 0.0005 else 0.0


def _startup_cell(account: Mapping[str, Any]) -> str:
    """The whole start-up: before the window and in it (a strategy may start in either), as the verdict counts it."""
    before, inside = _before_window(account), _num(account.get("startup_s"))
    if inside is None:
        return f"{before:.3f} + ?" if before else "?"
    return f"{before + inside:.3f}"


def run_lines(account: Mapping[str, Any] | None, verdict: str | None) -> list[tuple[str, str]]:
    """The account of one run as (figure, value) lines."""
    if not isinstance(account, Mapping):
        return []
    startup = _mapping(account.get("startup"))
    before = _before_window(account)
    lines = [
        (
            "wall",
            f"start-up {_s(account.get('startup_s'))} (prepare {_s(startup.get('prepare_s'))}, strategy "
            f"{_s(startup.get('strategy_s'))}) · work {_s(account.get('work_s'))} · tail {_s(account.get('tail_s'))}"
            + (f"; and before the window, the strategy's start {_s(before)}" if before else ""),
        )
    ]
    share = shares(account)
    if account.get("worker_seconds") is not None:
        detail = _mapping(account.get("detail"))
        total = _num(account.get("worker_seconds")) or 0.0
        within = [
            f"{name} {_pct((_num(detail.get(key)) or 0.0) / total if total else None)}"
            for key, name in (("gil", "GIL"), ("run_queue", "run queue"), ("loop", "loop"), ("slot", "slots"))
            if total and (_num(detail.get(key)) or 0.0) >= 0.005 * total
        ]
        to_run = f"waiting to run {_pct(share['waiting_to_run'])}" + (f" ({', '.join(within)})" if within else "")
        lines.append(
            (
                "workers",
                f"{_count(account.get('workers'), 'worker')}, {_count(account.get('slots'), 'slot')}, "
                f"{_s(total)} of worker time: running "
                f"{_pct(share['running'])} · waiting {_pct(share['waiting'])} · {to_run} · retry waits "
                f"{_pct(share['retry_wait'])} · transfer {_pct(share['transfer'])} · idle {_pct(share['idle'])}",
            )
        )
    for note in _list(account.get("notes")):
        lines.append(("unknown", str(note)))
    if verdict:
        lines.append(("why", verdict))
    return lines


def columns(accounts: Mapping[str, Mapping[str, Any]]) -> list[Column]:
    """The "where the time went" table: one row per strategy."""
    names = list(accounts)
    rows = [shares(accounts[n]) for n in names]
    from orchbench.support.console import safe_text

    cols = [
        Column("Strategy", [safe_text(n) for n in names], numeric=False),
        Column("Start-up [s]", [_startup_cell(accounts[n]) for n in names]),
        Column("Tail [s]", [_seconds(accounts[n].get("tail_s")) for n in names]),
    ]
    for part in PARTS:
        cols.append(Column(LABELS[part].capitalize(), [_pct(r[part]) for r in rows]))
    return cols


TITLE = "Where the time went (the typical run; parts in % of worker time)"


def render_terminal(accounts: Mapping[str, Mapping[str, Any]], console: Any) -> None:
    from rich.text import Text

    from orchbench.views.table import print_table

    if accounts:
        print_table(console, columns(accounts), Text(TITLE, style="bold"))


def markdown(accounts: Mapping[str, Mapping[str, Any]]) -> str:
    if not accounts:
        return ""
    from orchbench.support.escape import markdown_text

    cols = columns(accounts)
    lines = [
        f"#### {TITLE}",
        "",
        "| " + " | ".join(c.header for c in cols) + " |",
        "|:---|" + "---:|" * (len(cols) - 1),
    ]
    for i in range(len(accounts)):
        lines.append("| " + " | ".join(markdown_text(c.cells[i]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


# --- pictures ------------------------------------------------------------------------------------------------


def svg_bars(accounts: Mapping[str, Mapping[str, Any]]) -> str:
    """One stacked bar per strategy of its worker time's parts, scaled to fit any width (``viewBox``)."""
    names = [n for n in accounts if any(v is not None for v in shares(accounts[n]).values())]
    if not names:
        return ""
    width, label, bar, gap = 600, 110, 18, 8
    height = len(names) * (bar + gap) + 40
    out = [
        f'<svg class="account" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="time account per strategy" xmlns="http://www.w3.org/2000/svg" font-size="12">'
    ]
    for row, name in enumerate(names):
        y = row * (bar + gap)
        out.append(f'<text x="{label - 6}" y="{y + bar - 5}" text-anchor="end">{escape(name)}</text>')
        x = float(label)
        for part, share in shares(accounts[name]).items():
            if not share:
                continue
            w = share * (width - label - 4)
            tip = f"{name}: {LABELS[part]} {100 * share:.1f} %"
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{COLOURS[part]}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            x += w
        if any(v is None for v in shares(accounts[name]).values()):
            out.append(f'<text x="{x + 4:.1f}" y="{y + bar - 5}">? unknown</text>')
    legend_y = len(names) * (bar + gap) + 14
    x = 0.0
    for part in PARTS:
        out.append(f'<rect x="{x:.0f}" y="{legend_y - 10}" width="10" height="10" fill="{COLOURS[part]}"/>')
        out.append(f'<text x="{x + 14:.0f}" y="{legend_y}">{LABELS[part]}</text>')
        x += 14 + 7 * len(LABELS[part]) + 12
    out.append("</svg>")
    return "".join(out)


def lanes(account: Mapping[str, Any]) -> tuple[list[str], list[tuple[int, float, float, int, bool]]]:
    """The timeline's rows (a worker, or one lane of a worker that ran items at once) and each item's span on one.
    Overlapping items of one worker go to separate lanes, first fit; beyond ``TIMELINE_MAX_ROWS`` lanes nothing
    more is placed (the caller says so)."""
    workers, spans = _list(account.get("per_worker")), _list(account.get("timeline"))
    rows: list[str] = []
    ends: list[float] = []
    owner: list[int] = []
    placed = []
    valid = [
        (s[0], start, end, s[3], s[4])
        for s in spans
        if isinstance(s, list) and len(s) == 5 and isinstance(s[0], int)
        for start, end in [(_num(s[1]), _num(s[2]))]
        if start is not None and end is not None
    ]
    for worker, start, end, attempts, ok in sorted(valid, key=lambda s: (s[0], s[1])):
        lane = next((i for i, e in enumerate(ends) if owner[i] == worker and e <= start), None)
        if lane is None:
            if len(rows) >= TIMELINE_MAX_ROWS:
                continue
            lane = len(rows)
            name = _mapping(workers[worker]).get("worker", worker) if 0 <= worker < len(workers) else worker
            rows.append(str(name))
            ends.append(end)
            owner.append(worker)
        ends[lane] = end
        placed.append((lane, start, end, int(attempts) if isinstance(attempts, int) else 1, bool(ok)))
    return rows, placed


def timeline_readable(account: Mapping[str, Any]) -> bool:
    spans = account.get("timeline")
    return isinstance(spans, list) and 0 < len(spans) <= TIMELINE_MAX_SPANS


def svg_timeline(name: str, account: Mapping[str, Any]) -> str:
    """Items as spans on their worker's lane, over the run's wall; retried items marked (orange), failed red."""
    if not timeline_readable(account):
        return ""
    rows, placed = lanes(account)
    wall = _num(account.get("wall_s")) or max((e for _, _, e, _, _ in placed), default=1.0)
    width, label, lane, top = 600, 70, 10, 16
    height = top + len(rows) * (lane + 2) + 18
    scale = (width - label - 4) / wall if wall else 1.0
    out = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(name)}: items per worker over time" xmlns="http://www.w3.org/2000/svg" '
        'font-size="10">',
        f'<text x="0" y="11" font-weight="bold">{escape(name)}</text>',
    ]
    startup = _num(account.get("startup_s"))
    if startup:
        out.append(
            f'<rect x="{label}" y="{top}" width="{startup * scale:.1f}" height="{len(rows) * (lane + 2)}" '
            f'fill="{COLOURS["startup"]}" opacity="0.25"><title>start-up {startup:.3g} s</title></rect>'
        )
    for i, row in enumerate(rows):
        out.append(
            f'<text x="{label - 4}" y="{top + i * (lane + 2) + lane - 1}" text-anchor="end">{escape(row)}</text>'
        )
    for row_index, start, end, attempts, ok in placed:
        colour = "#D55E00" if not ok else ("#E69F00" if attempts > 1 else COLOURS["running"])
        tip = f"{start:.3f}–{end:.3f} s, {attempts} attempt{'s' if attempts != 1 else ''}{'' if ok else ', failed'}"
        out.append(
            f'<rect x="{label + start * scale:.1f}" y="{top + row_index * (lane + 2)}" '
            f'width="{max(0.5, (end - start) * scale):.1f}" height="{lane}" fill="{colour}" stroke="white" '
            f'stroke-width="0.3"><title>{tip}</title></rect>'
        )
    axis_y = top + len(rows) * (lane + 2) + 12
    out.append(f'<text x="{label}" y="{axis_y}">0</text>')
    out.append(f'<text x="{width - 2}" y="{axis_y}" text-anchor="end">{wall:.3g} s</text>')
    out.append("</svg>")
    return "".join(out)


def plot(accounts: Mapping[str, Mapping[str, Any]], prefix: str) -> list[str]:
    """The bars and the timelines as PNG files beside ``prefix`` (``…-account.png``, ``…-timeline.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    names = [n for n in accounts if any(v is not None for v in shares(accounts[n]).values())]
    if names:
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
        for row, name in enumerate(names):
            left = 0.0
            for part, share in shares(accounts[name]).items():
                if share:
                    ax.barh(row, share * 100, left=left, color=COLOURS[part], label=LABELS[part] if row == 0 else None)
                    left += share * 100
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel("% of worker time (the typical run)")
        ax.set_xlim(0, 100)
        handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[p]) for p in PARTS]
        ax.legend(
            handles,
            [LABELS[p] for p in PARTS],
            ncol=3,
            fontsize="small",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.25),
        )
        ax.set_title("Where the time went")
        fig.tight_layout()
        written.append(f"{prefix}-account.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    shown = [n for n in accounts if timeline_readable(accounts[n])]
    if shown:
        fig, axes = plt.subplots(len(shown), 1, figsize=(8, 1.6 * len(shown) + 0.6), squeeze=False, sharex=True)
        for ax, name in zip(axes[:, 0], shown, strict=True):
            rows, placed = lanes(accounts[name])
            for row, start, end, attempts, ok in placed:
                colour = "#D55E00" if not ok else ("#E69F00" if attempts > 1 else COLOURS["running"])
                ax.barh(row, end - start, left=start, height=0.8, color=colour, edgecolor="white", linewidth=0.4)
            ax.set_yticks([])
            ax.set_ylabel(name, rotation=0, ha="right", va="center")
            ax.invert_yaxis()
        axes[-1, 0].set_xlabel("seconds from the window's start (orange: retried, red: failed)")
        fig.suptitle("Items per worker")
        fig.tight_layout()
        written.append(f"{prefix}-timeline.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written
