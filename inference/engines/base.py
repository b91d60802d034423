"""What an engine is, and the shared flow of the super-resolution engines."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from inference.loader import LoadedModel, load_model
from inference.pixels import Planes
from inference.progress import Progress, ProgressCallback
from inference.registry import models_for
from inference.resample import resize
from inference.superres import PostProcess, pass_pixels, upscale_array

if TYPE_CHECKING:
    from inference.params import UpscaleParams


@dataclass(frozen=True)
class EngineContext:
    """What a job gives an engine besides the pixels and the parameters."""

    model_dir: str | os.PathLike[str] | None = None
    tile: int | None = None
    progress: ProgressCallback | None = None


@dataclass
class EngineOutput:
    planes: Planes
    engine: str  # recorded on the job, e.g. "precise/RealESRGAN_x4plus"


class Engine(ABC):
    """One mode's way from input planes to output planes."""

    mode: ClassVar[str]

    def models(self, image_type: str) -> list[str]:
        return models_for(self.mode, image_type)

    def model_name(self, params: UpscaleParams) -> str:
        """The job's model (any installed model, by name), else the mode's default for the type."""
        return params.model or self.models(params.image_type)[0]

    @abstractmethod
    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        """The exact (width, height) of the result."""

    @abstractmethod
    def run(self, planes: Planes, params: UpscaleParams, context: EngineContext) -> EngineOutput:
        """Upscale ``planes``; report progress through ``context.progress``."""


class SuperResolutionEngine(Engine):
    """A spandrel network run in passes to the exact size; alpha goes through it too."""

    def post_process(self, params: UpscaleParams, model: LoadedModel) -> PostProcess | None:
        """A per-tile step after the network on the last pass (none by default)."""
        return None

    def alpha_through_network(self) -> bool:
        return True

    def run(self, planes: Planes, params: UpscaleParams, context: EngineContext) -> EngineOutput:
        name = self.model_name(params)
        model = load_model(name, context.model_dir)
        size = (planes.width, planes.height)
        target = self.output_size(planes.width, planes.height, params)
        alpha = planes.alpha
        constant_alpha = alpha is None or bool((alpha == alpha.flat[0]).all())
        alpha_work = not constant_alpha and self.alpha_through_network()
        work = pass_pixels(size, target, model.scale) * (2 if alpha_work else 1)
        progress = Progress(context.progress, work)

        color = upscale_array(
            model,
            planes.color,
            target,
            post=self.post_process(params, model),
            tile=context.tile,
            progress=progress.part,
        )
        if alpha is None:
            alpha_out = None
        elif constant_alpha:
            alpha_out = np.full((target[1], target[0]), alpha.flat[0], dtype=alpha.dtype)
        elif alpha_work:
            # The alpha plane runs through the same network as a grey image: edges stay as
            # sharp as the colour's. Its mean over the three output channels is the alpha.
            grey = np.repeat(alpha[..., None], 3, axis=2)
            upscaled = upscale_array(model, grey, target, tile=context.tile, progress=progress.part)
            alpha_out = np.rint(upscaled.mean(axis=2, dtype=np.float32)).astype(alpha.dtype)
        else:
            alpha_out = self.resize_alpha(alpha, target)
        progress.finish()
        output = Planes(color=color, alpha=alpha_out, gray=planes.gray)
        return EngineOutput(planes=output, engine=f"{self.mode}/{name}")

    def resize_alpha(self, alpha: np.ndarray, target: tuple[int, int]) -> np.ndarray:
        return resize(alpha, target)
