"""Tiled inference: overlapping tiles, feathered blending, a preallocated output.

``tiled_upscale`` is a pure function: it takes the model as a callable, keeps all its
working state in locals (so it is reentrant), and streams finished pixels into the caller's
output array. Only a thin band of blend state is held on the device besides the batch in
flight, so device memory does not grow with the image.

A tile is planned around the pixels it contributes: ``tile`` new pixels a side, plus
``context`` pixels on each side that the network sees but whose output is thrown away
(the network's border effects fade out within them), plus a ``feather`` ramp shared with
the neighbour. Neighbouring tiles therefore overlap by ``2 * context + feather`` input
pixels. In the middle of each overlap a linear ramp of ``feather`` pixels hands over from
one tile to the next; the weights of the tiles covering a pixel always sum to one, and every
pixel with a non-zero weight lies at least ``context`` pixels inside its tile (or on the
image border, which the whole-image run has too). Tiles are processed in raster order: what
a tile finishes is written out at once; its right ramp is carried to the next tile and its
bottom ramp to the next row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

Model = Callable[[torch.Tensor], torch.Tensor]
TileProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class AxisPlan:
    """Tiles along one axis, in input pixels."""

    length: int
    size: int  # every tile on this axis has this length
    starts: tuple[int, ...]
    ramps: tuple[tuple[int, int], ...]  # [lo, hi) hand-over between tile i and i + 1

    @property
    def count(self) -> int:
        return len(self.starts)

    def support(self, i: int) -> tuple[int, int]:
        """The input range where tile ``i`` has a non-zero weight."""
        lo = self.ramps[i - 1][0] if i > 0 else 0
        hi = self.ramps[i][1] if i < self.count - 1 else self.length
        return lo, hi

    def rise(self, i: int) -> int:
        return self.ramps[i - 1][1] - self.ramps[i - 1][0] if i > 0 else 0

    def fall(self, i: int) -> int:
        return self.ramps[i][1] - self.ramps[i][0] if i < self.count - 1 else 0


def plan_axis(length: int, tile: int, context: int, feather: int, multiple: int = 1) -> AxisPlan:
    """The fewest tiles that each add at most ``tile`` new pixels to ``length``.

    Each tile also sees ``context`` pixels beyond what it contributes on either side, and
    shares a ``feather``-wide ramp (at most ``tile``) with each neighbour, so tiles are up
    to ``tile + 2 * context + feather`` long and overlap by at least ``2 * context + feather``.
    A ``length`` that fits in one such tile is one tile. The tile length is balanced (no
    nearly empty last tile) and rounded up to ``multiple``.
    """
    if length < 1 or tile < 1 or context < 0 or feather < 0:
        raise ValueError("length and tile must be positive, context and feather not negative")
    feather = min(feather, tile)
    overlap = 2 * context + feather
    if length <= tile + overlap:
        return AxisPlan(length, length, (0,), ())
    count = math.ceil((length - overlap) / tile)
    # count * size - (count - 1) * overlap >= length: consecutive starts are at most
    # size - overlap apart, so every overlap is at least ``overlap`` wide.
    size = math.ceil((length + (count - 1) * overlap) / count)
    size = min(length, math.ceil(size / multiple) * multiple)
    if size >= length:
        return AxisPlan(length, length, (0,), ())
    # Floored, not rounded: floor(a + x) - floor(a) <= ceil(x) keeps that bound exact.
    starts = tuple(i * (length - size) // (count - 1) for i in range(count))
    # Each ramp is centred in its overlap (so that at least ``context`` pixels of the
    # overlap lie on either side of it), and no wider than the gaps to the neighbouring
    # ramps' centres, so ramps never meet.
    overlaps = [(starts[i + 1], starts[i] + size) for i in range(count - 1)]
    mids = [(begin + end) // 2 for begin, end in overlaps]
    ramps = []
    for i, (begin, end) in enumerate(overlaps):
        width = min(feather, end - begin)
        if i > 0:
            width = min(width, mids[i] - mids[i - 1])
        if i + 1 < len(mids):
            width = min(width, mids[i + 1] - mids[i])
        lo = mids[i] - width // 2
        ramps.append((lo, lo + width))
    return AxisPlan(length, size, starts, tuple(ramps))


def _weights(plan: AxisPlan, i: int, scale: int, device: torch.device) -> torch.Tensor:
    """Tile ``i``'s blend weights over its support, in output pixels."""
    lo, hi = plan.support(i)
    weights = torch.ones((hi - lo) * scale, dtype=torch.float32, device=device)
    rise, fall = plan.rise(i) * scale, plan.fall(i) * scale
    if rise:
        weights[:rise] = (torch.arange(rise, device=device, dtype=torch.float32) + 0.5) / rise
    if fall:
        ramp = (torch.arange(fall, device=device, dtype=torch.float32) + 0.5) / fall
        weights[weights.numel() - fall :] = 1.0 - ramp
    return weights


