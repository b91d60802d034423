"""Maskr's endpoints. Thin: the query and the body are read here (params.py, uploads.py),
the jobs go through jobs/submission.py, the answer waits in jobs/completion.py and is shaped
by payloads.py; errors take Maskr's shapes in errors.py."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import capabilities, completion
from jobs.api import fallback, uploads
from jobs.api.fallback import MASKR_PREFIX
from jobs.api.maskr import errors, params, payloads, schema
from jobs.api.views import SurfaceView, base_url, request_account, request_base_url, wait_slot
from jobs.batches import BatchFile, submit_batch
from jobs.errors import ImageTooLarge, ModelNotInstalled
from jobs.models import Batch, Job
from jobs.ownership import owned
from jobs.submission import read_image, submit

QUERY_PARAMETERS = [
    OpenApiParameter("scale_factor", int, enum=list(params.SCALE_FACTORS), default=4, description="2 or 4"),
    OpenApiParameter("output_format", str, enum=list(params.OUTPUT_FORMATS), default="jpeg"),
    OpenApiParameter("quality", int, default=params.Options.quality, description="1-100; JPEG and WebP only"),
]


class MaskrView(SurfaceView):
    """Maskr's surface: multipart bodies, FastAPI-shaped errors."""

    parser_classes = [MultiPartParser]
    surface_errors = staticmethod(errors.exception_handler)


class MaskrSubmitView(MaskrView):
    """The flow both uploads share: the query, a wait slot, the body, then the jobs."""

    rate_scope = "submit"

    def answer(self, request: Request) -> Response:
        options, problems = params.parse_query(request.query_params)
        with wait_slot():  # else 503, before the body is read, and before any charge
            files = self.read_files(request, problems)
            if problems:
                raise errors.ValidationFailed(problems)
            reason = capabilities.unavailable_reason("precise")
            if reason:
                raise ModelNotInstalled(reason, mode="precise")
            return self.run(request, options, files)

    def read_files(self, request: Request, problems: list[dict]) -> list:
        raise NotImplementedError

    def run(self, request: Request, options: params.Options, files: list) -> Response:
        raise NotImplementedError


class UpscaleView(MaskrSubmitView):
    @extend_schema(
        operation_id="maskr_image_upscaling",
        summary="Upscale one image (Maskr); answers when it is done",
        description="Answers when the job has ended, or after SYNC_WAIT_MAX_SECONDS with status pending or "
        "processing (then GET /v1/services/image-upscaling/jobs/{job_id}).",
        parameters=QUERY_PARAMETERS,
        request={"multipart/form-data": schema.MaskrUploadSerializer},
        responses={200: schema.MaskrUploadAnswerSerializer, **schema.ERRORS},
        tags=["maskr"],
    )
    def post(self, request: Request) -> Response:
        return self.answer(request)

    def read_files(self, request: Request, problems: list[dict]) -> list:
        files = uploads.read_files(
            request,
            "file",
            max_request_bytes=settings.MAX_INPUT_BYTES + uploads.FRAMING_BYTES,
            max_file_bytes=settings.MAX_INPUT_BYTES,
        )
        if not files:
            problems.append(params.missing("body", "file"))
        return files

    def run(self, request: Request, options: params.Options, files: list) -> Response:
        upload = files[-1]  # a repeated field: the last one counts, as in FastAPI
        image = read_image({}, upload, account=request_account(request))
        job = submit(
            request_account(request),
            params.submission(options, params.filename(upload), request_base_url(request)),
            image,
        )
        del image
        completion.wait_for([job.id], settings.SYNC_WAIT_MAX_SECONDS)
        job.refresh_from_db()
        return Response(payloads.single(job, base_url(request)))


class BatchView(MaskrSubmitView):
    @extend_schema(
        operation_id="maskr_image_upscaling_batch",
        summary="Upscale 1 to 50 images as separate jobs in parallel (Maskr); answers when all have ended",
        description="Results in upload order; a file that cannot be upscaled fails alone and costs nothing. "
        "After SYNC_WAIT_MAX_SECONDS the answer has status processing (then GET "
        "/v1/services/image-upscaling/batch/{batch_id}).",
        parameters=QUERY_PARAMETERS,
        request={"multipart/form-data": schema.MaskrBatchUploadSerializer},
        responses={200: schema.MaskrBatchAnswerSerializer, **schema.ERRORS},
        tags=["maskr"],
    )
    def post(self, request: Request) -> Response:
        return self.answer(request)

    def read_files(self, request: Request, problems: list[dict]) -> list:
        try:
            files = uploads.read_files(
                request,
                "files",
                max_request_bytes=settings.MASKR_BATCH_MAX_BYTES,
                max_file_bytes=settings.MAX_INPUT_BYTES,
                max_files=params.MAX_BATCH_FILES,
                batch=True,
            )
        except uploads.TooManyFiles as exc:
            problems.append(params.too_many_files("files", exc.limit))
            return []
        if not files:
            problems.append(params.missing("body", "files"))
        return files

    def run(self, request: Request, options: params.Options, files: list) -> Response:
        base = request_base_url(request)
        batch = submit_batch(
            request_account(request),
            Job.Surface.MASKR,
            [_batch_file(upload) for upload in files],
            submission=lambda name, batch_id: params.submission(options, name, base, batch_id),
            describe=errors.message,
            factor=options.scale_factor,
        )
        completion.wait_for(batch.job_ids(), settings.SYNC_WAIT_MAX_SECONDS)
        return Response(payloads.batch(batch, base_url(request)))


def _batch_file(upload) -> BatchFile:
    if isinstance(upload, uploads.OversizedFile):  # its bytes were dropped while the body was read
        return BatchFile(params.filename(upload), refusal=ImageTooLarge(upload.limit_bytes, field="files"))
    return BatchFile(params.filename(upload), upload)


def _own(model, request: Request, object_id: str):
    return owned(model, request_account(request), object_id)


class JobView(MaskrView):
    @extend_schema(
        operation_id="maskr_job",
        summary="A job's answer now, in the shape of the upload's",
        description="Our addition (Maskr's document has no lookup): for an upload answered before its job ended.",
        responses={200: schema.MaskrUploadAnswerSerializer, 404: schema.MaskrDetailSerializer, **schema.READ_ERRORS},
        tags=["maskr"],
    )
    def get(self, request: Request, job_id: str) -> Response:
        return Response(payloads.single(_own(Job, request, job_id), base_url(request)))


class BatchLookupView(MaskrView):
    @extend_schema(
        operation_id="maskr_batch",
        summary="A batch's answer now, in the shape of the batch upload's",
        description="Our addition (Maskr's document has no lookup): for a batch answered before its jobs ended.",
        responses={200: schema.MaskrBatchAnswerSerializer, 404: schema.MaskrDetailSerializer, **schema.READ_ERRORS},
        tags=["maskr"],
    )
    def get(self, request: Request, batch_id: str) -> Response:
        return Response(payloads.batch(_own(Batch, request, batch_id), base_url(request)))


@csrf_exempt  # an API path: no session, no CSRF (the redirect's target is a DRF view)
def without_trailing_slash(request: HttpRequest, path: str) -> HttpResponse:
    """307 to the same URL without its trailing slash, as FastAPI's redirect_slashes answers;
    a path that does not exist without the slash either is Maskr's 404."""
    target = f"{MASKR_PREFIX}{path}"
    try:
        resolve(target)
    except Resolver404:
        return fallback.handler404(request)
    query = request.META.get("QUERY_STRING", "")
    response = HttpResponse(status=307)
    response["Location"] = request.build_absolute_uri(target + (f"?{query}" if query else ""))
    return response
