"""The entry point of the GPU workers: an image and a job's parameters in, the result out."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from inference.engines import get_engine
from inference.engines.base import EngineContext
from inference.faces import FaceReport
from inference.finishing import FINISHES
from inference.imageio import DecodedImage, decode_image
from inference.pixels import image_from, planes_from
from inference.registry import IMAGE_TYPES, MODES
from inference.sizing import check_factor

log = logging.getLogger(__name__)

MIN_EXPLICIT_TILE = 16
MODEL_MODES = ("precise", "dynamic", "restore")  # the modes that run any spandrel model


@dataclass(frozen=True)
class UpscaleParams:
    mode: str  # "precise" | "dynamic" | "restore" | "smart"
    scale: float = 4.0  # ignored by restore (output = input size)
    image_type: str = "universal"  # "realism" | "anime" | "universal"
    creativity: int = 5  # globalCreativity 0-10
    detail: int = 5  # 0-10
    resemblance: int = 8  # 0-10
    description: str = ""
    enhance_faces: bool = False
    preserve_blur: bool = False
    preserve_hands: bool = False
    seed: int | None = None
    tile: int | None = None  # new pixels a tile side contributes (context is added); None = automatic
    # precise, dynamic, restore: any installed model by name (its file's stem) instead of the
    # mode's default, e.g. "2x_my_SPAN"; inference.catalog.scan lists them.
    model: str | None = None
    # precise only (the Ximilar surface's options, inference/finishing.py): ``classic`` runs
    # the faithful network (DAT-light, inference.registry.faithful_model) when no ``model`` is
    # named (the Ximilar surface names it at submit); ``finish`` is a clean-up look after the
    # upscale ("none", "clean", "smooth"); ``match_colors`` maps the output's palette onto
    # the input's.
    classic: bool = False
    finish: str = "none"
    match_colors: bool = False
    # precise: the output's longer side in pixels, the aspect ratio kept, instead of ``scale``
    # (resolution tiers: 2048, 4096, 8192), whatever the input's size.
    long_side: int | None = None

    def validate(self) -> None:
        """ValueError naming the first parameter out of range."""
        if self.mode not in MODES:
            raise ValueError(f"Unknown mode {self.mode!r}; expected one of {', '.join(MODES)}.")
        if self.image_type not in IMAGE_TYPES:
            raise ValueError(f"Unknown image type {self.image_type!r}; expected one of {', '.join(IMAGE_TYPES)}.")
        if self.long_side is None:
            check_factor(self.mode, self.scale)
        elif self.mode != "precise":
            raise ValueError(f"long_side applies to precise only (got mode {self.mode!r}).")
        elif isinstance(self.long_side, bool) or not isinstance(self.long_side, int) or self.long_side < 1:
            raise ValueError(f"long_side must be a whole number of pixels, at least 1 (got {self.long_side!r}).")
        for field in ("creativity", "detail", "resemblance"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
                raise ValueError(f"{field} must be an integer from 0 to 10 (got {value!r}).")
        if self.tile is not None and (
            isinstance(self.tile, bool) or not isinstance(self.tile, int) or self.tile < MIN_EXPLICIT_TILE
        ):
            raise ValueError(f"tile must be an integer of at least {MIN_EXPLICIT_TILE} pixels.")
        if self.model is not None:
            if not isinstance(self.model, str) or not self.model.strip() or any(c in self.model for c in "/\\\0"):
                raise ValueError(f"model must be a model's name, the stem of its file (got {self.model!r}).")
            if self.mode not in MODEL_MODES:
                raise ValueError(f"model applies to {', '.join(MODEL_MODES)}; {self.mode} runs its own pipeline.")
        if self.finish not in FINISHES:
            raise ValueError(f"finish must be one of {', '.join(FINISHES)} (got {self.finish!r}).")
        if (self.classic or self.finish != "none" or self.match_colors) and self.mode != "precise":
            raise ValueError("classic, finish and match_colors apply to precise only.")


@dataclass
class UpscaleResult:
    # Exact output size. Mode: L, LA, RGB or RGBA as the input (palettes become RGB/RGBA,
    # bilevel becomes L); 16-bit grey is I;16, other 16-bit inputs give the 8-bit mode with
    # the 16-bit samples in image.info["inference.pixels16"], which encode_png writes.
    image: Image.Image
    icc_profile: bytes | None
    engine: str  # e.g. "precise/RealESRGAN_x4plus", recorded on the job
    width: int
    height: int
    seconds: float
    # shouldEnhanceFaces: whether faces were restored, how many, with which model, or why not.
    faces: FaceReport = FaceReport()


def upscale(
    image: bytes | DecodedImage,
    params: UpscaleParams,
    *,
    progress: Callable[[float], None] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
) -> UpscaleResult:
    """Upscale ``image`` as ``params`` say.

    ``progress`` gets a non-decreasing fraction, at least once per tile and 1.0 at the end.
    Raises ValueError (bad parameters), ``ImageError`` (unusable image),
    ``ModelNotInstalledError`` (its subclass ``UnknownModelError``, also a ValueError, for a
    ``params.model`` with no file), ``EngineNotAvailableError``.
    """
    started = time.perf_counter()
    params.validate()
    engine = get_engine(params.mode)
    decoded = image if isinstance(image, DecodedImage) else decode_image(bytes(image))
    planes = planes_from(decoded)
    context = EngineContext(model_dir=model_dir, tile=params.tile, progress=progress)
    output = engine.run(planes, params, context)
    faces = FaceReport()
    if params.enhance_faces:
        # On every mode's output (smart's too): detection, alignment, the face model, paste-back.
        from inference.faces import enhance_color

        output.planes.color, faces = enhance_color(output.planes.color, model_dir)
        log.info("faces: %s", faces)
    result_image = image_from(output.planes, decoded.icc_profile)
    seconds = time.perf_counter() - started
    log.info(
        "%s: %dx%d -> %dx%d in %.2f s",
        output.engine,
        decoded.width,
        decoded.height,
        result_image.width,
        result_image.height,
        seconds,
    )
    return UpscaleResult(
        image=result_image,
        icc_profile=decoded.icc_profile,
        engine=output.engine,
        width=result_image.width,
        height=result_image.height,
        seconds=seconds,
        faces=faces,
    )
