"""High-quality resampling to an exact size (Pillow's Lanczos, antialiased when shrinking)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample an H x W x C (or H x W) uint8/uint16 array to ``size`` = (width, height)."""
    width, height = size
    if array.shape[1] == width and array.shape[0] == height:
        return array
    if array.ndim == 2:
        return resize(array[..., None], size)[..., 0]
    if array.dtype == np.uint8 and array.shape[2] == 3:
        image = Image.fromarray(np.ascontiguousarray(array))
        return np.asarray(image.resize(size, Image.Resampling.LANCZOS))
    top = float(np.iinfo(array.dtype).max)
    planes = []
    for channel in range(array.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(array[..., channel], dtype=np.float32))
        planes.append(np.asarray(plane.resize(size, Image.Resampling.LANCZOS)))
    stacked = np.stack(planes, axis=2)
    return np.clip(np.rint(stacked), 0, top).astype(array.dtype)