def _output_tensor(out: np.ndarray) -> torch.Tensor:
    if out.dtype == np.uint16:
        return torch.from_numpy(out.view(np.int16))  # same bits; stored through int32 below
    return torch.from_numpy(out)


def _quantise(block: torch.Tensor, dtype: np.dtype) -> torch.Tensor:
    """Float [0, 1] (C, h, w) on the device -> (h, w, C) samples of the output's dtype.

    Quantised where the data is (on the GPU) and made contiguous there, so that only the
    final samples cross to the host, in one dense copy.
    """
    block = block.permute(1, 2, 0)
    if dtype == np.uint8:
        samples = block.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    elif dtype == np.uint16:
        wide = block.mul(65535.0).round_().clamp_(0, 65535).to(torch.int32)
        samples = torch.where(wide > 32767, wide - 65536, wide).to(torch.int16)
    else:
        samples = block.to(torch.float32)
    return samples.contiguous()


def tiled_upscale(
    model: Model,
    source: torch.Tensor,
    out: np.ndarray,
    *,
    scale: int,
    tile: int | tuple[int, int],
    context: int,
    feather: int = 0,
    batch: int = 1,
    multiple: int = 1,
    progress: TileProgress | None = None,
) -> np.ndarray:
    """Run ``model`` over ``source`` tile by tile and write the blended result into ``out``.

    ``tile`` is the new pixels each tile contributes (a side, or (height, width)); each tile
    also sees ``context`` pixels around them, and hands over to its neighbours on a
    ``feather``-wide ramp (see ``plan_axis``).

    ``source`` is H x W x C on the model's device, of any dtype ``model`` accepts;
    ``model`` maps a (B, C, h, w) view of it to (B, C, h*scale, w*scale) floats in [0, 1].
    ``out`` is the preallocated (H*scale, W*scale, C) result: uint8, uint16 or float32.
    ``progress(done, total)`` is called after each tile. Returns ``out``.
    """
    height, width, channels = source.shape
    if out.shape != (height * scale, width * scale, channels):
        raise ValueError(f"out has shape {out.shape}, expected {(height * scale, width * scale)}")
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    rows = plan_axis(height, tile_h, context, feather, multiple)
    cols = plan_axis(width, tile_w, context, feather, multiple)
    device = source.device
    target = _output_tensor(out)
    total = rows.count * cols.count
    tiles = [(r, c) for r in range(rows.count) for c in range(cols.count)]
    col_weights = [_weights(cols, c, scale, device) for c in range(cols.count)]
    row_weights = [_weights(rows, r, scale, device) for r in range(rows.count)]

    carry_right: torch.Tensor | None = None  # the previous tile's right ramp, all its rows
    ramp_rows = max((rows.fall(r) for r in range(rows.count)), default=0) * scale
    carry_down = torch.zeros((channels, ramp_rows, width * scale), device=device)

    with torch.inference_mode():
        for first in range(0, total, batch):
            chunk = tiles[first : first + batch]
            views = [
                source[
                    rows.starts[r] : rows.starts[r] + rows.size,
                    cols.starts[c] : cols.starts[c] + cols.size,
                ]
                for r, c in chunk
            ]
            # (B, h, w, C) permuted to (B, C, h, w): channels_last in memory, no copy.
            result = model(torch.stack(views).permute(0, 3, 1, 2))
            expected = (len(chunk), channels, rows.size * scale, cols.size * scale)
            if tuple(result.shape) != expected:
                raise RuntimeError(f"model returned {tuple(result.shape)}, expected {expected}")
            for index, (r, c) in enumerate(chunk):
                y0, y1 = rows.support(r)
                x0, x1 = cols.support(c)
                oy = (y0 - rows.starts[r]) * scale
                ox = (x0 - cols.starts[c]) * scale
                h, w = (y1 - y0) * scale, (x1 - x0) * scale
                z = result[index, :, oy : oy + h, ox : ox + w].float()
                z = z * (row_weights[r][:, None] * col_weights[c][None, :])
                top, bottom = rows.rise(r) * scale, rows.fall(r) * scale
                left, right = cols.rise(c) * scale, cols.fall(c) * scale
                X0, Y0 = x0 * scale, y0 * scale
                if left:
                    assert carry_right is not None  # the tile to the left set it
                    z[:, :, :left] += carry_right
                if top:
                    z[:, :top, left:] += carry_down[:, :top, X0 + left : X0 + w]
                done = _quantise(z[:, : h - bottom, : w - right], out.dtype)
                target[Y0 : Y0 + h - bottom, X0 : X0 + w - right].copy_(done.cpu())
                carry_right = z[:, :, w - right :].clone() if right else None
                if bottom:
                    carry_down[:, :bottom, X0 : X0 + w - right] = z[:, h - bottom :, : w - right]
                if progress is not None:
                    progress(first + index + 1, total)
            del result
    return out
