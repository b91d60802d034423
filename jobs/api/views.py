"""The public API v1. Thin views: parsing and validation in serializers, the flow in
jobs/submission.py, state changes in jobs/lifecycle.py."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Account
from jobs import capabilities, completion, idempotency, lifecycle, model_catalog, public_url, ratelimit
from jobs.api import serializers as s
from jobs.api import uploads
from jobs.api.errors import WaitsBusy
from jobs.api.pagination import JobPagination
from jobs.api.parsers import LONE_SURROGATE, has_lone_surrogate
from jobs.api.prefer import requested_wait
from jobs.errors import ImageTooLarge, InvalidRequest, JobStateConflict
from jobs.models import Job
from jobs.ownership import owned
from jobs.submission import Submission, clean_webhook, read_image, submit

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 409, 429, 503)}
READ_ERRORS = {code: s.ErrorSerializer for code in (401, 403, 429)}


class ApiView(APIView):
    """Authenticated API view; counts each request against its rate-limit scope."""

    rate_scope = "status"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.rate_headers = ratelimit.check(request.auth.pk, self.rate_scope)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in getattr(self, "rate_headers", {}).items():
            response.setdefault(name, value)
        return response


class SurfaceView(ApiView):
    """A vendor surface's view: its own error shapes (`surface_errors`, its errors module's
    exception handler) and the scheme its 401s challenge with."""

    surface_errors: Callable[..., Response | None] | None = None
    auth_scheme = "Bearer"

    def get_exception_handler(self):
        return self.surface_errors or super().get_exception_handler()

    def get_authenticate_header(self, request) -> str:
        return self.auth_scheme


@contextmanager
def wait_slot() -> Iterator[None]:
    """Hold one of this web process's synchronous-wait slots (jobs/completion.py) for a
    surface that answers once the job is done; WaitsBusy (503 with Retry-After, in the
    surface's shape) when they are all taken."""
    with completion.hold() as granted:
        if not granted:
            raise WaitsBusy()
        yield


def request_account(request: Request) -> Account:
    """The account whose key authenticated the request (jobs.api.authentication puts it in user)."""
    return cast(Account, request.user)


def request_base_url(request: Request) -> str:
    """scheme://host as the client reached us (behind a proxy: SECURE_PROXY_SSL_HEADER)."""
    return public_url.of_request(request)


def base_url(request: Request) -> str:
    """The base of app-served URLs in this answer (jobs/public_url.py)."""
    return public_url.for_request(request)


def _submit_body(request: Request) -> tuple[dict, str, UploadedFile | None]:
    """(input fields, webhook, uploaded file) from a JSON body or a multipart form. A form's
    whole body is limited as a JSON body is (DATA_UPLOAD_MAX_MEMORY_SIZE, refused from its
    Content-Length before it is read: 413), its file to MAX_INPUT_BYTES (stopped there)."""
    uploads.limit(
        request._request,
        "image",
        max_request_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        max_file_bytes=settings.MAX_INPUT_BYTES,
        body_scope="request",
    )
    try:
        data: Any = request.data  # a dict (JSON) or a QueryDict (forms)
    except uploads.UploadTooLarge as exc:
        if exc.scope == "request":
            raise RequestDataTooBig() from None
        raise ImageTooLarge(settings.MAX_INPUT_BYTES, field="image") from None
    upload = request.FILES.get("image") if hasattr(request, "FILES") else None
    if not hasattr(data, "getlist"):  # JSON
        if not isinstance(data, dict):
            raise InvalidRequest('The body must be a JSON object: {"webhook": ..., "input": {...}}.')
        fields = data.get("input")
        if not isinstance(fields, dict):
            raise InvalidRequest(
                'input is required and must be an object, e.g. {"input": {"imageUrl": "https://..."}}.', field="input"
            )
        webhook = data.get("webhook") or ""
    else:  # multipart/form-data or urlencoded: flat fields, or `input` as a JSON string
        fields = {k: v for k, v in data.items() if k not in ("image", "webhook", "input")}
        if data.get("input"):
            try:
                nested = json.loads(data["input"])
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                raise InvalidRequest("input must be a JSON object when sent as a form field.", field="input") from None
            if not isinstance(nested, dict):
                raise InvalidRequest("input must be a JSON object when sent as a form field.", field="input")
            if has_lone_surrogate(nested):
                raise InvalidRequest(f"input: {LONE_SURROGATE}", field="input")
            fields.update(nested)
        webhook = data.get("webhook") or ""
    return fields, clean_webhook(webhook), upload


class SubmitView(ApiView):
    mode: str = ""
    rate_scope = "submit"

    def post(self, request: Request) -> Response:
        fields, webhook, upload = _submit_body(request)
        serializer = s.INPUT_SERIALIZERS[self.mode](data=fields)
        serializer.is_valid(raise_exception=True)
        validated = dict(serializer.validated_data)
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return self._submit(request, validated, webhook, upload)

        key = idempotency.validate_key(key)
        account = request_account(request)
        digest = None
        if upload is not None:
            digest = hashlib.sha256(upload.read()).hexdigest()
            upload.seek(0)
        print_ = idempotency.fingerprint(self.mode, validated, webhook, digest)
        replay = idempotency.begin(account, key, print_)
        if replay is not None:
            if replay.job is not None:  # the first request died after creating its job
                body = submit_answer(replay.job)
                idempotency.finish(account, key, status.HTTP_200_OK, body)
                return Response(body, headers={"Idempotent-Replayed": "true"})
            return Response(replay.body, status=replay.status, headers={"Idempotent-Replayed": "true"})
        try:
            response = self._submit(request, validated, webhook, upload, idempotency_key=key)
        except BaseException:
            job = idempotency.abandon(account, key)
            if job is not None:  # charged and queued: a retry gets the job, not a second one
                idempotency.finish(account, key, status.HTTP_200_OK, submit_answer(job))
            raise
        idempotency.finish(account, key, response.status_code, response.data)
        return response

    def _submit(self, request: Request, validated: dict, webhook: str, upload, idempotency_key: str = "") -> Response:
        wait = requested_wait(request.headers.get("Prefer"))
        # A wait slot is taken before the job is queued, so a held job runs first
        # (jobs/scheduler.py); past the per-process cap the preference is ignored.
        with completion.hold() if wait else contextlib.nullcontext(False) as held:
            image = read_image(validated, upload, account=request_account(request))
            validated.pop("imageBase64", None)
            submission = Submission(
                self.mode,
                validated,
                webhook,
                base_url=request_base_url(request),
                output_format=validated["outputFormat"],
                output_quality=validated["outputQuality"],
                held=held,
                idempotency_key=idempotency_key,
            )
            job = submit(request_account(request), submission, image)
            if held and wait:
                completion.wait_for([job.id], wait)
                job.refresh_from_db()
                return Response(
                    s.status_payload(job, base_url(request)), headers={"Preference-Applied": f"wait={wait}"}
                )
        return Response(submit_answer(job))


def submit_answer(job: Job) -> dict:
    """Upsampler's answer to a submit without a wait: the job as it was queued."""
    return {"id": str(job.id), "status": Job.Status.IN_QUEUE.value, "creditCost": job.credit_cost}


def _submit_view(mode: str, summary: str):
    schema = extend_schema(
        operation_id=f"{mode}_upscale" if mode != "restore" else "restore",
        summary=summary,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Replays the first response for 24 hours instead of creating a second job",
            ),
            OpenApiParameter(
                "Prefer",
                str,
                OpenApiParameter.HEADER,
                description="`wait=N` (RFC 7240): answer when the job ends or after N seconds (at most "
                "SYNC_WAIT_MAX_SECONDS, 300), with the full status payload and `Preference-Applied: wait=N`",
            ),
        ],
        request={
            "application/json": s.submit_request_serializer(mode),
            "multipart/form-data": s.INPUT_SERIALIZERS[mode],
        },
        responses={
            200: PolymorphicProxySerializer(
                component_name="SubmitAnswer",
                serializers=[s.SubmitResponseSerializer, s.StatusSerializer],
                resource_type_field_name=None,
            ),
            **ERRORS,
        },
        tags=["jobs"],
    )

    def post(self, request: Request) -> Response:
        return SubmitView.post(self, request)

    post.__doc__ = summary
    return type(f"{mode.capitalize()}SubmitView", (SubmitView,), {"mode": mode, "post": schema(post)})


