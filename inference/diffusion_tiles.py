"""Overlapping tiles and their feathered blending weights, for latents and decoded pixels.

Pure torch functions: the diffusion engine blends each denoising step's noise predictions
over latent tiles (MultiDiffusion: every step sees one consistent latent, so tiles cannot
drift apart) and the VAE's decoded tiles the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Start/end of tiles of ``tile`` covering ``length`` with at least ``overlap`` shared.

    One span when it fits; otherwise evenly spread spans, the first at 0, the last at the end.
    """
    if length <= tile:
        return [(0, length)]
    overlap = min(overlap, tile - 1)
    count = math.ceil((length - overlap) / (tile - overlap))
    starts = [round(i * (length - tile) / (count - 1)) for i in range(count)]
    return [(start, start + tile) for start in starts]


def ramp(start: int, end: int, length: int, width: int) -> torch.Tensor:
    """1-D weights of a span: rising over ``width`` at inner edges, flat at the image's own."""
    size = end - start
    position = torch.arange(size, dtype=torch.float32)
    weight = torch.ones(size)
    if width > 0:
        if start > 0:
            weight = torch.minimum(weight, (position + 1) / (width + 1))
        if end < length:
            weight = torch.minimum(weight, (size - position) / (width + 1))
    return weight


@dataclass(frozen=True)
class Tile:
    top: int
    bottom: int
    left: int
    right: int
    weight: torch.Tensor  # (bottom - top, right - left), float32

    def region(self, scale: int = 1) -> tuple[slice, slice]:
        return slice(self.top * scale, self.bottom * scale), slice(self.left * scale, self.right * scale)


def plan(height: int, width: int, tile: int, overlap: int, *, multiple: int = 1) -> list[Tile]:
    """The tiles of a ``height`` x ``width`` grid; tile sides are multiples of ``multiple``
    (the grid's own sides must be too)."""
    tile = max(multiple, tile // multiple * multiple)
    rows = spans(height, tile, overlap)
    cols = spans(width, tile, overlap)
    tiles = []
    for top, bottom in rows:
        vertical = ramp(top, bottom, height, overlap)
        for left, right in cols:
            horizontal = ramp(left, right, width, overlap)
            tiles.append(Tile(top, bottom, left, right, vertical[:, None] * horizontal[None, :]))
    return tiles


def scaled_weight(tile: Tile, scale: int) -> torch.Tensor:
    """The tile's weight at ``scale`` times its resolution (for decoded pixels)."""
    if scale == 1:
        return tile.weight
    return tile.weight.repeat_interleave(scale, dim=0).repeat_interleave(scale, dim=1)
