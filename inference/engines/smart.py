"""``smart``: generative upscaling with the Stable Diffusion x4 upscaler, prompted by the client.

The job's parameters become one diffusion run (see docs/smart.md):

* ``description`` leads the prompt, followed by words for the ``inputImageType``, and for
  ``shouldEnhanceFaces`` / ``shouldPreserveBlur`` where they apply; a fixed negative prompt
  steers away from blur and artefacts (but not blur when it is to be preserved).
* ``globalCreativity`` 0-10 sets the noise level added to the low-resolution image the model
  is conditioned on (0 to 160 of its 350): the less it can see of the input, the more it
  invents. At 5 it is 20, diffusers' default.
* ``detail`` 0-10 sets the classifier-free guidance (2 to 16, 9 at 5: how strongly the
  prompt is followed) and the number of denoising steps (0.6x to 1.4x the base steps).
* The model always makes 4x; a Lanczos resample takes that to the exact size, so factors
  below 4 stay faithful to the full input. Alpha is resampled, not generated.
* The job's seed seeds every noise tensor: a rerun reproduces the output.
"""

from __future__ import annotations

import logging
import os
import random
from typing import TYPE_CHECKING

import numpy as np

from inference.engines.base import Engine, EngineContext, EngineOutput
from inference.pixels import Planes
from inference.progress import Progress
from inference.registry import SMART_PIPELINE
from inference.resample import resize
from inference.sizing import check_factor, output_size

if TYPE_CHECKING:
    from inference.diffusion import DiffusionRequest
    from inference.params import UpscaleParams

log = logging.getLogger(__name__)

STEPS_ENV = "UPSCALER_SMART_STEPS"  # base denoising steps (at detail 5)
TILE_ENV = "UPSCALER_SMART_TILE"  # latent (= input) pixels per UNet tile side
DEFAULT_STEPS = 25
MODEL_SCALE = 4

# globalCreativity -> noise level of the conditioning image (the model accepts 0-350).
NOISE_LEVELS = (0, 4, 8, 12, 16, 20, 35, 55, 80, 115, 160)

STYLE = {
    "realism": "a high-resolution photograph",
    "anime": "a clean anime illustration, crisp line art, flat colours",
    "universal": "a high-resolution image",
}
SHARP = "sharp focus, highly detailed"
SOFT = "highly detailed, natural depth of field"
FACES = "natural detailed faces, clear eyes"
NEGATIVE = "low resolution, jpeg artifacts, noise, oversmoothed, watermark, text, deformed"
NEGATIVE_FACES = "distorted face, asymmetric eyes"
# Denoising share of the progress bar; decoding the latents takes the rest.
DENOISE_SHARE = 0.9


def _env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number (got {raw!r}).") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high} (got {value}).")
    return value


def base_steps() -> int:
    return _env_int(STEPS_ENV, DEFAULT_STEPS, 1, 500)


def unet_tile(requested: int | None) -> int:
    """The job's tile, else ``$UPSCALER_SMART_TILE``, else the default (128)."""
    from inference.diffusion import MIN_TILE, UNET_TILE

    return requested or _env_int(TILE_ENV, UNET_TILE, MIN_TILE, 4096)


def noise_level(creativity: int) -> int:
    return NOISE_LEVELS[creativity]


def guidance_scale(detail: int) -> float:
    return 2.0 + 1.4 * detail


def denoising_steps(detail: int, base: int) -> int:
    return max(1, round(base * (0.6 + 0.08 * detail)))


def build_prompt(params: UpscaleParams) -> tuple[str, str]:
    """(prompt, negative prompt). The description comes first: CLIP reads 77 tokens at most."""
    parts = [params.description.strip(), STYLE[params.image_type], SOFT if params.preserve_blur else SHARP]
    negative = [NEGATIVE] if params.preserve_blur else ["blurry", NEGATIVE]
    if params.enhance_faces:
        parts.append(FACES)
        negative.append(NEGATIVE_FACES)
    return ", ".join(p for p in parts if p), ", ".join(negative)


def diffusion_request(params: UpscaleParams, seed: int, tile: int | None) -> DiffusionRequest:
    from inference.diffusion import DiffusionRequest

    prompt, negative = build_prompt(params)
    return DiffusionRequest(
        prompt=prompt,
        negative_prompt=negative,
        steps=denoising_steps(params.detail, base_steps()),
        guidance=guidance_scale(params.detail),
        noise_level=noise_level(params.creativity),
        seed=seed,
        tile=unet_tile(tile),
    )


class SmartEngine(Engine):
    mode = "smart"

    def output_size(self, width: int, height: int, params: UpscaleParams) -> tuple[int, int]:
        check_factor(self.mode, params.scale)
        return output_size(width, height, params.scale)

    def run(self, planes: Planes, params: UpscaleParams, context: EngineContext) -> EngineOutput:
        from inference.diffusion import load_pipeline, upscale_x4

        target = self.output_size(planes.width, planes.height, params)
        seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**31)
        request = diffusion_request(params, seed, context.tile)
        loaded = load_pipeline(SMART_PIPELINE, context.model_dir)
        log.info(
            "smart: prompt=%r negative=%r seed=%d steps=%d guidance=%.1f noise_level=%d",
            request.prompt,
            request.negative_prompt,
            seed,
            request.steps,
            request.guidance,
            request.noise_level,
        )
        progress = Progress(context.progress)
        pixels = planes.color.astype(np.float32) / planes.max_value
        upscaled = upscale_x4(
            loaded,
            pixels,
            request,
            denoise_report=progress.part(DENOISE_SHARE),
            decode_report=progress.part(1.0 - DENOISE_SHARE),
        )
        color = np.clip(np.rint(upscaled * planes.max_value), 0, planes.max_value).astype(planes.color.dtype)
        color = resize(color, target)
        alpha = None if planes.alpha is None else resize(planes.alpha, target)
        progress.finish()
        return EngineOutput(
            planes=Planes(color=color, alpha=alpha, gray=planes.gray),
            engine=f"{self.mode}/{SMART_PIPELINE}",
        )
