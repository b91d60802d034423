"""The x4 diffusion upscaler: loading its pipeline from disk and running it tiled.

The pipeline (``StableDiffusionUpscalePipeline`` in diffusers' ``save_pretrained`` layout) is
loaded from its folder in the model directory, never from a hub: the hub client is put
offline before diffusers is imported. Its denoising loop is the pipeline's own (noise the
low-resolution image to ``noise_level``, concatenate it to the latents, classifier-free
guidance, the scheduler's steps) with two changes that bound memory whatever the size:

* each step runs the UNet on overlapping latent tiles and blends their noise predictions
  with feathered weights before the scheduler steps the whole latent (MultiDiffusion), so
  the tiles share one latent and meet without seams;
* the VAE decodes overlapping latent tiles, blended the same way in pixels.

All noise is drawn from one CPU generator seeded per job over the whole image, so a seed
gives the same output on any tile size that fits and on any run.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference import device as devices
from inference.cache import LoadedOnce
from inference.diffusion_tiles import Tile, plan, scaled_weight
from inference.errors import EngineNotAvailableError, ModelNotInstalledError
from inference.registry import PIPELINES, model_dir, not_installed_error, pipeline_path, pipeline_problem

log = logging.getLogger(__name__)

# Latent tiles: for the x4 upscaler one latent pixel is one input pixel.
UNET_TILE = 128
UNET_OVERLAP = 32
DECODE_TILE = 64  # latent pixels, 256 output pixels
DECODE_OVERLAP = 8
MIN_TILE = 32  # the out-of-memory back-off stops here

INSTALL_HINT = "install the smart extra on this worker (pip install '.[worker,smart]')"

Report = Callable[[int, int], None]


@dataclass(frozen=True)
class DiffusionRequest:
    """One run of the upscaler: what the engine decided from the job's parameters."""

    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    noise_level: int
    seed: int
    tile: int = UNET_TILE
    overlap: int = UNET_OVERLAP


@dataclass(eq=False)
class LoadedPipeline:
    name: str
    path: Path
    pipeline: Any  # diffusers.StableDiffusionUpscalePipeline (imported only on workers)
    device: torch.device
    dtype: torch.dtype
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def unet_multiple(self) -> int:
        """Latent sides must be multiples of this (one halving per down block but the last)."""
        return 2 ** (len(self.pipeline.unet.config.down_block_types) - 1)

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.pipeline.vae.config.block_out_channels) - 1)


_cache: LoadedOnce[LoadedPipeline] = LoadedOnce()


def _diffusers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the model directory only
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import diffusers
        import transformers  # noqa: F401 (the text encoder and tokenizer classes)
    except ImportError as exc:
        raise EngineNotAvailableError(
            f"The smart mode needs diffusers and transformers ({exc.name} is missing): {INSTALL_HINT}."
        ) from exc
    diffusers.utils.logging.disable_progress_bar()
    return diffusers


def load_pipeline(
    name: str,
    directory: str | os.PathLike[str] | None = None,
    device: torch.device | None = None,
) -> LoadedPipeline:
    """The pipeline ``name`` from its folder under ``directory``, loaded once per process."""
    folder = Path(directory) if directory is not None else model_dir()
    target = device or devices.select_device()
    path = pipeline_path(name, folder)
    key = (str(path.resolve()), str(target))
    return _cache.get(key, lambda: _load(name, path, folder, target), lambda: pipeline_problem(name, folder) is None)


def clear_cache() -> None:
    _cache.clear()


def _load(name: str, path: Path, folder: Path, target: torch.device) -> LoadedPipeline:
    spec = PIPELINES[name]
    if pipeline_problem(name, folder) is not None:
        raise not_installed_error(name, folder)
    diffusers = _diffusers()
    found = json.loads((path / "model_index.json").read_text()).get("_class_name")
    if found != spec.pipeline_class:
        raise ModelNotInstalledError(
            name, spec.directory, folder, f"{path} holds a {found}, not a {spec.pipeline_class}"
        )
    devices.configure(target)
    dtype = torch.float16 if target.type == "cuda" else torch.float32
    variant = "fp16" if dtype == torch.float16 and any((path / "unet").glob("*.fp16.safetensors")) else None
    try:
        pipeline = getattr(diffusers, spec.pipeline_class).from_pretrained(
            str(path), dtype=dtype, variant=variant, local_files_only=True
        )
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelNotInstalledError(name, spec.directory, folder, f"{path} cannot be loaded ({exc})") from exc
    pipeline.to(target)
    if dtype == torch.float16 and pipeline.vae.config.force_upcast:
        pipeline.vae.to(torch.float32)  # its decoder overflows in half precision
    pipeline.set_progress_bar_config(disable=True)
    for module in (pipeline.unet, pipeline.vae, pipeline.text_encoder):
        module.eval().requires_grad_(False)
    log.info("loaded %s (%s) from %s on %s as %s", name, spec.pipeline_class, path, target, dtype)
    return LoadedPipeline(name=name, path=path, pipeline=pipeline, device=target, dtype=dtype)


def _to_latent_grid(image: np.ndarray, multiple: int) -> tuple[torch.Tensor, int, int]:
    """H x W x 3 floats in [0, 1] -> (1, 3, H', W') in [-1, 1], padded to ``multiple``."""
    height, width = image.shape[:2]
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None] * 2.0 - 1.0
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        tensor = torch.nn.functional.pad(tensor, (0, pad_w, 0, pad_h), mode=mode)
    return tensor, height, width


