"""Loaded networks, kept once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class LoadedOnce(Generic[T]):
    """A per-process cache of loaded models. Loading is rare and slow: one lock keeps it
    simple, and two threads asking for the same model load it once."""

    def __init__(self) -> None:
        self._items: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T], still_valid: Callable[[], bool]) -> T:
        """The cached value for `key` while `still_valid()` (its files are still there), else
        a fresh `load()`."""
        with self._lock:
            cached = self._items.get(key)
            if cached is not None and still_valid():
                return cached
            loaded = load()
            self._items[key] = loaded
            return loaded

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
