"""The submit flow: read the image, price the job, charge it and queue it, or refuse it
with a message the client can act on and charge nothing."""

from __future__ import annotations

import base64
import binascii
import math
import random
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from billing import ledger, pricing
from billing.models import Account
from inference.imageio import ImageError, decode_image
from jobs import capabilities, lifecycle, safe_http, storage
from jobs.api.errors import ApiError
from jobs.models import Job

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class Submission:
    mode: str
    fields: dict  # validated input fields, camelCase, without the image
    webhook: str = ""


def read_image(fields: dict, upload=None) -> bytes:
    """The image bytes from exactly one of: multipart file `image`, imageUrl, imageBase64."""
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
        raise ApiError(
            "Send exactly one of input.imageUrl, input.imageBase64 or a multipart file "
            f"field 'image' (got {len(sources)}: {', '.join(sources) or 'none'})."
        )
    max_bytes = settings.MAX_INPUT_BYTES
    if upload is not None:
        if upload.size > max_bytes:
            raise ApiError(f"The image is larger than {max_bytes // 2**20} MB, the largest allowed.")
        return upload.read()
    if fields.get("imageUrl"):
        try:
            return safe_http.fetch(fields["imageUrl"], max_bytes=max_bytes)
        except safe_http.FetchError as exc:
            raise ApiError(str(exc)) from None
    return decode_base64(fields["imageBase64"], max_bytes)


def decode_base64(text: str, max_bytes: int) -> bytes:
    text = text.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise ApiError("imageBase64 data: URIs must be base64-encoded (data:image/png;base64,...).")
    if len(text) > math.ceil(max_bytes / 3) * 4 + 4:
        raise ApiError(f"The image is larger than {max_bytes // 2**20} MB, the largest allowed.")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("imageBase64 is not valid base64.") from None
    if not data:
        raise ApiError("imageBase64 is empty.")
    return data


def largest_factor(width: int, height: int) -> float:
    factor = math.floor(math.sqrt(settings.MAX_OUTPUT_PIXELS / (width * height)) * 100) / 100
    while factor > 0 and math.prod(pricing.output_size(width, height, factor)) > settings.MAX_OUTPUT_PIXELS:
        factor = round(factor - 0.01, 2)
    return factor


def submit(account: Account, submission: Submission, image: bytes) -> Job:
    mode, fields = submission.mode, submission.fields
    image_type = fields.get("inputImageType", "universal")
    try:
        decoded = decode_image(image, max_pixels=settings.MAX_INPUT_PIXELS)
    except ImageError as exc:
        raise ApiError(str(exc)) from None

    factor = 1.0 if mode == "restore" else float(fields["upscaleFactor"])
    out_w, out_h = pricing.output_size(decoded.width, decoded.height, factor)
    if out_w * out_h > settings.MAX_OUTPUT_PIXELS:
        cap_mp = settings.MAX_OUTPUT_PIXELS / 1e6
        best = largest_factor(decoded.width, decoded.height)
        hint = (
            (f"the largest upscaleFactor allowed for this {decoded.width}x{decoded.height} image is {best:g}")
            if best >= 1
            else "the image itself is too large for any factor"
        )
        raise ApiError(
            f"The output would be {out_w}x{out_h} ({out_w * out_h / 1e6:.1f} MP), over the {cap_mp:g} MP limit: {hint}."
        )

    reason = capabilities.unavailable_reason(mode, image_type)
    if reason:
        raise ApiError(reason, status_code=503)

    unfinished = Job.objects.filter(account=account, status__in=Job.UNFINISHED).count()
    if unfinished >= settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT:
        raise ApiError(
            f"This account has {unfinished} unfinished jobs, the most allowed "
            f"({settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT}); wait for some to finish.",
            status_code=429,
            headers={"Retry-After": "30"},
        )

    cost = pricing.price(mode, out_w, out_h)
    try:
        return create_charged_job(
            account,
            mode,
            fields,
            webhook=submission.webhook,
            image=image,
            image_format=decoded.format,
            input_size=(decoded.width, decoded.height),
            output_size=(out_w, out_h),
            cost=cost,
        )
    except ledger.InsufficientCredits as exc:
        raise ApiError(str(exc), status_code=403) from None


def create_charged_job(
    account: Account,
    mode: str,
    params: dict,
    *,
    webhook: str,
    image: bytes,
    image_format: str,
    input_size: tuple[int, int],
    output_size: tuple[int, int],
    cost: int,
) -> Job:
    """Store the input, create the job and charge it in one transaction, and queue it once
    that commits. On any failure nothing is charged and the stored input is removed.
    Raises ledger.InsufficientCredits."""
    job_id = uuid.uuid4()
    input_name = storage.save(f"inputs/{job_id}.{EXTENSIONS[image_format]}", image)
    try:
        with transaction.atomic():
            job = Job.objects.create(
                id=job_id,
                account=account,
                mode=mode,
                params=params,
                webhook_url=webhook,
                credit_cost=cost,
                seed=random.SystemRandom().randrange(2**31),
                input_name=input_name,
                input_format=image_format,
                input_width=input_size[0],
                input_height=input_size[1],
                output_width=output_size[0],
                output_height=output_size[1],
            )
            ledger.debit_for_job(account.pk, job, cost)
            lifecycle.enqueue(job)
    except BaseException:
        storage.delete(input_name)
        raise
    return job
