"""The submit flow: read the image, price the job, charge it and queue it, or refuse it
with a message the client can act on and charge nothing."""

from __future__ import annotations

import base64
import binascii
import logging
import math
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from billing import ledger, pricing
from billing.models import Account
from inference.imageio import (
    COMPRESSED_FORMAT,
    DEFAULT_QUALITY,
    EXTENSIONS,
    MAX_SIDE,
    ImageError,
    ImageInfo,
    probe_image,
)
from inference.sizing import effective_factor
from jobs import capabilities, connections, counters, idempotency, lifecycle, model_catalog, safe_http, storage
from jobs.errors import (
    ImageFetchFailed,
    ImageInvalid,
    ImageTooLarge,
    ImageUnusable,
    InvalidRequest,
    JobStateConflict,
    ModelNotInstalled,
    OutputTooLarge,
    QueueFull,
    TooManyFetches,
)
from jobs.models import Job, OutputFormat, default_output_ttl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """One request to run a job, whichever API it came in by."""

    mode: str
    fields: dict  # validated input fields, camelCase, without the image
    webhook: str = ""
    surface: str = Job.Surface.UPSAMPLER
    base_url: str = ""  # scheme://host the request came to, for URLs sent later
    output_format: str = OutputFormat.PNG  # imageUrl's format
    output_quality: int = DEFAULT_QUALITY  # jpg and webp
    output_ttl_seconds: int | None = None  # None: OUTPUT_TTL_SECONDS
    batch_id: uuid.UUID | None = None  # the Batch the job belongs to (Maskr's /batch)
    webhook_headers: dict = field(default_factory=dict)  # extra headers sent with the webhook (Ximilar's)
    # An image that cannot be downloaded or read is accepted as a job that fails at once
    # (refunded) instead of refused: APIXO checks the image only once the task runs.
    defer_image_errors: bool = False
    # A request waits for the job's answer (a synchronous call holding a wait slot): the
    # scheduler runs it ahead of the queue (jobs/scheduler.py).
    held: bool = False
    # The request's Idempotency-Key: the job is recorded on it as it is created and charged.
    idempotency_key: str = ""


def clean_webhook(value: object, field: str = "webhook") -> str:
    """A webhook URL checked at submit time, so a bad one is a 400 now rather than a failed
    delivery later: http(s), a host, no credentials, no spaces, at most 2000 characters."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be an http or https URL.", field=field)
    url = value.strip()
    if not url.isascii() and not url.isprintable():  # a lone surrogate, a control character
        raise InvalidRequest(f"{field} must be a valid http or https URL (got {ascii(url)}).", field=field)
    if len(url) > 2000:
        raise InvalidRequest(f"{field} must be at most 2000 characters.", field=field)
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InvalidRequest(
            f"{field} must be a valid http or https URL, without spaces (got {url!r}).", field=field
        ) from None
    try:
        safe_http.check_url(url)
    except safe_http.BlockedURLError as exc:
        raise InvalidRequest(f"{field} is not allowed: {exc}.", field=field) from None
    return url


def read_image(fields: dict, upload=None, *, account: Account) -> bytes:
    """The image bytes from exactly one of: multipart file `image`, imageUrl, imageBase64.
    An imageUrl is downloaded within IMAGE_FETCH_DEADLINE_SECONDS, holding one of the
    account's download slots (TooManyFetches when they are all taken)."""
    sources = [
        name
        for name, present in (
            ("image", upload is not None),
            ("imageUrl", bool(fields.get("imageUrl"))),
            ("imageBase64", bool(fields.get("imageBase64"))),
        )
        if present
    ]
    if len(sources) != 1:
        raise InvalidRequest(
            "Send exactly one of input.imageUrl, input.imageBase64 or a multipart file "
            f"field 'image' (got {len(sources)}: {', '.join(sources) or 'none'}).",
            field="input",
        )
    max_bytes = settings.MAX_INPUT_BYTES
    if upload is not None:
        if upload.size > max_bytes:
            raise ImageTooLarge(max_bytes, field="image")
        return upload.read()
    if fields.get("imageUrl"):
        with fetch_slot(account):
            connections.give_back()  # the download needs no database connection
            try:
                return safe_http.fetch(
                    fields["imageUrl"], max_bytes=max_bytes, deadline_seconds=settings.IMAGE_FETCH_DEADLINE_SECONDS
                )
            except safe_http.FetchError as exc:
                raise ImageFetchFailed(str(exc), field="imageUrl") from None
    return decode_base64(fields["imageBase64"], max_bytes)


