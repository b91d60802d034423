"""Turning tile counts from several network runs into one job progress fraction."""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressCallback = Callable[[float], None]


class Progress:
    """Reports a non-decreasing fraction in [0, 1] to ``callback``.

    The work is declared up front as parts with weights (say, input pixels per network
    run); each part reports ``(done, total)`` steps. Restarting a part (after an
    out-of-memory back-off) never makes the reported fraction go down.
    """

    def __init__(self, callback: ProgressCallback | None, total_weight: float = 1.0) -> None:
        self._callback = callback
        self._total = max(float(total_weight), 1e-12)
        self._reserved = 0.0
        self._last = 0.0
        self._lock = threading.Lock()

    def part(self, weight: float) -> Callable[[int, int], None]:
        """Reserve the next ``weight`` of the work; returns its ``(done, total)`` reporter."""
        base = self._reserved
        self._reserved += weight

        def report(done: int, total: int) -> None:
            fraction = (base + weight * done / max(total, 1)) / self._total
            self._emit(fraction)

        return report

    def finish(self) -> None:
        self._emit(1.0)

    def _emit(self, fraction: float) -> None:
        with self._lock:
            fraction = min(1.0, max(self._last, fraction))
            self._last = fraction
        if self._callback is not None:
            self._callback(fraction)
