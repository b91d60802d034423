"""Tiled inference as a pure function: plans, seamless blending, batching, progress."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inference.tiling import plan_axis, tiled_upscale


def pointwise(scale: int):
    """A 'model' whose every output pixel depends on one input pixel only."""

    def run(batch: torch.Tensor) -> torch.Tensor:
        x = batch.float() / 255
        return F.interpolate(x, scale_factor=scale, mode="nearest") ** 2

    return run


def blurring(scale: int, radius: int = 2):
    """A 'model' with a receptive field of ``radius`` input pixels (zero padded, like convs)."""
    kernel = torch.ones(3, 1, 2 * radius + 1, 2 * radius + 1) / (2 * radius + 1) ** 2

    def run(batch: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(batch.float() / 255, kernel, padding=radius, groups=3)
        return F.interpolate(x, scale_factor=scale, mode="nearest")

    return run


def whole(model, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    y = model(x)[0].permute(1, 2, 0)
    return (y * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@pytest.mark.parametrize(
    ("length", "tile", "context", "feather"),
    [(512, 160, 40, 16), (100, 24, 8, 8), (97, 17, 8, 4), (1000, 256, 12, 16), (200, 32, 40, 16), (300, 64, 64, 16)],
)
def test_it_plans_balanced_tiles_with_context_around_every_ramp(length, tile, context, feather):
    plan = plan_axis(length, tile, context, feather)
    overlap = 2 * context + feather
    assert plan.count == math.ceil((length - overlap) / tile)  # the fewest of <= tile new pixels
    assert plan.starts[0] == 0 and plan.starts[-1] + plan.size == length
    assert plan.size <= tile + overlap
    ends = [start + plan.size for start in plan.starts]
    for i, (lo, hi) in enumerate(plan.ramps):
        assert lo - plan.starts[i + 1] >= context and ends[i] - hi >= context  # both tiles see past it
        assert ends[i] - plan.starts[i + 1] >= overlap
        assert hi - lo == feather
    for (_, hi), (lo, _) in itertools.pairwise(plan.ramps):
        assert hi <= lo  # ramps never meet: at most two tiles blend anywhere


def test_it_uses_one_tile_when_the_image_fits():
    assert plan_axis(100, 128, 32, 16).starts == (0,)
    assert plan_axis(100, 20, 32, 16).starts == (0,)  # 20 new px + 2 x 32 context + 16 >= 100
    calls = []

    def model(batch):
        calls.append(tuple(batch.shape))
        return pointwise(2)(batch)

    image = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    out = np.empty((60, 80, 3), np.uint8)
    tiled_upscale(model, torch.from_numpy(image), out, scale=2, tile=64, context=8)
    assert calls == [(1, 3, 30, 40)]


@pytest.mark.parametrize(
    ("height", "width", "tile", "context", "feather", "batch"),
    [
        (40, 100, 12, 2, 4, 1),
        (97, 13, 25, 4, 3, 3),
        (64, 64, 16, 4, 0, 2),
        (50, 77, 10, 3, 10, 5),
    ],
)
def test_it_blends_tiles_so_weights_sum_to_one(height, width, tile, context, feather, batch):
    image = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    model = pointwise(3)
    out = np.empty((height * 3, width * 3, 3), np.uint8)
    tiled_upscale(
        model,
        torch.from_numpy(image),
        out,
        scale=3,
        tile=tile,
        context=context,
        feather=feather,
        batch=batch,
    )
    assert np.abs(out.astype(int) - whole(model, image)).max() <= 1


def test_it_is_exact_when_the_context_covers_the_receptive_field():
    image = np.random.default_rng(2).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    model = blurring(2, radius=2)
    out = np.empty((140, 180, 3), np.uint8)
    # 2 px of context on either side of every 8 px ramp: the radius of the blur.
    tiled_upscale(model, torch.from_numpy(image), out, scale=2, tile=20, context=2, feather=8)
    assert np.abs(out.astype(int) - whole(model, image)).max() <= 1
    # Without that context the tile borders show.
    tiled_upscale(model, torch.from_numpy(image), out, scale=2, tile=20, context=0, feather=0)
    assert np.abs(out.astype(int) - whole(model, image)).max() > 10
    # One pixel short of it, they show a little.
    tiled_upscale(model, torch.from_numpy(image), out, scale=2, tile=20, context=1, feather=0)
    assert np.abs(out.astype(int) - whole(model, image)).max() > 1


def test_it_fills_the_callers_array_and_reports_each_tile():
    image = np.random.default_rng(3).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    out = np.zeros((100, 120, 3), np.uint8)
    steps = []
    returned = tiled_upscale(
        pointwise(2),
        torch.from_numpy(image),
        out,
        scale=2,
        tile=16,
        context=2,
        feather=4,
        batch=4,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert returned is out
    total = plan_axis(50, 16, 2, 4).count * plan_axis(60, 16, 2, 4).count
    assert total > 4
    assert steps == [(i, total) for i in range(1, total + 1)]


def test_it_batches_tiles_of_one_shape():
    shapes = []

    def model(batch):
        shapes.append(tuple(batch.shape))
        return pointwise(1)(batch)

    image = np.zeros((48, 48, 3), np.uint8)
    out = np.empty((48, 48, 3), np.uint8)
    tiled_upscale(model, torch.from_numpy(image), out, scale=1, tile=16, context=2, feather=4, batch=4)
    tiles = plan_axis(48, 16, 2, 4).count ** 2
    assert sum(shape[0] for shape in shapes) == tiles
    assert len({shape[1:] for shape in shapes}) == 1
    assert shapes[0][0] == 4


def test_it_writes_16_bit_and_float_outputs():
    image = np.random.default_rng(4).random((20, 30, 3), dtype=np.float32)

    def model(batch):
        return F.interpolate(batch, scale_factor=2, mode="nearest")

    source = torch.from_numpy(image)
    out16 = np.empty((40, 60, 3), np.uint16)
    tiled_upscale(model, source, out16, scale=2, tile=8, context=2)
    expected = np.repeat(np.repeat(image, 2, 0), 2, 1)
    assert np.abs(out16 / 65535.0 - expected).max() <= 1 / 65535
    out32 = np.empty((40, 60, 3), np.float32)
    tiled_upscale(model, source, out32, scale=2, tile=8, context=2)
    assert np.abs(out32 - expected).max() < 1e-5


def test_it_refuses_a_wrongly_sized_output_or_model():
    source = torch.zeros((10, 10, 3), dtype=torch.uint8)
    with pytest.raises(ValueError):
        tiled_upscale(pointwise(2), source, np.empty((10, 10, 3), np.uint8), scale=2, tile=8, context=0)
    with pytest.raises(RuntimeError, match="model returned"):
        tiled_upscale(pointwise(3), source, np.empty((20, 20, 3), np.uint8), scale=2, tile=8, context=0)


def test_it_keeps_the_context_and_never_lets_ramps_meet_whatever_the_sizes():
    for length, tile, context, feather, multiple in itertools.product(
        range(1, 400, 7), [4, 13, 32, 64], [0, 3, 12, 40], [0, 5, 16], [1, 8, 32]
    ):
        plan = plan_axis(length, tile, context, feather, multiple)
        ends = [start + plan.size for start in plan.starts]
        assert plan.starts[0] == 0 and ends[-1] == length
        assert plan.count == 1 or plan.size % multiple == 0
        assert all(a <= b for a, b in zip(plan.starts[1:], ends, strict=False))  # no gaps
        for i, (lo, hi) in enumerate(plan.ramps):
            assert plan.starts[i + 1] + context <= lo <= hi <= ends[i] - context
        for (_, hi), (lo, _) in itertools.pairwise(plan.ramps):
            assert hi <= lo
