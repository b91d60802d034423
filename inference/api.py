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
from inference.imageio import DecodedImage, decode_image
from inference.params import MIN_EXPLICIT_TILE as MIN_EXPLICIT_TILE
from inference.params import MODEL_MODES as MODEL_MODES
from inference.params import UpscaleParams as UpscaleParams
from inference.pixels import image_from, planes_from

log = logging.getLogger(__name__)


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
