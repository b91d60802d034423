"""Small test images, made in memory."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def pattern(width: int = 24, height: int = 20, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), ((x + y) * 7) % 256], -1)
    noisy = np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(noisy, "RGB")
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def png(width: int = 24, height: int = 20, **kwargs) -> bytes:
    return encode(pattern(width, height, **kwargs), "PNG")


def jpeg(width: int = 24, height: int = 20, **kwargs) -> bytes:
    return encode(pattern(width, height), "JPEG", quality=90)
