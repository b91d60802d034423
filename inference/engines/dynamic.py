"""``dynamic``: the super-resolution network with its output steered by three dials.

On every tile, at the network's 4x scale, the output is rebuilt from three parts:

* the faithful base ``B``: a bicubic upscale of the input (nothing invented);
* the network's low band ``N_low``: its output averaged over 4x4 blocks and upscaled back,
  i.e. the network's version of what the input already shows (cleaned of noise/artefacts);
* the network's high band ``N - N_low``: the texture and detail it synthesised.

``out = B + (1 - resemblance/10) * (N_low - B) + texture * (N - N_low)``, then an unsharp
mask of strength ``sharpen``. With ``texture = 0.25 + 0.15 * globalCreativity`` and
``sharpen = 0.12 * (detail - 5)``:

* ``resemblance`` 0-10 pulls the low band from the network's towards the input's: the
  output, downscaled to the input size, gets closer to the input (mean absolute error
  falls in proportion).
* ``globalCreativity`` 0-10 scales the synthesised texture from a quarter to 1.75 times the
  network's (1.0 at the default 5): the output departs further from the faithful upscale.
* ``detail`` 0-10 goes from softened (-0.6) to sharpened (+0.6) fine detail (0 at the
  default 5): the output's fine-scale gradient energy rises.

At the defaults (5, 5, 8) the result is the network's texture on a low band that is 80% the
input's. Everything is local, so the overlapping tiles blend seamlessly as in ``precise``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from inference.engines.base import SuperResolutionEngine
from inference.loader import LoadedModel
from inference.sizing import check_factor, output_size
from inference.superres import PostProcess

if TYPE_CHECKING:
    from inference.params import UpscaleParams


def texture_gain(creativity: int) -> float:
    return 0.25 + 0.15 * creativity


def sharpen_amount(detail: int) -> float:
    return 0.12 * (detail - 5)


@functools.cache
def _gaussian(device: torch.device, sigma: float = 1.0, radius: int = 2) -> torch.Tensor:
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).to(device)


def _blur(image: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur (sigma 1 output pixel) of a (B, C, H, W) float tensor."""
    kernel = _gaussian(image.device)
    radius = kernel.numel() // 2
    channels = image.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    blurred = F.conv2d(padded, horizontal, groups=channels)
    return F.conv2d(blurred, vertical, groups=channels)


def dynamic_mix(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    scale: int,
    resemblance: int,
    creativity: int,
    detail: int,
) -> torch.Tensor:
    """Blend a tile's network output ``y`` with its input ``x`` (both in [0, 1])."""
    x, y = x.float(), y.float()
    base = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    low = F.interpolate(F.avg_pool2d(y, scale), scale_factor=scale, mode="bicubic", align_corners=False)
    out = base + (1.0 - resemblance / 10.0) * (low - base) + texture_gain(creativity) * (y - low)
    amount = sharpen_amount(detail)
    if amount:
        out = out + amount * (out - _blur(out))
    return out.clamp_(0.0, 1.0)


class DynamicEngine(SuperResolutionEngine):
    mode = "dynamic"

    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        check_factor(self.mode, params.scale)
        return output_size(width, height, params.scale)

    def post_process(self, params: UpscaleParams, model: LoadedModel) -> PostProcess:
        return functools.partial(
            dynamic_mix,
            scale=model.scale,
            resemblance=params.resemblance,
            creativity=params.creativity,
            detail=params.detail,
        )
