"""Out-of-memory back-off: halve the tile and retry down to a floor, re-raise anything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inference.loader import LoadedModel
from inference.progress import Progress
from inference.superres import FEATHER, overlap, run_network
from inference.tiling import plan_axis


class FussyNetwork(torch.nn.Module):
    """Nearest 4x, but 'runs out of memory' on tiles larger than ``limit`` pixels a side."""

    def __init__(self, limit: int, error: type[Exception] = torch.OutOfMemoryError) -> None:
        super().__init__()
        self.limit, self.error, self.sizes = limit, error, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(x.shape[-2:]))
        if max(x.shape[-2:]) > self.limit:
            raise self.error("CUDA out of memory. Tried to allocate 20.00 GiB")
        return F.interpolate(x, scale_factor=4, mode="nearest")


def fake_model(network: torch.nn.Module, context: int = 4) -> LoadedModel:
    return LoadedModel(
        name="fussy",
        path=Path("fussy.safetensors"),
        descriptor=None,  # type: ignore[arg-type]
        device=torch.device("cpu"),
        dtype=torch.float32,
        module=network,
        scale=4,
        multiple=1,
        minimum=1,
        square=False,
        channels_last=False,
        context=context,
    )


def test_it_halves_the_new_pixels_until_they_fit_keeping_the_context_and_remembers_it():
    image = np.random.default_rng(0).integers(0, 256, (200, 180, 3), dtype=np.uint8)
    network = FussyNetwork(limit=32 + overlap(fake_model(network=None)))  # type: ignore[arg-type]
    model = fake_model(network)
    out = run_network(model, image, tile=128)
    assert np.array_equal(out, image.repeat(4, 0).repeat(4, 1))
    assert model.max_tile == 32  # 128 -> 64 -> 32 new pixels
    last = set(network.sizes[-plan_axis(200, 32, 4, FEATHER).count * plan_axis(180, 32, 4, FEATHER).count :])
    rows, cols = plan_axis(200, 32, 4, FEATHER), plan_axis(180, 32, 4, FEATHER)
    assert last == {(rows.size, cols.size)}  # tiles still 2 x 4 px of context + the ramp over 32
    assert rows.size - (rows.starts[1] - rows.starts[0]) >= 2 * 4 + FEATHER


def test_it_gives_up_at_the_floor_with_the_original_error():
    network = FussyNetwork(limit=8)
    with pytest.raises(torch.OutOfMemoryError):
        run_network(fake_model(network), np.zeros((100, 100, 3), np.uint8), tile=64)


def test_it_does_not_retry_other_errors():
    network = FussyNetwork(limit=8, error=ValueError)
    with pytest.raises(ValueError):
        run_network(fake_model(network), np.zeros((100, 100, 3), np.uint8), tile=64)
    assert len(network.sizes) == 1


def test_progress_never_goes_back_when_a_pass_restarts():
    seen = []
    progress = Progress(seen.append, total_weight=10)
    report = progress.part(10)
    report(1, 4)
    report(2, 4)
    report(1, 8)  # restarted with smaller tiles
    report(5, 8)
    progress.finish()
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert seen[:2] == [0.25, 0.5]


def test_it_sizes_gpu_tiles_and_batches_from_measured_memory(monkeypatch):
    from inference import superres

    model = fake_model(FussyNetwork(limit=10_000))
    model.device = torch.device("cuda")  # only the arithmetic runs: memory is stubbed
    model.bytes_per_pixel = 4096.0  # as measured by the probe
    free = {"bytes": 80 * 2**30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 * 2**30))
    shared = superres.overlap(model)
    roomy = superres.choose_tiling(model)
    assert roomy.tile + shared == superres.GPU_WINDOW  # the tile the network sees
    assert roomy.batch * (roomy.tile + shared) ** 2 * 4096 <= 0.8 * free["bytes"]
    assert roomy.batch == min(superres.MAX_BATCH, int(0.8 * free["bytes"] / 4096) // 1024**2)
    free["bytes"] = 2 * 2**30  # a busy GPU: smaller tiles, one at a time
    tight = superres.choose_tiling(model)
    assert (tight.tile + shared) % 64 == 0 and (tight.tile + shared) ** 2 * 4096 <= 0.8 * free["bytes"]
    assert tight.tile + shared < superres.GPU_WINDOW and tight.batch >= 1
    model.max_tile = 128  # after an out-of-memory back-off
    assert superres.choose_tiling(model).tile == 128