# How many downloads this process is running (web threads waiting on client URLs).
process_fetches = counters.ProcessSlots()


@contextmanager
def fetch_slot(account: Account) -> Iterator[None]:
    """Hold one of the account's download slots (shared by every web process) and one of this
    process's while the block runs; TooManyFetches when either cap is reached. The account's
    cap is checked first, so which process a request lands on does not change whose
    downloads are refused. A slot expires by itself if its process dies. If the counter store
    is unreachable the account's cap is skipped (logged): the deadline still bounds each
    download, and the process cap holds."""
    retry_after = max(1, min(5, math.ceil(settings.IMAGE_FETCH_DEADLINE_SECONDS)))
    per_account = settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT
    try:
        slot = counters.acquire(f"fetch:{account.pk}", per_account, ttl=settings.IMAGE_FETCH_DEADLINE_SECONDS + 30)
    except counters.Unavailable:
        log.warning("counter store unreachable; downloading without the per-account cap", exc_info=True)
        slot, capped = None, False
    else:
        capped = True
    if capped and slot is None:
        raise TooManyFetches(
            f"This account already has {per_account} image downloads in progress, the most allowed at once; "
            f"retry in {retry_after} seconds (or send the image itself, in imageBase64 or a multipart file).",
            retry_after=retry_after,
        )
    try:
        if not process_fetches.enter(settings.IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS):
            raise TooManyFetches(
                f"This server is downloading as many images as it can at once; retry in {retry_after} seconds "
                "(or send the image itself, in imageBase64 or a multipart file).",
                retry_after=retry_after,
            )
        try:
            yield
        finally:
            process_fetches.leave()
    finally:
        if slot is not None:
            try:
                counters.release(slot)
            except counters.Unavailable:
                log.warning("counter store unreachable; the download slot will expire by itself", exc_info=True)


def decode_base64(text: str, max_bytes: int) -> bytes:
    text = text.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise InvalidRequest(
                "imageBase64 data: URIs must be base64-encoded (data:image/png;base64,...).", field="imageBase64"
            )
    if len(text) > math.ceil(max_bytes / 3) * 4 + 4:
        raise ImageTooLarge(max_bytes, field="imageBase64")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("imageBase64 is not valid base64.", field="imageBase64") from None
    if not data:
        raise InvalidRequest("imageBase64 is empty.", field="imageBase64")
    return data


def largest_factor(width: int, height: int) -> float:
    factor = math.floor(math.sqrt(settings.MAX_OUTPUT_PIXELS / (width * height)) * 100) / 100
    while factor > 0 and math.prod(pricing.output_size(width, height, factor)) > settings.MAX_OUTPUT_PIXELS:
        factor = round(factor - 0.01, 2)
    return factor


def inspect_image(image: bytes) -> ImageInfo:
    """The image's format and size from its header (nothing is decoded in the web tier)."""
    try:
        return probe_image(image, max_pixels=settings.MAX_INPUT_PIXELS)
    except ImageError as exc:
        raise ImageInvalid(str(exc), field="image") from None


