"""``restore``: artefact and noise removal at the original size.

The 4x network (trained on noisy, blurred and JPEG-compressed inputs) reconstructs a clean
image at 4x; averaging each 4x4 block back (an area downscale, fused on the device) gives
the original size without the artefacts. Another model named in the job runs the same way
at its own scale (an sxs average for an sx network); a 1x restoration model just runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from inference.engines.base import SuperResolutionEngine

if TYPE_CHECKING:
    from inference.params import UpscaleParams


class RestoreEngine(SuperResolutionEngine):
    mode = "restore"

    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        return width, height

    def alpha_through_network(self) -> bool:
        return False  # same size: the alpha plane is kept as it is

    def resize_alpha(self, alpha: np.ndarray, target: tuple[int, int]) -> np.ndarray:
        return alpha