PreciseUpscaleView = _submit_view("precise", "Faithful super-resolution, 1-16x")
DynamicUpscaleView = _submit_view("dynamic", "Super-resolution with steerable synthesized detail, 1-4x")
SmartUpscaleView = _submit_view("smart", "Generative (diffusion) upscale prompted by a description, 1-4x")
RestoreView = _submit_view("restore", "Artifact and noise removal at the original size")


def _own_job(request: Request, job_id: str) -> Job:
    return owned(Job, request_account(request), job_id)


class StatusView(ApiView):
    @extend_schema(responses={200: s.StatusSerializer, 404: s.ErrorSerializer, **READ_ERRORS}, tags=["jobs"])
    def get(self, request: Request, job_id: str) -> Response:
        return Response(s.status_payload(_own_job(request, job_id), base_url(request)))


class CancelView(ApiView):
    @extend_schema(
        request=None,
        responses={200: s.StatusSerializer, 404: s.ErrorSerializer, 409: s.ErrorSerializer, **READ_ERRORS},
        tags=["jobs"],
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = _own_job(request, job_id)
        if not lifecycle.cancel(job):
            job.refresh_from_db()
            raise JobStateConflict(f"The job is {job.status}; only a job still IN_QUEUE can be canceled.")
        job.refresh_from_db()
        return Response(s.status_payload(job, base_url(request)))


JOB_LIST_PARAMETERS = ("status", "mode", "batch", "page", "pageSize")


class JobListView(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Job.Status.values),
            OpenApiParameter("mode", str, enum=Job.Mode.values),
            OpenApiParameter("batch", str, description="A batch id: only that batch's jobs"),
            OpenApiParameter("page", int, description="1 to the last page, default 1"),
            OpenApiParameter("pageSize", int, description="1-100, default 20"),
        ],
        responses={200: s.JobListSerializer, 400: s.ErrorSerializer, **READ_ERRORS},
        tags=["jobs"],
    )
    def get(self, request: Request) -> Response:
        unknown = sorted(set(request.query_params) - set(JOB_LIST_PARAMETERS))
        if unknown:
            raise InvalidRequest(
                f"Unknown query parameter {unknown[0]!r}: the jobs list takes {', '.join(JOB_LIST_PARAMETERS)}.",
                field=unknown[0],
            )
        jobs = Job.objects.filter(account=request_account(request)).order_by("-created_at")
        for name, allowed in (("status", Job.Status.values), ("mode", Job.Mode.values)):
            wanted = request.query_params.get(name)
            if wanted:
                if wanted not in allowed:
                    raise InvalidRequest(f"{name} must be one of {', '.join(allowed)} (got {wanted!r}).", field=name)
                jobs = jobs.filter(**{name: wanted})
        batch = request.query_params.get("batch")
        if batch:
            try:
                jobs = jobs.filter(batch_id=uuid.UUID(batch))
            except ValueError:
                raise InvalidRequest(f"batch must be a batch id (got {batch!r}).", field="batch") from None
        paginator = JobPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        data = s.StatusSerializer(page, many=True, context={"base_url": base_url(request)}).data
        return paginator.get_paginated_response(data)