def check_output_size(
    info: ImageInfo, factor: float, output_format: str = OutputFormat.PNG, *, long_side: int | None = None
) -> tuple[int, int]:
    """The exact output size, `factor` times the input's, or with a `long_side` (a resolution
    tier) when one is given, refused when over the cap (or over what the output format can
    hold per side), with the largest factor that fits."""
    if long_side is None:
        out_w, out_h = pricing.output_size(info.width, info.height, factor)
        smaller = "upscaleFactor"
    else:
        out_w, out_h = pricing.long_side_size(info.width, info.height, long_side)
        smaller = "resolution"
    if out_w * out_h > settings.MAX_OUTPUT_PIXELS:
        cap_mp = settings.MAX_OUTPUT_PIXELS / 1e6
        best = largest_factor(info.width, info.height)
        if long_side is not None:
            hint = "choose a smaller resolution"
        elif best >= 1:
            hint = f"the largest upscaleFactor allowed for this {info.width}x{info.height} image is {best:g}"
        else:
            hint = "the image itself is too large for any factor"
        raise OutputTooLarge(
            f"The output would be {out_w}x{out_h} ({out_w * out_h / 1e6:.1f} MP), "
            f"over the {cap_mp:g} MP limit: {hint}.",
            largest_factor=best,
            field=smaller,
        )
    # Every job is encoded twice: in its output format, and as the JPEG of compressedImageUrl.
    # What either encoder cannot write is refused now, not after the inference has run.
    for fmt in (output_format, COMPRESSED_FORMAT):
        max_side = MAX_SIDE[fmt]
        if max(out_w, out_h) <= max_side:
            continue
        largest = math.floor(max_side / max(info.width, info.height) * 100) / 100
        if fmt == output_format and output_format != COMPRESSED_FORMAT:
            what, hint = f"{fmt} images", f"choose a smaller {smaller} or outputFormat png"
        else:
            what, hint = "JPEG images (every job's compressed copy is one)", f"choose a smaller {smaller}"
        if long_side is None and largest < 1:
            hint = "the image itself is too long for any factor"
        raise OutputTooLarge(
            f"The output would be {out_w}x{out_h}, and {what} can be at most {max_side} pixels on a side: {hint}.",
            largest_factor=largest,
            field="outputFormat" if fmt == output_format and output_format != COMPRESSED_FORMAT else smaller,
        )
    return out_w, out_h


def read_and_submit(account: Account, submission: Submission, fields: dict, upload=None) -> Job:
    """read_image, then submit. With `submission.defer_image_errors`, an image that cannot be
    downloaded either is accepted as a job that has failed (see submit)."""
    try:
        image = read_image(fields, upload, account=account)
    except ImageUnusable as exc:
        if not submission.defer_image_errors:
            raise
        return create_failed_job(account, submission, exc)
    return submit(account, submission, image)


def submit(account: Account, submission: Submission, image: bytes) -> Job:
    """Validate, price, charge and queue one job. Raises a jobs.errors.DomainError (and
    charges nothing) when the job cannot be queued; but with
    `submission.defer_image_errors`, an image that cannot be read becomes a job that has
    failed already (charged and refunded, its webhook sent), as vendors that check the image
    only once the task runs answer it."""
    mode, fields = submission.mode, submission.fields
    image_type = fields.get("inputImageType", "universal")
    try:
        info = inspect_image(image)
    except ImageInvalid as exc:
        if not submission.defer_image_errors:
            raise
        return create_failed_job(account, submission, exc)
    factor = effective_factor(mode, fields.get("upscaleFactor", 1.0))
    out_w, out_h = check_output_size(info, factor, submission.output_format, long_side=fields.get("targetLongSide"))

    # A job that names a model runs that one (checked against the recorded scans), at the
    # same price: it depends on the output size only, whatever the network's native scale.
    # A classic job (Ximilar's classic model) runs the faithful network for its factor.
    if fields.get("classic"):
        model = capabilities.faithful_model(factor)
        reason = capabilities.model_unavailable_reason(mode, model)
    else:
        model = model_catalog.choose(mode, image_type, fields.get("model"))
        reason = None if fields.get("model") else capabilities.unavailable_reason(mode, image_type)
    if reason:
        raise ModelNotInstalled(reason, mode=mode)

    return create_charged_job(
        account,
        submission,
        image=image,
        image_format=info.format,
        input_size=(info.width, info.height),
        output_size=(out_w, out_h),
        cost=pricing.price(mode, out_w, out_h, model),
        model=model,
    )


