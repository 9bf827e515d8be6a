"""The core (every module of the orchbench package outside orchbench/workloads/) names no workload: it knows the
built-in workloads only through the plugin contract, as it knows a third party's.

"Names" means, in the code (read as Python syntax, so comments and prose inside longer strings do not count):
a string that is a workload's name ("anagrams"), an identifier that is one, an import of a workload's package
(``orchbench.workloads.scoring...``, ``from orchbench.workloads import scoring``), or a string holding such a
module path. The one name the core gives is a default, the value of ``DEFAULT_WORKLOAD`` (the workload run when
none is named); the core imports nothing of orchbench/workloads/ (tests/test_import_graph.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

from orchbench.harness.plugins import BUILTIN_DISTRIBUTION, get_registry

PACKAGE = Path(__file__).resolve().parent.parent / "orchbench"
WORKLOADS = PACKAGE / "workloads"


def builtin_workloads() -> set[str]:
    """The built-in workloads' names, and the names of their packages."""
    registry = get_registry()
    names = {n for n, e in registry.entries["workload"].items() if e.source.distribution == BUILTIN_DISTRIBUTION}
    packages = {p.parent.name for p in WORKLOADS.glob("*/__init__.py")}
    return names | packages


def namings(source: str, workloads: set[str]) -> list[tuple[int, str]]:
    """(line, what) for every place ``source`` names one of ``workloads``."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    default = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["DEFAULT_WORKLOAD"]
    }

    def workload_module(module: str) -> str | None:
        parts = module.replace("/", ".").split(".")
        for i in range(len(parts) - 2):
            if parts[i : i + 2] == ["orchbench", "workloads"] and parts[i + 2] in workloads:
                return parts[i + 2]
        return None

    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if id(node) in default:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.strip() in workloads:
                found.append((line, f"the string {node.value!r}"))
            elif any(workload_module(word) for word in node.value.split()):
                found.append((line, f"a module path in {node.value!r}"))
        elif isinstance(node, ast.Name) and node.id in workloads:
            found.append((line, f"the name {node.id}"))
        elif isinstance(node, ast.Attribute) and node.attr in workloads:
            found.append((line, f"the attribute .{node.attr}"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in workloads:
            found.append((line, f"the definition {node.name}"))
        elif isinstance(node, ast.arg) and node.arg in workloads:
            found.append((line, f"the parameter {node.arg}"))
        elif isinstance(node, ast.keyword) and node.arg in workloads:
            found.append((line, f"the keyword {node.arg}="))
        elif isinstance(node, ast.Import):
            found += [(line, f"import {a.name}") for a in node.names if workload_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if workload_module(node.module):
                found.append((line, f"from {node.module} import ..."))
            elif node.module == "orchbench.workloads":
                found += [
                    (line, f"from orchbench.workloads import {a.name}") for a in node.names if a.name in workloads
                ]
    return found


def test_the_check_sees_each_way_of_naming_a_workload() -> None:
    """What the core held before workloads brought their own commands, presets and flags."""
    workloads = {"anagrams", "scoring", "calibrate"}
    before = """
from orchbench.workloads.scoring.server import SCENARIOS
from orchbench.workloads import calibrate
import orchbench.workloads.anagrams.texts
spec = RunSpec("sequential", workload="calibrate")
path = results.default_path(results_dir, "anagrams")
module = importlib.import_module("orchbench.workloads.scoring")
def run(anagrams): return scoring.run(x, calibrate=1)
"""
    assert sorted(line for line, _ in namings(before, workloads)) == [2, 3, 4, 5, 6, 7, 8, 8, 8]
    clean = '''
"""The anagrams workload's ``scoring`` of lines is described here, in prose: not a naming."""
DEFAULT_WORKLOAD = "anagrams"
from orchbench.workloads.inputs import read_text
label = "the scoring service's design"  # anagrams
'''
    assert namings(clean, workloads) == []


def test_the_core_names_no_workload() -> None:
    workloads = builtin_workloads()
    assert {"anagrams", "scoring", "calibrate"} <= workloads  # the check looks for the real names
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if WORKLOADS not in path.parents
        for line, what in namings(path.read_text(encoding="utf-8"), workloads)
    ]
    assert not offences, "the core names a workload:\n" + "\n".join(offences)
