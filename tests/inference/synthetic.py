"""Small synthetic test images: deterministic, photo-like enough for the networks."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo(height: int, width: int, seed: int = 0, noise: float = 0.03) -> np.ndarray:
    """Smooth colour waves, a few hard-edged discs and a little noise: H x W x 3 uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.5 + 0.4 * np.sin(x / 7 + c) * np.cos(y / 5 - c) for c in range(3)], axis=-1)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 12)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
    image += rng.normal(0, noise, image.shape)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def encode(image: Image.Image | np.ndarray, fmt: str = "PNG", **options) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
