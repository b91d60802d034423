"""``precise``: faithful super-resolution to the exact size (1x-16x).

The network's output may then be finished (inference/finishing.py): a clean-up look
(``finish``) and the input's colour palette (``match_colors``). With ``classic`` (Ximilar's
classic model) and no model named, the faithful network runs: DAT-light, trained with an L1
loss only, at 2x for factors up to 2 and at 4x above (``inference.registry.faithful_model``).
Every path runs a network; none falls back to a resampler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inference import finishing
from inference.engines.base import EngineContext, EngineOutput, SuperResolutionEngine
from inference.pixels import Planes
from inference.registry import faithful_model
from inference.sizing import check_factor, long_side_size, output_size

if TYPE_CHECKING:
    from inference.params import UpscaleParams


class PreciseEngine(SuperResolutionEngine):
    """RealESRGAN_x4plus (anime: x4plus_anime_6B), the faithful DAT-light (``classic``), or the
    job's model, in passes of its native scale, then Lanczos to the size: ``scale`` times
    the input, or a ``long_side``."""

    mode = "precise"

    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        if params.long_side is not None:
            return long_side_size(width, height, params.long_side)
        check_factor(self.mode, params.scale)
        return output_size(width, height, params.scale)

    def model_name(self, params: UpscaleParams) -> str:
        if params.classic and not params.model:
            return faithful_model(params.scale)
        return super().model_name(params)

    def run(self, planes: Planes, params: UpscaleParams, context: EngineContext) -> EngineOutput:
        output = super().run(planes, params, context)
        color = output.planes.color
        color = finishing.finish(color, params.finish, scale=color.shape[1] / planes.width)
        if params.match_colors:
            color = finishing.match_colors(color, planes.color)
        output.planes.color = color
        return output