def create_failed_job(account: Account, submission: Submission, problem: ImageUnusable) -> Job:
    """The job of a request whose image cannot be used, accepted and failed at once: charged
    the least a job of its mode costs (so an account that could not pay for any job is still
    refused, InsufficientCredits) and refunded in the same transaction. Nothing is stored or
    queued; its sizes are 0. Its webhook is sent and its waiters woken as for any failure."""
    return create_charged_job(
        account,
        submission,
        image=None,
        image_format="",
        input_size=(0, 0),
        output_size=(0, 0),
        cost=pricing.price(submission.mode, 1, 1),
        failure=problem,
    )


def create_charged_job(
    account: Account,
    submission: Submission,
    *,
    image: bytes | None,
    image_format: str,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    cost: int,
    model: str = "",
    failure: ImageUnusable | None = None,
) -> Job:
    """Store the input, create the job and charge it in one transaction, and queue it once
    that commits. On any failure nothing is charged and the stored input is removed.
    With `failure` (no image), the job is failed and refunded in that transaction instead of
    queued. Raises InsufficientCredits or QueueFull."""
    job_id = uuid.uuid4()
    input_name = storage.save(f"inputs/{job_id}.{EXTENSIONS[image_format]}", image) if image is not None else ""
    try:
        with transaction.atomic():
            check_unfinished_cap(account)
            job = Job.objects.create(
                id=job_id,
                account=account,
                mode=submission.mode,
                params=submission.fields,
                webhook_url=submission.webhook,
                webhook_headers=submission.webhook_headers,
                surface=submission.surface,
                base_url=submission.base_url[:300],
                output_format=submission.output_format,
                output_quality=submission.output_quality,
                output_ttl_seconds=submission.output_ttl_seconds or default_output_ttl(),
                batch_id=submission.batch_id,
                held=submission.held,
                credit_cost=cost,
                model=model,
                seed=random.SystemRandom().randrange(2**31),
                input_name=input_name,
                input_format=image_format,
                input_width=input_size[0],
                input_height=input_size[1],
                output_width=output_size[0],
                output_height=output_size[1],
            )
            ledger.debit_for_job(account.pk, job, cost)
            if submission.idempotency_key:
                idempotency.attach(account, submission.idempotency_key, job)
            if failure is None:
                lifecycle.enqueue(job)
            else:
                lifecycle.fail(job, failure.message, failure=Job.Failure.IMAGE)
    except BaseException:
        storage.delete(input_name)
        raise
    return job


def resubmit(job: Job) -> Job:
    """A failed job again, as a new job: same account, mode, parameters and a copy of the
    input, charged and queued like a submit. The failed job keeps its refund.
    Raises JobStateConflict when it cannot be retried, or the submit's domain errors."""
    if not job.account.is_active:
        raise JobStateConflict("the account is disabled.")
    if job.files_deleted_at or not job.input_name:
        raise JobStateConflict("its input file was already deleted.")
    try:
        data = storage.read(job.input_name)
    except FileNotFoundError:
        raise JobStateConflict("its input file is gone from storage.") from None
    if job.params.get("model"):  # the model it named may be gone since
        model_catalog.choose(job.mode, job.params.get("inputImageType", "universal"), job.params["model"])
    submission = Submission(
        job.mode,
        job.params,
        job.webhook_url,
        job.surface,
        job.base_url,
        job.output_format,
        job.output_quality,
        job.output_ttl_seconds,
        webhook_headers=job.webhook_headers,
    )
    return create_charged_job(
        job.account,
        submission,
        image=data,
        image_format=job.input_format,
        input_size=(job.input_width, job.input_height),
        output_size=(job.output_width, job.output_height),
        cost=pricing.price(job.mode, job.output_width, job.output_height, job.model),
        model=job.model,
    )


def check_unfinished_cap(account: Account) -> None:
    """Refuse a job over the unfinished-jobs cap. Call inside the transaction that creates
    the job: the account row is locked first (PostgreSQL; SQLite's IMMEDIATE transactions
    hold the write lock already), so racing submits are counted one after another."""
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True).first()
    unfinished = Job.objects.filter(account=account, status__in=Job.UNFINISHED).count()
    cap = settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT
    if unfinished >= cap:
        raise QueueFull(
            f"This account has {unfinished} unfinished jobs, the most allowed ({cap}); wait for some to finish.",
            retry_after=30,
        )
