"""Finishing steps after a super-resolution pass: the clean-up looks, and matching the
output's colours to the input's.

Every step works on H x W x 3 uint8/uint16 arrays and processes the image in horizontal
bands with a halo of rows wide enough for its filters, so memory stays bounded whatever
the output size and the bands join without seams.

* ``finish(..., "clean")``: compression-artefact and noise removal by a self-guided filter
  (He, Sun and Tang, 2010) of radius one input pixel and eps (10/255)^2: variations under
  about 10 levels (noise, JPEG blocking and ringing) are flattened, edges well above that
  are kept.
* ``finish(..., "smooth")``: "ironed out": the guided filter at twice the radius and eps
  (25/255)^2 flattens texture, then a Gaussian of sigma half an input pixel rounds edges.
* ``match_colors``: Reinhard colour transfer in CIELAB. The output, area-averaged back to
  the input's size, and the input give per-channel means and deviations; the whole output
  is mapped so that the first match the second (the deviation ratio kept within 0.8-1.25).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from inference.device import select_device
from inference.resample import resize

FINISHES = ("none", "clean", "smooth")
BAND_ROWS = 512
GPU_BAND_ROWS = 2048

# (radius in input pixels, eps as a standard deviation in [0, 1]) of the guided filter.
CLEAN = (1.0, 10 / 255)
SMOOTH = (2.0, 25 / 255)
SMOOTH_BLUR_SIGMA = 0.5  # input pixels
STD_RATIO_RANGE = (0.8, 1.25)

Step = Callable[[torch.Tensor], torch.Tensor]  # (1, 3, h, w) float in [0, 1] -> same shape


def _top(array: np.ndarray) -> float:
    return float(np.iinfo(array.dtype).max)


def in_bands(array: np.ndarray, step: Step, halo: int, rows: int | None = None) -> np.ndarray:
    """Apply ``step`` to ``array`` band by band on the inference device (CUDA when present);
    each band sees ``halo`` rows either side."""
    device = select_device()
    rows = rows or (GPU_BAND_ROWS if device.type == "cuda" else BAND_ROWS)
    top = _top(array)
    height = array.shape[0]
    out = np.empty_like(array)
    for start in range(0, height, rows):
        stop = min(start + rows, height)
        low, high = max(0, start - halo), min(height, stop + halo)
        band = torch.from_numpy(array[low:high].copy()).to(device)  # a writable copy of the band
        with torch.inference_mode():
            x = (band.float() / top).permute(2, 0, 1)[None]
            result = step(x)[0].permute(1, 2, 0).clamp_(0.0, 1.0).mul_(top).round_()
            rows_out = result[start - low : stop - low].to(torch.int32).cpu().numpy()
        out[start:stop] = rows_out.astype(array.dtype)
    return out


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.avg_pool2d(padded, 2 * radius + 1, stride=1)


def guided_filter(x: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Each channel guided by itself: flat where its local variance is under ``eps``."""
    mean = _box(x, radius)
    variance = (_box(x * x, radius) - mean * mean).clamp_(min=0.0)
    a = variance / (variance + eps)
    b = mean - a * mean
    return _box(a, radius) * x + _box(b, radius)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    kernel = _gaussian_kernel(sigma).to(x.device)
    radius = kernel.numel() // 2
    channels = x.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.conv2d(F.conv2d(padded, horizontal, groups=channels), vertical, groups=channels)


def _pixels(input_pixels: float, scale: float) -> int:
    """A length in input pixels as whole output pixels (at least 1)."""
    return max(1, round(input_pixels * scale))


def finish(color: np.ndarray, look: str, scale: float) -> np.ndarray:
    """The clean-up ``look`` ("none", "clean" or "smooth") on an output ``scale`` times the
    input; filter sizes are in input pixels, so a look is the same at 2x and 8x."""
    if look == "none":
        return color
    if look not in FINISHES:
        raise ValueError(f"finish must be one of {', '.join(FINISHES)} (got {look!r}).")
    radius_px, deviation = CLEAN if look == "clean" else SMOOTH
    radius = _pixels(radius_px, scale)
    eps = deviation**2
    halo = 2 * radius + 1
    if look == "clean":
        return in_bands(color, lambda x: guided_filter(x, radius, eps), halo=halo)
    sigma = max(SMOOTH_BLUR_SIGMA * scale, 0.5)
    halo += math.ceil(3 * sigma) + 1
    return in_bands(color, lambda x: gaussian_blur(guided_filter(x, radius, eps), sigma), halo=halo)


# --- Colour ------------------------------------------------------------------------------

# sRGB (D65) <-> XYZ, as plain numbers: the mixes below are element-wise, so they give the
# same result on every device (no TF32 matrix products on CUDA).
_RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_XYZ_TO_RGB = tuple(tuple(float(v) for v in row) for row in np.linalg.inv(np.array(_RGB_TO_XYZ)))
_WHITE = (0.95047, 1.0, 1.08883)  # D65
_DELTA = 6 / 29


def _mix(matrix: tuple, x: torch.Tensor) -> torch.Tensor:
    """Each output channel i = sum_j matrix[i][j] * x[:, j], for (1, 3, h, w) tensors."""
    return torch.stack([sum(w * x[:, j] for j, w in enumerate(row)) for row in matrix], dim=1)


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, h, w) sRGB in [0, 1] -> CIELAB (L 0-100), D65."""
    linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    xyz = _mix(tuple(tuple(w / _WHITE[i] for w in row) for i, row in enumerate(_RGB_TO_XYZ)), linear)
    f = torch.where(xyz > _DELTA**3, xyz.clamp(min=1e-12) ** (1 / 3), xyz / (3 * _DELTA**2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29))
    linear = _mix(tuple(tuple(w * _WHITE[j] for j, w in enumerate(row)) for row in _XYZ_TO_RGB), xyz).clamp(0.0, 1.0)
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def lab_statistics(color: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel CIELAB mean and standard deviation of an H x W x 3 array."""
    x = torch.from_numpy(color.astype(np.float32) / _top(color)).permute(2, 0, 1)[None]
    lab = rgb_to_lab(x)[0].flatten(1)
    return lab.mean(dim=1), lab.std(dim=1, unbiased=False)


def match_colors(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``output`` with its colour palette mapped onto ``reference``'s (the input), judged at
    the reference's size."""
    shrunk = resize(output, (reference.shape[1], reference.shape[0]))
    mean_out, std_out = lab_statistics(shrunk)
    mean_ref, std_ref = lab_statistics(reference)
    low, high = STD_RATIO_RANGE
    gain = torch.where(std_out > 1e-3, std_ref / std_out.clamp(min=1e-3), torch.ones(3)).clamp(low, high)
    offset = mean_ref - gain * mean_out

    def transfer(x: torch.Tensor) -> torch.Tensor:
        lab = rgb_to_lab(x) * gain.to(x.device).view(1, 3, 1, 1) + offset.to(x.device).view(1, 3, 1, 1)
        return lab_to_rgb(lab)

    return in_bands(output, transfer, halo=0)
