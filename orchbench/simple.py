"""``@orchbench.workload``: a workload from an items loader, a per-item function (sync or async) and a reduce.

::

    def lines(path):
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()

    @orchbench.workload("line-lengths", items=lines, reduce=sum)
    async def measure(line):
        await asyncio.sleep(0.01)      # the real call: a request, a query, a model
        return len(line)

    @orchbench.hookimpl
    def orchbench_workloads():
        return [measure]

The loader gets the ``--input`` path, or the value a case names in ``cases``. Without ``reference`` (a function of
the items giving the expected output) runs are *unverified* unless a reference is recorded with
``orchbench reference record``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Hashable
from typing import Any

from orchbench.api import Workload
from orchbench.errors import UsageError


def workload(
    name: str,
    *,
    items: Callable[[Any], Any],
    reduce: Callable[[list[Any]], Any] = list,
    reference: Callable[[list[Any]], Any] | None = None,
    cases: dict[str, Any] | None = None,
    unit: str = "items",
    waits: bool | None = None,
    description: str = "",
) -> Callable[[Callable[..., Any]], type[Workload]]:
    """Turn the decorated per-item function into a Workload class named ``name``.

    ``waits`` declares that an item's time is mostly waiting (on a service, a disk); by default an async function
    waits and a sync one computes. ``cases`` maps a case name to the argument its loader gets (the first case is
    the default); without cases, ``--input PATH`` is required.
    """

    def make(fn: Callable[..., Any]) -> type[Workload]:
        is_async = inspect.iscoroutinefunction(fn)
        case_sources = dict(cases or {})

        class FunctionWorkload(Workload):
            __doc__ = description or fn.__doc__

            def load_input(self) -> list[Any]:
                if self.spec.input_path is not None:
                    source: Any = self.spec.input_path
                else:
                    case = self.spec.case or self.default_case
                    if case not in case_sources:
                        known = ", ".join(case_sources) or "none: give --input"
                        raise UsageError(f"workload {name!r} has no test case {case!r} (cases: {known})")
                    source = case_sources[case]
                try:
                    loaded = list(items(source))
                except UsageError:
                    raise
                except (OSError, ValueError) as exc:
                    raise UsageError(f"workload {name!r}: cannot load the items of {source!r} ({exc})") from None
                if not loaded:
                    raise UsageError(f"workload {name!r}: {source!r} has no items")
                return loaded

            def item_key(self, item: Any) -> Any:
                return item if isinstance(item, Hashable) else object()  # unhashable: never taken for another

            def map_item(self, item: Any) -> Any:
                return asyncio.run(fn(item)) if is_async else fn(item)

            async def amap_item(self, item: Any) -> Any:
                if is_async:
                    return await fn(item)
                if self.items_wait:  # a blocking call: off the event loop, so other items keep going
                    return await asyncio.to_thread(fn, item)
                return fn(item)

            def reduce(self, values: list[Any]) -> Any:
                return reduce(values)

            def reference(self, raw: list[Any]) -> Any:
                return reference(raw) if reference is not None else None

        FunctionWorkload.name = name
        FunctionWorkload.description = description or (inspect.getdoc(fn) or "").split("\n")[0] or name
        FunctionWorkload.unit = unit
        FunctionWorkload.cases = {case: f"items from {source!r}" for case, source in case_sources.items()}
        FunctionWorkload.default_case = next(iter(case_sources), None)
        FunctionWorkload.map_task = getattr(fn, "__name__", "map")
        FunctionWorkload.items_wait = is_async if waits is None else waits
        FunctionWorkload.__module__ = fn.__module__
        FunctionWorkload.__qualname__ = FunctionWorkload.__name__ = f"{name}_workload"
        return FunctionWorkload

    return make
