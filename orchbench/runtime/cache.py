"""Per-process caches: expensive read-only resources, loaded once (or on every use when caching is off)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ResourceCache:
    """Loads each resource once per process and shares it; with ``enabled=False`` loads it on every ``get``.

    The disabled form reproduces a naive pipeline that reloads its dictionary on every call.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.loads = 0
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, loader: Callable[[], T]) -> T:
        if not self.enabled:
            self.loads += 1
            return loader()
        try:
            return self._values[key]
        except KeyError:
            pass
        with self._lock:  # one loader per key even when many threads ask at once
            if key not in self._values:
                self._values[key] = loader()
                self.loads += 1
            return self._values[key]
