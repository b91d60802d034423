"""Output sizes and the factor ranges of each mode. Torch-free, shared with the web tier."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

# Allowed upscale factors per mode (inclusive); restore always keeps the input size.
FACTOR_RANGES: dict[str, tuple[float, float]] = {
    "precise": (1.0, 16.0),
    "dynamic": (1.0, 4.0),
    "smart": (1.0, 4.0),
}


def effective_factor(mode: str, factor: float) -> float:
    """The factor a job of ``mode`` runs at: restore always keeps the input size (1),
    whatever factor was sent; the other modes, the factor asked for."""
    return 1.0 if mode == "restore" else float(factor)


def scaled_length(length: int, factor: float) -> int:
    """``round(length * factor)`` with halves rounded up (never below 1 pixel).

    In decimal, on the factor as written (``str(factor)``), so that 10 x 1.15 is 11.5 and
    rounds to 12 as a client expects (in binary floating point it is 11.4999...).
    """
    exact = Decimal(length) * Decimal(str(factor))
    return max(1, int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def output_size(width: int, height: int, factor: float) -> tuple[int, int]:
    """The exact output size of an upscale: ``round(w*f) x round(h*f)``, halves up."""
    return scaled_length(width, factor), scaled_length(height, factor)


def long_side_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size whose longer side is exactly ``long_side``, the aspect ratio kept: the shorter
    side is ``round(short * long_side / long)``, halves up, never below 1 pixel. A square
    stays square. Used for resolution tiers (APIXO's 2k, 4k, 8k: 2048, 4096, 8192) whatever
    the input's size, larger inputs included."""
    if long_side < 1:
        raise ValueError(f"The long side must be at least 1 pixel (got {long_side!r}).")
    longer = max(width, height)
    exact = Decimal(min(width, height)) * Decimal(long_side) / Decimal(longer)
    shorter = max(1, int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return (long_side, shorter) if width >= height else (shorter, long_side)


def check_factor(mode: str, factor: float) -> None:
    """Raise ValueError when ``factor`` is outside what ``mode`` allows."""
    if mode not in FACTOR_RANGES:
        return
    low, high = FACTOR_RANGES[mode]
    if not (isinstance(factor, int | float) and math.isfinite(factor) and low <= factor <= high):
        raise ValueError(f"The upscale factor must be a number from {low:g} to {high:g} for {mode} (got {factor!r}).")
