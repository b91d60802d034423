"""``precise``: faithful super-resolution to the exact size (1x-16x).

The network's output may then be finished (inference/finishing.py): a clean-up look
(``finish``) and the input's colour palette (``match_colors``). With ``classic`` no network
runs: Lanczos and an unsharp mask make the size, nothing is synthesised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inference import finishing
from inference.engines.base import EngineContext, EngineOutput, SuperResolutionEngine
from inference.pixels import Planes
from inference.progress import Progress
from inference.resample import resize
from inference.sizing import check_factor, long_side_size, output_size

if TYPE_CHECKING:
    from inference.params import UpscaleParams

CLASSIC_ENGINE = "precise/classic-lanczos"


class PreciseEngine(SuperResolutionEngine):
    """RealESRGAN_x4plus (anime: x4plus_anime_6B) or the job's model, in passes of its
    native scale, then Lanczos to the size: ``scale`` times the input, or a ``long_side``."""

    mode = "precise"

    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        if params.long_side is not None:
            return long_side_size(width, height, params.long_side)
        check_factor(self.mode, params.scale)
        return output_size(width, height, params.scale)

    def run(self, planes: Planes, params: UpscaleParams, context: EngineContext) -> EngineOutput:
        run = self.run_classic if params.classic else super().run
        output = run(planes, params, context)
        color = output.planes.color
        color = finishing.finish(color, params.finish, scale=color.shape[1] / planes.width)
        if params.match_colors:
            color = finishing.match_colors(color, planes.color)
        output.planes.color = color
        return output

    def run_classic(self, planes: Planes, params: UpscaleParams, context: EngineContext) -> EngineOutput:
        target = self.output_size(planes.width, planes.height, params)
        progress = Progress(context.progress)
        color = finishing.classic_upscale(planes.color, target)
        alpha = None if planes.alpha is None else resize(planes.alpha, target)
        progress.finish()
        return EngineOutput(planes=Planes(color=color, alpha=alpha, gray=planes.gray), engine=CLASSIC_ENGINE)
