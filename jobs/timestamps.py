"""Timestamps as the APIs write them, defined once."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime | None, timespec: str = "auto") -> str | None:
    """ISO 8601 in UTC with a "Z" (what DRF's DateTimeField writes too)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def unix_ms(value: datetime | None) -> int | None:
    """Unix time in whole milliseconds."""
    if value is None:
        return None
    return int(value.timestamp() * 1000)
