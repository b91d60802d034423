"""A Maskr batch: each file submitted as its own job, in upload order, through the one
submit path, grouped by a Batch row. A file that cannot become a job (unreadable, too
large, no credits left for it) fails alone and costs nothing; the others run."""

from __future__ import annotations

from billing.models import Account
from billing.pricing import output_size
from jobs import errors
from jobs.api.maskr import errors as maskr_errors
from jobs.api.maskr.params import Options
from jobs.api.maskr.uploads import OversizedFile
from jobs.models import Batch, Job
from jobs.submission import Submission, inspect_image, read_image, submit

MAX_FILENAME = 255


def filename(upload) -> str:
    return (upload.name or "")[:MAX_FILENAME]


def submission(options: Options, name: str, base_url: str, batch_id=None) -> Submission:
    return Submission(
        "precise",
        {"upscaleFactor": options.scale_factor, "inputImageType": "universal", "inputFilename": name},
        surface=Job.Surface.MASKR,
        base_url=base_url,
        output_format=options.job_output_format,
        output_quality=options.quality,
        batch_id=batch_id,
        held=True,  # Maskr answers when the jobs are done: the request holds a wait slot
    )


def _rejected(name: str, reason: str, image: bytes | None, factor: int) -> dict:
    item: dict = {"filename": name, "error": reason}
    if image is not None:
        try:
            info = inspect_image(image)
        except errors.DomainError:
            return item
        out_w, out_h = output_size(info.width, info.height, factor)
        item.update(original_width=info.width, original_height=info.height, output_width=out_w, output_height=out_h)
    return item


def submit_batch(account: Account, files: list, options: Options, base_url: str) -> Batch:
    """Submit every file; returns the batch with its items written. When not one file could
    be charged for want of credits (or the account's queue is full), nothing is kept and that
    refusal is raised, as for a single upload."""
    batch = Batch.objects.create(account=account, surface=Job.Surface.MASKR, total_files=len(files))
    items: list[dict] = []
    refusals: list[errors.DomainError] = []
    for upload in files:
        name = filename(upload)
        if isinstance(upload, OversizedFile):
            reason = maskr_errors.file_too_large_message(upload.limit_bytes)
            items.append({"rejected": _rejected(name, reason, None, 0)})
            continue
        image = None
        try:
            image = read_image({}, upload, account=account)
            job = submit(account, submission(options, name, base_url, batch.pk), image)
        except errors.DomainError as exc:
            refusals.append(exc)
            reason = maskr_errors.message(exc)
            items.append({"rejected": _rejected(name, reason, image, options.scale_factor)})
            continue
        finally:
            upload.close()  # a spooled temporary file is deleted now, not at the end of the request
        items.append({"job_id": str(job.pk)})

    if not any("job_id" in item for item in items):
        whole_request = errors.InsufficientCredits | errors.Throttled
        blocking = next((exc for exc in refusals if isinstance(exc, whole_request)), None)
        if blocking is not None:
            batch.delete()
            raise blocking
    batch.items = items
    batch.save(update_fields=["items"])
    return batch
