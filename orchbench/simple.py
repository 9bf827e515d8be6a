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

import inspect
from collections.abc import Callable, Hashable
from typing import Any

from orchbench.api import Workload
from orchbench.errors import UsageError
from orchbench.runtime.workers import current


def _takes_two(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True  # no signature to read (a builtin): let the call say
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


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
    capacity: int | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> Callable[[Callable[..., Any]], type[Workload]]:
    """Turn the decorated per-item function into a Workload class named ``name``.

    ``waits`` declares that an item's time is mostly waiting (on a service, a disk); by default an async function
    waits and a sync one computes. ``cases`` maps a case name to the argument its loader gets (the first case is
    the default); without cases, ``--input PATH`` is required. ``capacity``: the most items the service or resource
    takes at once (every strategy keeps at most this many in flight over the whole run, and sizes its defaults
    from it). ``retry_on``: your exception types worth retrying (``orchbench.TransientError`` always is).

    The returned class has a ``worker`` decorator: ``@fn.worker`` registers a generator function (or an async
    generator function) that opens a resource, yields it and closes it; each worker opens one, and the resource is
    the function's second parameter.
    """
    retry_types = tuple(retry_on) if isinstance(retry_on, tuple | list) else (retry_on,)
    for kind in retry_types:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(f"workload {name!r}: retry_on takes exception classes, not {kind!r}")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
        raise TypeError(f"workload {name!r}: capacity must be a whole number of items >= 1, not {capacity!r}")

    def make(fn: Callable[..., Any]) -> type[Workload]:
        is_async = inspect.iscoroutinefunction(fn)
        case_sources = dict(cases or {})
        factory: list[Callable[[], Any]] = []  # the registered worker factory, if any

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

            def worker_factory(self) -> Any:
                return factory[0]() if factory else None

            def map_item(self, item: Any) -> Any:
                worker = current(self)
                args = (item, worker.resource()) if factory else (item,)
                return worker.run(fn(*args)) if is_async else fn(*args)  # a coroutine: on the worker's own loop

            async def amap_item(self, item: Any) -> Any:
                worker = current(self)
                if is_async:
                    return await fn(item, await worker.aresource()) if factory else await fn(item)
                # a sync call: in one of the loop's worker threads (each with its resource), so items keep going
                return await worker.offload(self.map_item, item)

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
        FunctionWorkload.capacity = capacity
        FunctionWorkload.sync_calls = not is_async  # under a loop: a thread per call
        FunctionWorkload.transient_errors = retry_types

        def register(opener: Callable[[], Any]) -> Callable[[], Any]:
            if not (inspect.isgeneratorfunction(opener) or inspect.isasyncgenfunction(opener)):
                raise TypeError(
                    f"workload {name!r}: @{getattr(fn, '__name__', 'fn')}.worker takes a generator function "
                    "(set the resource up, yield it, tear it down), or an async one"
                )
            if factory:
                raise TypeError(f"workload {name!r} has a worker factory already ({factory[0].__name__})")
            if not _takes_two(fn):
                raise TypeError(
                    f"workload {name!r}: {getattr(fn, '__name__', 'fn')} must take the worker's resource as its "
                    "second parameter"
                )
            factory.append(opener)
            return opener

        FunctionWorkload.worker = staticmethod(register)  # type: ignore[attr-defined]
        FunctionWorkload.__module__ = fn.__module__
        FunctionWorkload.__qualname__ = FunctionWorkload.__name__ = f"{name}_workload"
        return FunctionWorkload

    return make