def upscale_x4(
    loaded: LoadedPipeline,
    image: np.ndarray,
    request: DiffusionRequest,
    *,
    denoise_report: Report | None = None,
    decode_report: Report | None = None,
) -> np.ndarray:
    """Upscale an H x W x 3 float image in [0, 1] to 4H x 4W (floats in [0, 1]).

    Halves the latent tile on CUDA out-of-memory errors, down to ``MIN_TILE``.
    """
    tile = request.tile
    while True:
        try:
            with loaded.lock, torch.inference_mode():
                return _run(loaded, image, request, tile, denoise_report, decode_report)
        except torch.OutOfMemoryError:
            if tile // 2 < MIN_TILE:
                raise
            tile //= 2
            log.warning("out of GPU memory; retrying with %d px latent tiles", tile)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _run(
    loaded: LoadedPipeline,
    image: np.ndarray,
    request: DiffusionRequest,
    tile: int,
    denoise_report: Report | None,
    decode_report: Report | None,
) -> np.ndarray:
    pipe = loaded.pipeline
    device, dtype = loaded.device, loaded.dtype
    generator = torch.Generator("cpu").manual_seed(request.seed)
    guided = request.guidance > 1.0

    low_res, height, width = _to_latent_grid(image, loaded.unet_multiple)
    grid_h, grid_w = low_res.shape[-2:]
    cond, uncond = pipe.encode_prompt(request.prompt, device, 1, guided, request.negative_prompt)
    embeds = torch.cat([uncond, cond]) if guided else cond

    # Fresh scheduler state per run: the loaded pipeline's are shared.
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    scheduler.set_timesteps(request.steps, device=device)
    noise_level = torch.tensor([request.noise_level], dtype=torch.long, device=device)
    noise = torch.randn(low_res.shape, generator=generator).to(device, dtype)
    low_res = pipe.low_res_scheduler.add_noise(low_res.to(device, dtype), noise, noise_level)

    channels = pipe.vae.config.latent_channels
    latents = torch.randn((1, channels, grid_h, grid_w), generator=generator).to(device, dtype)
    latents = latents * scheduler.init_noise_sigma
    step_kwargs = pipe.prepare_extra_step_kwargs(generator, 0.0)

    tiles = plan(grid_h, grid_w, tile, min(request.overlap, tile // 4), multiple=loaded.unet_multiple)
    weight_sum = torch.zeros((grid_h, grid_w), device=device)
    for t in tiles:
        weight_sum[t.region()] += t.weight.to(device)
    total = len(scheduler.timesteps) * len(tiles)
    started = time.perf_counter()
    for step, timestep in enumerate(scheduler.timesteps):
        scaled = scheduler.scale_model_input(latents, timestep)
        prediction = torch.zeros_like(latents, dtype=torch.float32)
        for index, t in enumerate(tiles):
            rows, cols = t.region()
            model_input = torch.cat([scaled[..., rows, cols], low_res[..., rows, cols]], dim=1)
            batch = 2 if guided else 1
            out = pipe.unet(
                model_input.expand(batch, -1, -1, -1),
                timestep,
                encoder_hidden_states=embeds,
                class_labels=noise_level.expand(batch),
                return_dict=False,
            )[0].float()
            if guided:
                out_uncond, out_text = out.chunk(2)
                out = out_uncond + request.guidance * (out_text - out_uncond)
            prediction[..., rows, cols] += out * t.weight.to(device)
            if denoise_report is not None:
                denoise_report(step * len(tiles) + index + 1, total)
        prediction /= weight_sum
        latents = scheduler.step(prediction.to(dtype), timestep, latents, **step_kwargs, return_dict=False)[0]
    denoised = time.perf_counter()
    log.info(
        "denoised %dx%d latents: %d steps x %d tiles of %d in %.2f s",
        grid_w,
        grid_h,
        len(scheduler.timesteps),
        len(tiles),
        tile,
        denoised - started,
    )
    pixels = _decode(loaded, latents, decode_report)
    log.info("decoded to %dx%d in %.2f s", pixels.shape[1], pixels.shape[0], time.perf_counter() - denoised)
    scale = loaded.vae_scale
    return pixels[: height * scale, : width * scale]


def _decode(loaded: LoadedPipeline, latents: torch.Tensor, report: Report | None) -> np.ndarray:
    """Latents -> H x W x 3 floats in [0, 1], decoded in blended tiles on the device."""
    vae = loaded.pipeline.vae
    scale = loaded.vae_scale
    vae_dtype = next(vae.post_quant_conv.parameters()).dtype
    latents = (latents / vae.config.scaling_factor).to(vae_dtype)
    grid_h, grid_w = latents.shape[-2:]
    tiles: list[Tile] = plan(grid_h, grid_w, DECODE_TILE, DECODE_OVERLAP)
    canvas = torch.zeros((3, grid_h * scale, grid_w * scale), dtype=torch.float32)
    weights = torch.zeros((grid_h * scale, grid_w * scale), dtype=torch.float32)
    for index, t in enumerate(tiles):
        rows, cols = t.region()
        decoded = vae.decode(latents[..., rows, cols], return_dict=False)[0][0].float().cpu()
        weight = scaled_weight(t, scale)
        out_rows, out_cols = t.region(scale)
        canvas[:, out_rows, out_cols] += decoded * weight
        weights[out_rows, out_cols] += weight
        if report is not None:
            report(index + 1, len(tiles))
    pixels = (canvas / weights / 2 + 0.5).clamp_(0.0, 1.0)
    return pixels.permute(1, 2, 0).numpy()
