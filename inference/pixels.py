"""Between client images and the arrays the engines work on. Torch-free.

Engines see ``Planes``: a 3-channel colour array (grey is replicated, palettes expanded)
and an optional alpha plane, both uint8 or uint16. On the way out the input's kind is
restored: grey stays grey (L, LA, or I;16), alpha stays, 16-bit stays 16-bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from inference.imageio import PIXELS16_KEY, DecodedImage

# ITU-R BT.601 luma, as Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class Planes:
    """Pixels an engine works on: ``color`` is H x W x 3, ``alpha`` H x W (or None)."""

    color: np.ndarray
    alpha: np.ndarray | None = None
    gray: bool = False

    @property
    def width(self) -> int:
        return int(self.color.shape[1])

    @property
    def height(self) -> int:
        return int(self.color.shape[0])

    @property
    def bit_depth(self) -> int:
        return 16 if self.color.dtype == np.uint16 else 8

    @property
    def max_value(self) -> int:
        return 65535 if self.bit_depth == 16 else 255


def planes_from(decoded: DecodedImage) -> Planes:
    """Split a decoded image into colour and alpha arrays of its full bit depth."""
    if decoded.pixels16 is not None:
        return _split(decoded.pixels16)
    im = decoded.image
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = np.clip(np.asarray(im, dtype=np.float64), 0, 65535).astype(np.uint16)
        return _split(grey[..., None])
    if im.mode == "1":
        im = im.convert("L")
    if im.mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("LA" if im.mode == "L" else "RGBA")
    elif im.mode == "P" or im.mode == "PA":
        has_alpha = im.mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif im.mode == "La":
        im = im.convert("LA")
    elif im.mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA" if decoded.has_alpha else "RGB")
    array = np.asarray(im)
    if array.ndim == 2:
        array = array[..., None]
    return _split(array)


def _split(samples: np.ndarray) -> Planes:
    channels = samples.shape[2]
    gray = channels in (1, 2)
    alpha = samples[..., -1].copy() if channels in (2, 4) else None
    color = samples[..., :1] if gray else samples[..., :3]
    if gray:
        color = np.repeat(color, 3, axis=2)
    return Planes(color=np.ascontiguousarray(color), alpha=alpha, gray=gray)


def to_gray(color: np.ndarray) -> np.ndarray:
    """H x W x 3 -> H x W luma, same dtype."""
    top = 65535 if color.dtype == np.uint16 else 255
    luma = color.astype(np.float32) @ _LUMA
    return np.clip(np.rint(luma), 0, top).astype(color.dtype)


def image_from(planes: Planes, icc_profile: bytes | None = None) -> Image.Image:
    """The PIL image of ``planes``: L, LA, RGB, RGBA, or I;16; 16-bit colour in info."""
    channels = [to_gray(planes.color)[..., None]] if planes.gray else [planes.color]
    if planes.alpha is not None:
        channels.append(planes.alpha[..., None])
    samples = np.ascontiguousarray(np.concatenate(channels, axis=2))
    count = samples.shape[2]
    if planes.bit_depth == 16:
        if count == 1:
            image = Image.fromarray(samples[..., 0])  # uint16 -> I;16
        else:
            eight = ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)
            image = _fromarray(eight)
            image.info[PIXELS16_KEY] = samples
    else:
        image = _fromarray(samples)
    if icc_profile:
        image.info["icc_profile"] = icc_profile
    return image


def _fromarray(samples: np.ndarray) -> Image.Image:
    if samples.shape[2] == 1:
        return Image.fromarray(samples[..., 0])
    mode = {2: "LA", 3: "RGB", 4: "RGBA"}[samples.shape[2]]
    return Image.frombytes(mode, (samples.shape[1], samples.shape[0]), samples.tobytes())
