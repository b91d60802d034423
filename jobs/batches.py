"""A batch: several images submitted in one request, each as its own job through the one
submit path, in upload order, grouped by a Batch row. Partial failure is decided here,
once, per file: a file that cannot become a job fails alone and costs nothing, whether it
was refused (unreadable, too large, no credits left for it) or hit a storage or database
error; the others run, and the batch is kept with every file's outcome. Only when not one
file could be charged for want of credits (or the account's queue is full) is the whole
request refused, with nothing kept, as for a single upload.

Surfaces (Maskr's, jobs/api/maskr/) supply how a file becomes a Submission and how a
refusal is worded; they never decide which files count."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from billing.models import Account
from billing.pricing import output_size
from jobs import errors
from jobs.models import Batch
from jobs.submission import Submission, inspect_image, read_image, submit

log = logging.getLogger(__name__)

# A file that met an error of ours, not a refusal: it is not charged, the batch goes on.
SERVER_ERROR = "This file could not be stored or queued because of a server error; it was not charged. Send it again."


@dataclass
class BatchFile:
    """One file of a batch: its name and the uploaded file (read with submission.read_image,
    closed once it is submitted), or the refusal it met while the body was read (too large:
    its bytes were dropped)."""

    name: str
    upload: Any = None
    refusal: errors.DomainError | None = None


def _rejected(name: str, reason: str, image: bytes | None, factor: float) -> dict:
    item: dict = {"filename": name, "error": reason}
    if image is not None:
        try:
            info = inspect_image(image)
        except errors.DomainError:
            return item
        out_w, out_h = output_size(info.width, info.height, factor)
        item.update(original_width=info.width, original_height=info.height, output_width=out_w, output_height=out_h)
    return item


def submit_batch(
    account: Account,
    surface: str,
    files: Sequence[BatchFile],
    *,
    submission: Callable[[str, uuid.UUID], Submission],
    describe: Callable[[errors.DomainError], str],
    factor: float,
) -> Batch:
    """Submit every file; returns the batch with its items written: {"job_id": …} for a file
    that became a job, {"rejected": {"filename", "error", and the sizes when the image was
    readable}} for one that did not. `submission(name, batch_id)` is the file's job request,
    `describe(refusal)` the surface's words for a refusal, `factor` the upscale factor (for
    the sizes of a rejected file). Raises the refusal when not one file could be charged for
    want of credits or queue room (nothing is kept then)."""
    batch = Batch.objects.create(account=account, surface=surface, total_files=len(files))
    items: list[dict] = []
    refusals: list[errors.DomainError] = []
    for file in files:
        image = None
        try:
            if file.refusal is not None:
                raise file.refusal
            image = read_image({}, file.upload, account=account)
            job = submit(account, submission(file.name, batch.pk), image)
        except errors.DomainError as exc:
            refusals.append(exc)
            items.append({"rejected": _rejected(file.name, describe(exc), image, factor)})
            continue
        except Exception:
            # Storage or database trouble on this file: submit() charged nothing and removed
            # what it stored (jobs/submission.py create_charged_job); the files before it
            # are charged and queued, so the batch must reach the client with its id.
            log.exception("Batch %s: file %r could not be submitted", batch.pk, file.name)
            items.append({"rejected": _rejected(file.name, SERVER_ERROR, None, factor)})
            continue
        finally:
            if file.upload is not None:
                file.upload.close()  # a spooled temporary file is deleted now, not at the end of the request
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
