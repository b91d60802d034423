"""The pass planner: any native scale (1x, 2x, 3x, 4x, 8x) to the exact output size."""

from __future__ import annotations

import itertools

import pytest

from inference.sizing import output_size
from inference.superres import UPSAMPLE_SLACK, Pass, pass_count, plan_passes

SCALES = (1, 2, 3, 4, 8)
FACTORS = (1, 1.15, 1.5, 2, 2.5, 3, 3.3, 4, 4.2, 4.5, 5, 6, 7, 8, 9.5, 12, 15, 16)
SIZES = ((100, 80), (13, 10), (7, 1), (333, 250))


def expected_count(scale: int, factor: float) -> int:
    if scale == 1:
        return 1  # a 1x network runs once, at the input size; Lanczos does the enlarging
    return next(n for n in itertools.count(1) if scale**n * UPSAMPLE_SLACK >= factor)


@pytest.mark.parametrize("scale", SCALES)
def test_every_plan_chains_to_the_exact_size_in_the_fewest_passes(scale):
    for size, factor in itertools.product(SIZES, FACTORS):
        target = output_size(*size, factor)
        passes = plan_passes(size, target, scale)
        effective = max(target[0] / size[0], target[1] / size[1])
        assert len(passes) == pass_count(effective, scale) == expected_count(scale, effective), (size, factor)
        assert passes[0].input_size == size
        for before, after in itertools.pairwise(passes):
            assert after.input_size == before.resample_to
        assert passes[-1].resample_to == target, (size, factor)
        for step in passes:
            assert scale % step.pool == 0
            out = (step.input_size[0] * scale // step.pool, step.input_size[1] * scale // step.pool)
            if step.pool > 1:
                assert out == step.resample_to  # pooled only where it is exact
            if scale > 1:
                # Never stretched by more than the slack (+1 px of rounding) after a pass.
                assert step.resample_to[0] <= out[0] * UPSAMPLE_SLACK + 1
                assert step.resample_to[1] <= out[1] * UPSAMPLE_SLACK + 1


def test_a_2x_network_asked_for_3x_runs_twice_with_a_resample_down_between():
    assert plan_passes((100, 80), (300, 240), 2) == [
        Pass((100, 80), 1, (150, 120)),  # 200x160 out, Lanczos down to 1.5x
        Pass((150, 120), 1, (300, 240)),  # lands exactly on 3x
    ]
    assert plan_passes((100, 80), (800, 640), 2) == [
        Pass((100, 80), 1, (200, 160)),
        Pass((200, 160), 1, (400, 320)),
        Pass((400, 320), 1, (800, 640)),
    ]
    assert plan_passes((100, 80), (200, 160), 2) == [Pass((100, 80), 1, (200, 160))]
    assert plan_passes((100, 80), (100, 80), 2) == [Pass((100, 80), 2, (100, 80))]  # restore


def test_a_1x_network_runs_at_the_input_size_and_is_resampled_after():
    assert plan_passes((100, 80), (100, 80), 1) == [Pass((100, 80), 1, (100, 80))]
    assert plan_passes((100, 80), (200, 160), 1) == [Pass((100, 80), 1, (200, 160))]
    assert plan_passes((100, 80), (1600, 1280), 1) == [Pass((100, 80), 1, (1600, 1280))]


def test_3x_and_8x_networks_pool_where_the_factor_divides_them():
    assert plan_passes((100, 80), (300, 240), 3) == [Pass((100, 80), 1, (300, 240))]
    assert plan_passes((100, 80), (100, 80), 3) == [Pass((100, 80), 3, (100, 80))]
    assert plan_passes((100, 80), (200, 160), 3) == [Pass((100, 80), 1, (200, 160))]  # Lanczos 3x -> 2x
    assert plan_passes((100, 80), (200, 160), 8) == [Pass((100, 80), 4, (200, 160))]
    assert plan_passes((100, 80), (400, 320), 8) == [Pass((100, 80), 2, (400, 320))]
    assert plan_passes((100, 80), (100, 80), 8) == [Pass((100, 80), 8, (100, 80))]
    assert plan_passes((100, 80), (1600, 1280), 8) == [
        Pass((100, 80), 4, (200, 160)),
        Pass((200, 160), 1, (1600, 1280)),
    ]
