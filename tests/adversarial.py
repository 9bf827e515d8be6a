"""Run the tests marked ``adversarial`` and write their table into docs/reliability.md ("Adversarial inputs").

Each such test reproduces one adversarial input of a class (``@pytest.mark.adversarial("outputs over inputs")``);
a parametrized test counts once per case. The table gives, per class, the cases tried and how many passed and
failed, and the test files that hold them; the script exits non-zero when any case failed (or none was found).

    python tests/adversarial.py                 # run them, print the table, rewrite it in docs/reliability.md
    python tests/adversarial.py --workers 2     # the same with pytest-xdist
    python tests/adversarial.py --slow          # include the tests marked slow
    python tests/adversarial.py --no-write      # print only
    python tests/adversarial.py -k secrets      # only some tests (print only)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- adversarial table: start -->", "<!-- adversarial table: end -->"
CLASSES = (  # the classes, in its order; a class with no test yet is shown as such
    "code runs unasked",
    "outputs over inputs",
    "waits with no end",
    "answers that fail or pass wrongly",
    "options accepted that cannot work",
    "secrets and hostile bytes",
    "floods",
)


class Classes:
    """At collection: the class of each adversarial test (its closest ``adversarial`` marker)."""

    def __init__(self) -> None:
        self.of: dict[str, str] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:  # those selected by -m and -k
            marker = item.get_closest_marker("adversarial")
            if marker is not None:
                self.of[item.nodeid] = str(marker.args[0]) if marker.args else "unclassified"


class Outcomes:
    """While running: each test's outcome (a failure in set-up or tear-down counts as a failure)."""

    def __init__(self) -> None:
        self.outcome: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.outcome[report.nodeid] = "failed"
        elif report.skipped and report.nodeid not in self.outcome:
            self.outcome[report.nodeid] = "skipped"
        elif report.when == "call" and report.passed:
            self.outcome.setdefault(report.nodeid, "passed")


def run(marker: str, workers: int, only: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(class by test, outcome by test) of the tests selected by ``marker`` (and ``only``, a ``-k`` expression)."""
    common = ["-q", "-p", "no:randomly", "-m", marker, "--rootdir", str(ROOT), str(ROOT / "tests")]
    common += ["-k", only] if only else []
    classes = Classes()
    if pytest.main([*common, "--collect-only"], plugins=[classes]) not in (0, 5):
        raise SystemExit("adversarial: the tests could not be collected")
    outcomes = Outcomes()
    pytest.main([*common, *(["-n", str(workers)] if workers > 1 else [])], plugins=[outcomes])
    return classes.of, outcomes.outcome


def table(classes: dict[str, str], outcomes: dict[str, str]) -> tuple[str, bool]:
    """The Markdown table, and whether every case passed."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    files: dict[str, set[str]] = defaultdict(set)
    for nodeid, cls in classes.items():
        counts[cls][outcomes.get(nodeid, "not run")] += 1
        files[cls].add(nodeid.split("::")[0])
    lines = ["| class | cases tried | passed | failed | tests |", "|---|---:|---:|---:|---|"]
    for cls in [*CLASSES, *sorted(set(counts) - set(CLASSES))]:
        c = counts.get(cls, Counter())
        tried = sum(c.values())
        failed = c["failed"] + c["not run"]
        shown = ", ".join(f"`{f}`" for f in sorted(files[cls])) or "none yet"
        extra = f" ({c['skipped']} skipped)" if c["skipped"] else ""
        lines.append(f"| {cls} | {tried} | {c['passed']}{extra} | {failed} | {shown} |")
    total = Counter(outcomes.get(n, "not run") for n in classes)
    all_failed = total["failed"] + total["not run"]
    lines.append(f"| **all** | **{len(classes)}** | **{total['passed']}** | **{all_failed}** | |")
    return "\n".join(lines) + "\n", bool(classes) and all_failed == 0


def write(text: str) -> None:
    """Replace the table between the markers in docs/reliability.md (appending the section the first time)."""
    doc = DOC.read_text(encoding="utf-8")
    block = f"{START}\n{text}{END}"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        doc = head + block + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip("\n") + f"\n\n## Adversarial inputs\n\n{block}\n"
    DOC.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers (default: 1, no xdist)")
    parser.add_argument("--slow", action="store_true", help="include the tests marked slow")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/reliability.md")
    parser.add_argument(
        "-k", dest="only", help="only the tests matching this pytest -k expression (implies --no-write)"
    )
    args = parser.parse_args(argv)
    marker = "adversarial" if args.slow else "adversarial and not slow"
    sys.path.insert(0, str(ROOT))  # the tests import each other as the package `tests`
    classes, outcomes = run(marker, args.workers, args.only)
    text, ok = table(classes, outcomes)
    print(text)
    if not args.no_write and not args.only:
        write(text)
        print(f"written to {DOC.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
