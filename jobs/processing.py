"""Runs one claimed job through the inference engine and stores its outputs.

Runs on inference workers only: `inference.api` (and so torch) is imported here, inside the
function, so the web tier never imports it."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.utils import timezone

from inference.imageio import DEFAULT_QUALITY
from inference.sizing import effective_factor
from jobs import lifecycle, storage
from jobs.models import Job

log = logging.getLogger(__name__)


class ProgressReporter:
    """Engine progress (0.0-1.0) -> Job.progress, at most every `interval` seconds."""

    def __init__(self, job_id, interval: float = 0.5):
        self.job_id, self.interval = job_id, interval
        self.last_percent, self.last_write = 0, 0.0

    def __call__(self, fraction: float) -> None:
        percent = lifecycle.engine_progress(fraction)
        now = time.monotonic()
        if percent > self.last_percent and now - self.last_write >= self.interval:
            lifecycle.set_progress(self.job_id, percent)
            self.last_percent, self.last_write = percent, now


class Heartbeat:
    """Marks the job alive while it runs, so the sweep can tell a dead worker's job."""

    def __init__(self, job_id, every: float):
        self.job_id, self.every = job_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{job_id}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.every):
                Job.objects.filter(pk=self.job_id, status=Job.Status.IN_PROGRESS).update(heartbeat_at=timezone.now())
        finally:
            connection.close()


def engine_params(job: Job):
    from inference.params import MODEL_MODES, UpscaleParams

    p = job.params
    return UpscaleParams(
        mode=job.mode,
        scale=effective_factor(job.mode, p.get("upscaleFactor", 1.0)),
        image_type=p.get("inputImageType", "universal"),
        creativity=int(p.get("globalCreativity", 5)),
        detail=int(p.get("detail", 5)),
        resemblance=int(p.get("resemblance", 8)),
        description=p.get("description", ""),
        enhance_faces=bool(p.get("shouldEnhanceFaces", False)),
        preserve_blur=bool(p.get("shouldPreserveBlur", False)),
        preserve_hands=bool(p.get("shouldPreserveHands", False)),
        seed=job.seed,
        # A resolution tier (APIXO): the output's long side, instead of the factor.
        long_side=p.get("targetLongSide"),
        # The network chosen at submit (blank on older jobs: the mode's default).
        model=(job.model or None) if job.mode in MODEL_MODES else None,
        # Precise's finishing steps (the Ximilar surface sets them; absent elsewhere).
        classic=bool(p.get("classic", False)),
        finish=p.get("finish", "none"),
        match_colors=bool(p.get("matchColors", False)),
    )


COMPRESSED_QUALITY = DEFAULT_QUALITY


def encode_outputs(job: Job, image, icc_profile) -> list[tuple[str, bytes]]:
    """(storage name, bytes) of imageUrl, in the job's format and quality, and of
    compressedImageUrl, always a JPEG at quality 85. A job asking for that very JPEG gets
    one file for both."""
    from inference.imageio import encode, encode_jpeg

    extension = job.output_format
    main = encode(image, job.output_format, icc_profile, quality=job.output_quality)
    if job.output_format == "jpg" and job.output_quality == COMPRESSED_QUALITY:
        compressed = main
    else:
        compressed = encode_jpeg(image, icc_profile, quality=COMPRESSED_QUALITY)
    return [(f"outputs/{job.id}.{extension}", main), (f"outputs/{job.id}-compressed.jpg", compressed)]


def process(job: Job) -> bool:
    """Upscale, store imageUrl's and compressedImageUrl's files, mark SUCCESS. Exceptions
    propagate to the task."""
    from inference.api import upscale

    data = storage.read(job.input_name)
    lifecycle.set_stage(job.id, Job.Stage.FETCHED)
    with Heartbeat(job.id, settings.JOB_HEARTBEAT_SECONDS):
        lifecycle.set_stage(job.id, Job.Stage.RUNNING)
        result = upscale(
            data,
            engine_params(job),
            progress=ProgressReporter(job.id),
            model_dir=settings.UPSCALER_MODEL_DIR,
        )
    if (result.width, result.height) != (job.output_width, job.output_height):
        raise RuntimeError(
            f"engine produced {result.width}x{result.height}, expected {job.output_width}x{job.output_height}"
        )
    lifecycle.set_stage(job.id, Job.Stage.ENCODING)
    (main_name, main), (compressed_name, compressed) = encode_outputs(job, result.image, result.icc_profile)
    lifecycle.set_stage(job.id, Job.Stage.UPLOADING)
    image_name = storage.save(main_name, main)
    compressed_name = image_name if compressed is main else storage.save(compressed_name, compressed)
    log.info("job %s: %s in %.2fs -> %dx%d", job.id, result.engine, result.seconds, result.width, result.height)
    faces = result.faces.to_dict() if result.faces.requested else None
    if lifecycle.succeed(
        job, image_name=image_name, compressed_name=compressed_name, engine=result.engine, faces=faces
    ):
        return True
    # Canceled or finished elsewhere meanwhile: keep nothing of ours.
    job.refresh_from_db()
    if image_name != job.image_name:
        storage.delete(image_name, compressed_name)
    return False


def failure_of(exc: BaseException) -> str:
    """The failure code of an exception that ended a job (Job.Failure)."""
    from inference.imageio import ImageError

    return Job.Failure.IMAGE if isinstance(exc, ImageError) else Job.Failure.OTHER


def client_message(exc: BaseException) -> str:
    """What the client reads in `error`: our typed errors say what to do; others don't leak."""
    from inference.errors import InferenceError
    from inference.imageio import ImageError

    if isinstance(exc, ImageError):
        return str(exc)
    if isinstance(exc, InferenceError):
        return f"The upscaling engine failed: {exc}"
    return "The upscaling engine failed with an internal error"
