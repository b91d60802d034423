"""``precise``: faithful super-resolution to the exact size (1x-16x)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inference.engines.base import SuperResolutionEngine
from inference.sizing import check_factor, long_side_size, output_size

if TYPE_CHECKING:
    from inference.api import UpscaleParams


class PreciseEngine(SuperResolutionEngine):
    """RealESRGAN_x4plus (anime: x4plus_anime_6B) or the job's model, in passes of its
    native scale, then Lanczos to the size: ``scale`` times the input, or a ``long_side``."""

    mode = "precise"

    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        if params.long_side is not None:
            return long_side_size(width, height, params.long_side)
        check_factor(self.mode, params.scale)
        return output_size(width, height, params.scale)
