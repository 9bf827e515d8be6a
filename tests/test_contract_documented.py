"""The plugin contract is documented where plugin authors read it: every hook, every name the public kit exports
(``orchbench.__all__``) and every public member of the base classes appears in docs/plugins.md (a name added to
the contract without a word there fails here)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import orchbench
from orchbench import hookspecs
from orchbench.api import RetryPolicy, Strategy, Task, Workload

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")


def _hooks() -> list[str]:
    return sorted(
        name
        for name, fn in vars(hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
    )


def _public_members(cls: type) -> list[str]:
    """Names a plugin author meets: the class's own public attributes, methods and properties, and the public
    attributes its ``__init__`` sets on an instance."""
    names = {name for name in vars(cls) if not name.startswith("_")}
    init = vars(cls).get("__init__")
    if init is not None:
        names |= set(re.findall(r"\bself\.([a-z][a-z0-9_]*)\s*(?::[^=\n]*)?=(?!=)", inspect.getsource(init)))
    return sorted(names)


def _documented(name: str) -> bool:
    """``name`` stands in backquotes in the docs, alone or called (``name(…)``), maybe as ``self.name`` or, for a
    member of the Task a strategy receives, ``task.name``."""
    return re.search(rf"`(?:await )?(?:self\.|task\.)?{re.escape(name)}[`(.]", DOCS) is not None


def test_the_contract_is_found() -> None:
    """The collectors below see the hooks and members they must (an empty list would make the checks vacuous)."""
    assert {"orchbench_strategies", "orchbench_workloads", "orchbench_retry_policies"} <= set(_hooks())
    assert {"name", "options", "map", "budget", "resolved"} <= set(_public_members(Strategy))
    assert {"map_item", "reference", "resources", "spec"} <= set(_public_members(Workload))
    assert {"stop", "wait", "timeout_s"} <= set(_public_members(RetryPolicy))
    assert {"run", "arun", "run_batch", "spec", "workload", "declare_in_flight"} <= set(_public_members(Task))


def test_the_kit_is_what_it_exports() -> None:
    """Every name in ``__all__`` is there (some load on first use), and the kit holds what plugins are promised."""
    assert {"Strategy", "Workload", "RetryPolicy", "hookimpl", "say", "read_input", "usable_cores"} <= set(
        orchbench.__all__
    )
    missing = [name for name in orchbench.__all__ if not hasattr(orchbench, name)]
    assert not missing, f"in orchbench.__all__ but not importable: {missing}"
    assert len(set(orchbench.__all__)) == len(orchbench.__all__)


@pytest.mark.parametrize("name", orchbench.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    assert re.search(rf"`(?:orchbench\.)?{re.escape(name)}[`(]", DOCS), (
        f"orchbench.{name} is in __all__ but not documented in docs/plugins.md"
    )


@pytest.mark.parametrize("hook", _hooks())
def test_every_hook_is_documented(hook: str) -> None:
    assert re.search(rf"`{re.escape(hook)}\(", DOCS), f"hook {hook} is not documented in docs/plugins.md"


@pytest.mark.parametrize(
    ("cls", "member"),
    [(cls, member) for cls in (Strategy, Workload, RetryPolicy, Task) for member in _public_members(cls)],
    ids=lambda v: v.__name__ if isinstance(v, type) else v,
)
def test_every_public_member_is_documented(cls: type, member: str) -> None:
    assert _documented(member), f"{cls.__name__}.{member} is not documented in docs/plugins.md"
