"""What a job costs, in whole credits. Prices live in settings."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

# The engine and the price must agree on the output size: one definition, torch-free.
from inference.registry import MODELS
from inference.sizing import long_side_size, output_size

__all__ = ["long_side_size", "output_size", "price"]


def price(mode: str, out_width: int, out_height: int, model: str = "") -> int:
    """Credits for a job: per output megapixel (rounded half up, at least 1) or flat. A
    registered network that costs more to run (``price_factor``: DAT-light, Ximilar's classic
    model) multiplies the per-megapixel price."""
    if mode in settings.PRICE_FLAT:
        return int(settings.PRICE_FLAT[mode])
    per_mp = Decimal(str(settings.PRICE_PER_OUTPUT_MEGAPIXEL[mode]))
    spec = MODELS.get(model)
    if spec is not None and spec.price_factor != 1.0:
        per_mp *= Decimal(str(spec.price_factor))
    megapixels = Decimal(out_width * out_height) / Decimal(1_000_000)
    credits = (megapixels * per_mp).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(int(credits), 1)
