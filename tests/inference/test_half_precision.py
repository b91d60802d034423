"""The runner in half precision (what CUDA uses), exercised on the CPU with a stand-in network."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from inference.superres import run_network
from tests.inference.test_oom import fake_model


class MeanShift(torch.nn.Module):
    """Nearest 4x with arithmetic that turns an infinite input into NaN, as a network would."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dtype == torch.float16
        up = F.interpolate(x, scale_factor=4, mode="nearest")
        return up - up.mean() + up.mean()


def test_it_feeds_16_bit_samples_to_a_half_precision_network_without_overflow():
    model = fake_model(MeanShift())
    model.dtype = torch.float16
    samples = np.array([[[0, 1000, 65535], [65535, 65535, 32768]]], dtype=np.uint16)
    out = run_network(model, samples, tile=64)
    expected = samples.repeat(4, 0).repeat(4, 1).astype(float)
    # Half precision keeps 11 bits: within 1/2048 of full scale.
    assert np.abs(out.astype(float) - expected).max() <= 65535 / 2048


def test_it_feeds_8_bit_samples_to_a_half_precision_network_exactly():
    model = fake_model(MeanShift())
    model.dtype = torch.float16
    samples = np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None].repeat(3, axis=2)
    out = run_network(model, samples, tile=64)
    assert np.abs(out.astype(int) - samples.repeat(4, 0).repeat(4, 1)).max() <= 1
