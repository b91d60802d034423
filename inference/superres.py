"""Running a loaded model over a whole image: passes, tile choice, out-of-memory back-off.

An exact output size is reached in steps, whatever the network's native scale ``s``: one
``s``x pass per factor of ``s`` needed (the last one landing on the target, the earlier
ones resampled to what it needs), an integer downscale fused on the device where the
target is the pass output divided exactly, and a Lanczos resample for whatever is left.
A 1x network (restoration) runs once at the input size and is resampled after.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from inference.loader import LoadedModel
from inference.resample import resize
from inference.tiling import TileProgress, tiled_upscale

log = logging.getLogger(__name__)

TILE_ENV = "UPSCALER_TILE"  # new pixels per tile side, input pixels (default: automatic)
GPU_MEMORY_FRACTION_ENV = "UPSCALER_GPU_MEMORY_FRACTION"  # of the free memory, default 0.8

# Tiles are sized by the new pixels they contribute; each also sees the context its
# architecture needs (``LoadedModel.context``, from inference.tile_context) on every side and
# shares a FEATHER-wide cross-fade with its neighbours.
CPU_TILE = 160  # new pixels a side on CPUs: RRDBNet tiles of 272 px with their context
GPU_WINDOW = 1024  # the largest tile on CUDA, context included; batching fills the GPU
MAX_BATCH = 16
MIN_TILE = 32  # the out-of-memory back-off halves the new pixels down to this, never the context
FEATHER = 16
# Architectures spandrel advises against tiling run in one piece unless memory says otherwise.
ONE_PIECE = 1 << 16
# A last pass is skipped when a Lanczos upsample of at most this much finishes the job.
UPSAMPLE_SLACK = 1.05

# (x, y) -> y': runs on each tile after the network, with x the tile's input in [0, 1].
PostProcess = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Pass:
    """One network run: its input size, an integer pool after it, the resample after that."""

    input_size: tuple[int, int]  # (width, height)
    pool: int
    resample_to: tuple[int, int]

    @property
    def pixels(self) -> int:
        return self.input_size[0] * self.input_size[1]


def pass_count(factor: float, scale: int) -> int:
    """Network passes of a ``scale``x model for ``factor``: the fewest whose product reaches
    it (within UPSAMPLE_SLACK); one for a 1x model, which cannot enlarge anything."""
    count = 1
    if scale > 1:
        while scale**count * UPSAMPLE_SLACK < factor:
            count += 1
    return count


def plan_passes(size: tuple[int, int], target: tuple[int, int], scale: int) -> list[Pass]:
    """The network passes taking ``size`` to ``target`` with a ``scale``x model.

    Pass ``j`` of ``n`` starts from ``ceil(target / scale**(n - j))``, so the last pass
    lands on (or just past) the target and its output is not stretched: the resampling is
    done on the smaller intermediate images, where it costs least and the next pass
    re-sharpens it. A pass whose output is an integer multiple of what follows is pooled on
    the device instead of resampled.

    A target no larger than the input (a resolution tier under the input's size) is one
    pass at the target size, pooled by ``scale``: the input is resampled down to it first,
    so the network's work and memory follow the output, not a larger input's 4x.
    """
    width, height = size
    if target[0] <= width and target[1] <= height:
        return [Pass(input_size=target, pool=scale, resample_to=target)]
    count = pass_count(max(target[0] / width, target[1] / height), scale)
    inputs = [size] + [
        (
            math.ceil(target[0] / scale ** (count - j)),
            math.ceil(target[1] / scale ** (count - j)),
        )
        for j in range(1, count)
    ]
    passes = []
    for j, (w, h) in enumerate(inputs):
        following = inputs[j + 1] if j + 1 < count else target
        pool = 1
        for divisor in range(scale, 1, -1):
            if scale % divisor == 0 and (w * scale, h * scale) == tuple(n * divisor for n in following):
                pool = divisor
                break
        passes.append(Pass(input_size=(w, h), pool=pool, resample_to=following))
    return passes


@dataclass
class Tiling:
    tile: int  # new pixels a side; the tile the network sees is ``tile + overlap(model)``
    batch: int


def overlap(model: LoadedModel) -> int:
    """Input pixels neighbouring tiles share: the context on both sides and the cross-fade."""
    return 2 * model.context + FEATHER


def choose_tiling(model: LoadedModel, tile: int | None = None) -> Tiling:
    """The tile (new pixels a side) and batch for ``model``: explicit, from the environment,
    or measured against the free memory (CUDA)."""
    configured = tile or _env_int(TILE_ENV)
    default = CPU_TILE if model.tiling_supported else ONE_PIECE
    if model.device.type != "cuda":
        side = configured or default
        if model.max_tile:
            side = min(side, model.max_tile)
        return Tiling(tile=side, batch=1)

    shared = overlap(model)
    per_pixel = _bytes_per_pixel(model)
    free, _ = torch.cuda.mem_get_info(model.device)
    fraction = float(os.environ.get(GPU_MEMORY_FRACTION_ENV, "") or 0.8)
    budget_pixels = max(1.0, free * fraction / per_pixel)
    window = int(math.sqrt(budget_pixels)) // 64 * 64
    if model.tiling_supported:
        window = min(GPU_WINDOW, window)
    side = configured or max(MIN_TILE, window - shared)
    if model.max_tile:
        side = min(side, model.max_tile)
    batch = int(max(1, min(MAX_BATCH, budget_pixels // (side + shared) ** 2)))
    return Tiling(tile=side, batch=batch)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else None


def _bytes_per_pixel(model: LoadedModel) -> float:
    """Device memory the network needs per input pixel, measured once on two sizes."""
    with model.lock:
        if model.bytes_per_pixel is not None:
            return model.bytes_per_pixel
        device = model.device
        network = model.descriptor.model  # not the compiled wrapper: no compile for a probe
        peaks = []
        sides = (64, 128)
        with torch.inference_mode():
            for side in sides:
                probe = torch.zeros((1, 3, side, side), device=device, dtype=model.dtype)
                probe = probe.contiguous(memory_format=torch.channels_last)
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                start = torch.cuda.memory_allocated(device)
                network(probe)
                torch.cuda.synchronize(device)
                peaks.append(torch.cuda.max_memory_allocated(device) - start)
                del probe
        slope = (peaks[1] - peaks[0]) / (sides[1] ** 2 - sides[0] ** 2)
        # Never below the average at the larger size: the slope can be noisy.
        model.bytes_per_pixel = max(slope, peaks[1] / sides[1] ** 2, 1.0) * 1.1
        log.info("%s needs %.0f bytes per input pixel", model.name, model.bytes_per_pixel)
        return model.bytes_per_pixel


def network(
    model: LoadedModel, top: float, post: PostProcess | None, pool: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The tile callable: samples in [0, top] -> model -> post-process -> integer pool."""

    def run(batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(model.dtype)
        if top != 1.0:
            x = x.div_(top)
        y = model(x)
        if post is not None:
            y = post(x, y)
        if pool > 1:
            y = torch.nn.functional.avg_pool2d(y, pool)
        return y

    return run


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def run_network(
    model: LoadedModel,
    array: np.ndarray,
    *,
    pool: int = 1,
    post: PostProcess | None = None,
    tile: int | None = None,
    progress: TileProgress | None = None,
) -> np.ndarray:
    """``array`` (H x W x 3, uint8 or uint16) through the network, tiled; same dtype out."""
    if model.scale % pool:
        raise ValueError(f"pool {pool} does not divide the model scale {model.scale}")
    scale = model.scale // pool
    height, width, channels = array.shape
    out = np.empty((height * scale, width * scale, channels), dtype=array.dtype)
    if array.dtype == np.uint8:
        if not array.flags.writeable or not array.flags.c_contiguous:
            array = array.copy()  # torch wants a writable array (it is only read)
        host, top = torch.from_numpy(array), 255.0
    else:
        # Scaled to [0, 1] here: 65535 itself would overflow half precision (max 65504).
        host, top = torch.from_numpy(array.astype(np.float32) / np.float32(65535)), 1.0
    # One upload of the whole input (1/16 of the output at 4x); tiles are cut from it and
    # converted to floats on the device, and come back as 8/16-bit samples.
    source = host.to(model.device)
    tiling = choose_tiling(model, tile)
    run = network(model, top, post, pool)
    while True:
        try:
            return tiled_upscale(
                run,
                source,
                out,
                scale=scale,
                tile=tiling.tile,
                context=model.context,
                feather=FEATHER,
                batch=tiling.batch,
                multiple=model.multiple,
                progress=progress,
            )
        except (torch.OutOfMemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc):
                raise
            if tiling.batch > 1:
                tiling.batch //= 2
            elif _halved(tiling.tile, max(height, width), overlap(model)) >= MIN_TILE:
                # Fewer new pixels per tile; the context stays, or the seams would show.
                tiling.tile = _halved(tiling.tile, max(height, width), overlap(model))
                model.max_tile = tiling.tile  # later jobs start from what fitted
            else:
                raise
            log.warning(
                "%s ran out of memory; retrying with %d px tiles (+%d px context a side), batch %d",
                model.name,
                tiling.tile,
                model.context,
                tiling.batch,
            )
        if model.device.type == "cuda":
            torch.cuda.empty_cache()


def _halved(tile: int, longest: int, shared: int) -> int:
    """Half the new pixels a tile really contributes (an image that fits in one tile: itself)."""
    return min(tile, max(longest - shared, 0)) // 2


def upscale_array(
    model: LoadedModel,
    array: np.ndarray,
    target: tuple[int, int],
    *,
    post: PostProcess | None = None,
    tile: int | None = None,
    progress: Callable[[float], TileProgress] | None = None,
) -> np.ndarray:
    """``array`` to exactly ``target`` = (width, height) through as many passes as needed.

    ``post`` runs on the tiles of the last pass. ``progress(weight)`` hands out a tile
    reporter per pass, weighted by the pass's input pixels.
    """
    passes = plan_passes((array.shape[1], array.shape[0]), target, model.scale)
    array = resize(array, passes[0].input_size)  # a reduction starts at the target size
    for index, step in enumerate(passes):
        if (array.shape[1], array.shape[0]) != step.input_size:
            raise RuntimeError("the pass plan and the array disagree")
        last = index == len(passes) - 1
        array = run_network(
            model,
            array,
            pool=step.pool,
            post=post if last else None,
            tile=tile,
            progress=progress(step.pixels) if progress else None,
        )
        array = resize(array, step.resample_to)
    return array


def pass_pixels(size: tuple[int, int], target: tuple[int, int], scale: int) -> int:
    """The input pixels all passes of ``upscale_array`` feed the network (for progress)."""
    return sum(step.pixels for step in plan_passes(size, target, scale))