def _limits() -> dict:
    limits = {"maxUnfinishedJobs": settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT}
    for scope, windows in settings.RATE_LIMITS.items():
        for limit, seconds in windows:
            per = {60: "PerMinute", 3600: "PerHour"}.get(seconds, f"Per{seconds}s")
            limits[f"{scope}Requests{per}"] = limit
    return limits


class AccountView(ApiView):
    @extend_schema(responses={200: s.AccountSerializer, **READ_ERRORS}, tags=["account"])
    def get(self, request: Request) -> Response:
        account = request_account(request)
        account.refresh_from_db()
        return Response(
            {
                "id": account.pk,
                "name": account.name,
                "balance": account.balance,
                "unfinishedJobs": Job.objects.filter(account=account, status__in=Job.UNFINISHED).count(),
                "limits": _limits(),
                "webhookSecret": account.webhook_secret,
            }
        )


class WebhookSecretView(ApiView):
    @extend_schema(request=None, responses={200: s.WebhookSecretSerializer, **READ_ERRORS}, tags=["account"])
    def post(self, request: Request) -> Response:
        """Rotate the webhook signing secret; the previous one stays valid for 24 hours."""
        account = request_account(request)
        account.refresh_from_db()
        secret = account.rotate_webhook_secret()
        return Response(
            s.WebhookSecretSerializer(
                {"webhookSecret": secret, "previousSecretValidUntil": account.previous_webhook_secret_expires_at}
            ).data
        )


class WebhookDeliveriesView(ApiView):
    @extend_schema(
        responses={200: s.WebhookDeliverySerializer(many=True), 404: s.ErrorSerializer, **READ_ERRORS}, tags=["jobs"]
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = _own_job(request, job_id)
        return Response(s.WebhookDeliverySerializer(job.webhook_deliveries.all(), many=True).data)


class RedeliverWebhookView(ApiView):
    rate_scope = "submit"

    @extend_schema(
        request=None,
        responses={202: s.RedeliverSerializer, 404: s.ErrorSerializer, 409: s.ErrorSerializer, **READ_ERRORS},
        tags=["jobs"],
    )
    def post(self, request: Request, job_id: str) -> Response:
        """Send the job's final payload to its webhook once more (recorded like any attempt)."""
        job = _own_job(request, job_id)
        lifecycle.redeliver(job)
        return Response({"id": str(job.id), "status": "QUEUED"}, status=202)


class ModesView(ApiView):
    @extend_schema(responses={200: s.ModesSerializer, **READ_ERRORS}, tags=["account"])
    def get(self, request: Request) -> Response:
        return Response({"modes": capabilities.describe()}, status=status.HTTP_200_OK)


class NetworkModelsView(ApiView):
    @extend_schema(responses={200: s.NetworkModelsSerializer, **READ_ERRORS}, tags=["models"])
    def get(self, request: Request) -> Response:
        """The models a precise, dynamic or restore job can name in `model`: the built-in
        ones and those the inference workers found in the model directory. The price does
        not depend on the model, only on the output size."""
        return Response({"models": s.NetworkModelSerializer(model_catalog.listing(), many=True).data})
