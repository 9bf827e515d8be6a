"""The example pipelines (examples/*.py), each with its calls counted in flight (tests/peak.py): a plugin file for
the tests, loaded with ``plugins=[this file]``. Each workload is the example's own class, subclassed only to count
around its calls; its name gets ``-counted``."""

from __future__ import annotations

import importlib.util
import os
import sys

import orchbench

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")


def _load(path: str, name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


peak = _load(os.path.join(HERE, "peak.py"), "orchbench_test_peak")


def counted(workload):
    """The workload's class, with every call of its function counted in flight."""

    class Counted(workload):
        def map_item(self, item):
            with peak.counted():
                return super().map_item(item)

        async def amap_item(self, item):
            if self.sync_calls:  # the call runs map_item in a worker thread: counted there
                return await super().amap_item(item)
            with peak.counted():
                return await super().amap_item(item)

    Counted.name = f"{workload.name}-counted"
    Counted.__qualname__ = Counted.__name__ = f"{workload.__name__}_counted"
    return Counted


MODULES = {
    name: _load(os.path.join(EXAMPLES, f"{name}.py"), f"orchbench_example_{name}")
    for name in ("sqlite_lookup", "api_pipeline", "file_hashing", "cpu_transform")
}
WORKLOADS = [
    counted(MODULES["sqlite_lookup"].lookup),
    counted(MODULES["api_pipeline"].ask),
    counted(MODULES["file_hashing"].digest),
    counted(MODULES["cpu_transform"].collatz),
]


@orchbench.hookimpl
def orchbench_workloads():
    return WORKLOADS
