"""The public API v1. Thin views: parsing and validation in serializers, the flow in
jobs/submission.py, state changes in jobs/lifecycle.py."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import capabilities, lifecycle
from jobs.api import serializers as s
from jobs.api.errors import ApiError
from jobs.models import Job
from jobs.submission import Submission, read_image, submit

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 429, 503)}


def base_url(request: Request) -> str:
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


def _submit_body(request: Request) -> tuple[dict, str, object]:
    """(input fields, webhook, uploaded file) from a JSON body or a multipart form."""
    data = request.data
    upload = request.FILES.get("image") if hasattr(request, "FILES") else None
    if not hasattr(data, "getlist"):  # JSON
        if not isinstance(data, dict):
            raise ApiError('The body must be a JSON object: {"webhook": ..., "input": {...}}.')
        fields = data.get("input")
        if not isinstance(fields, dict):
            raise ApiError('input is required and must be an object, e.g. {"input": {"imageUrl": "https://..."}}.')
        webhook = data.get("webhook") or ""
    else:  # multipart/form-data or urlencoded: flat fields, or `input` as a JSON string
        fields = {k: v for k, v in data.items() if k not in ("image", "webhook", "input")}
        if data.get("input"):
            try:
                nested = json.loads(data["input"])
            except ValueError:
                raise ApiError("input must be a JSON object when sent as a form field.") from None
            if not isinstance(nested, dict):
                raise ApiError("input must be a JSON object when sent as a form field.")
            fields.update(nested)
        webhook = data.get("webhook") or ""
    if not isinstance(webhook, str):
        raise ApiError("webhook must be an http or https URL.")
    webhook = webhook.strip()
    if webhook and not webhook.lower().startswith(("http://", "https://")):
        raise ApiError("webhook must be an http or https URL.")
    if len(webhook) > 2000:
        raise ApiError("webhook must be at most 2000 characters.")
    return fields, webhook, upload


class SubmitView(APIView):
    mode: str = ""

    def post(self, request: Request) -> Response:
        fields, webhook, upload = _submit_body(request)
        serializer = s.INPUT_SERIALIZERS[self.mode](data=fields)
        serializer.is_valid(raise_exception=True)
        validated = dict(serializer.validated_data)
        image = read_image(validated, upload)
        validated.pop("imageBase64", None)
        job = submit(request.user, Submission(self.mode, validated, webhook), image)
        return Response({"id": str(job.id), "status": job.status, "creditCost": job.credit_cost})


def _submit_view(mode: str, summary: str):
    schema = extend_schema(
        operation_id=f"{mode}_upscale" if mode != "restore" else "restore",
        summary=summary,
        request={
            "application/json": s.submit_request_serializer(mode),
            "multipart/form-data": s.INPUT_SERIALIZERS[mode],
        },
        responses={200: s.SubmitResponseSerializer, **ERRORS},
        tags=["jobs"],
    )
    view = type(f"{mode.capitalize()}SubmitView", (SubmitView,), {"mode": mode})
    view.post = schema(view.post)
    return view


PreciseUpscaleView = _submit_view("precise", "Faithful super-resolution, 1-16x")
DynamicUpscaleView = _submit_view("dynamic", "Super-resolution with steerable synthesized detail, 1-4x")
SmartUpscaleView = _submit_view("smart", "Generative (diffusion) upscale prompted by a description, 1-4x")
RestoreView = _submit_view("restore", "Artifact and noise removal at the original size")


def _own_job(request: Request, job_id: str) -> Job:
    try:
        return Job.objects.get(pk=uuid.UUID(job_id), account=request.user)
    except (ValueError, Job.DoesNotExist):
        raise ApiError(f"No job with id {job_id!r} for this account.", status_code=404) from None


class StatusView(APIView):
    @extend_schema(responses={200: s.StatusSerializer, 404: s.ErrorSerializer}, tags=["jobs"])
    def get(self, request: Request, job_id: str) -> Response:
        return Response(_own_job(request, job_id).to_status_dict(base_url(request)))


class CancelView(APIView):
    @extend_schema(request=None, responses={200: s.StatusSerializer, 404: s.ErrorSerializer, 409: s.ErrorSerializer}, tags=["jobs"])
    def post(self, request: Request, job_id: str) -> Response:
        job = _own_job(request, job_id)
        if not lifecycle.cancel(job):
            job.refresh_from_db()
            raise ApiError(f"The job is {job.status}; only a job still IN_QUEUE can be canceled.", status_code=409)
        job.refresh_from_db()
        return Response(job.to_status_dict(base_url(request)))


class JobListView(APIView):
    MAX_PAGE_SIZE = 100

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in Job.Status.choices]),
            OpenApiParameter("mode", str, enum=[c for c, _ in Job.Mode.choices]),
            OpenApiParameter("page", int),
            OpenApiParameter("pageSize", int, description="1-100, default 20"),
        ],
        responses={200: s.JobListSerializer, 400: s.ErrorSerializer},
        tags=["jobs"],
    )
    def get(self, request: Request) -> Response:
        jobs = Job.objects.filter(account=request.user)
        wanted_status = request.query_params.get("status")
        if wanted_status:
            if wanted_status not in Job.Status.values:
                raise ApiError(f"status must be one of {', '.join(Job.Status.values)}.")
            jobs = jobs.filter(status=wanted_status)
        wanted_mode = request.query_params.get("mode")
        if wanted_mode:
            if wanted_mode not in Job.Mode.values:
                raise ApiError(f"mode must be one of {', '.join(Job.Mode.values)}.")
            jobs = jobs.filter(mode=wanted_mode)
        page = _positive_int(request, "page", 1, None)
        size = _positive_int(request, "pageSize", 20, self.MAX_PAGE_SIZE)
        count = jobs.count()
        rows = jobs.order_by("-created_at")[(page - 1) * size: page * size]
        root = base_url(request)

        def link(p):
            query = request.query_params.copy()
            query["page"] = p
            return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

        return Response({
            "count": count,
            "page": page,
            "pageSize": size,
            "next": link(page + 1) if page * size < count else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": [job.to_status_dict(root) for job in rows],
        })


def _positive_int(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum and int(raw) > maximum):
        upper = f" to {maximum}" if maximum else " or more"
        raise ApiError(f"{name} must be a whole number from 1{upper} (got {raw!r}).")
    return int(raw)


class AccountView(APIView):
    @extend_schema(responses={200: s.AccountSerializer}, tags=["account"])
    def get(self, request: Request) -> Response:
        account = request.user
        account.refresh_from_db(fields=["balance"])
        return Response({
            "id": account.pk,
            "name": account.name,
            "balance": account.balance,
            "unfinishedJobs": Job.objects.filter(account=account, status__in=Job.UNFINISHED).count(),
            "limits": {"maxUnfinishedJobs": settings.MAX_UNFINISHED_JOBS_PER_ACCOUNT},
        })


class ModesView(APIView):
    @extend_schema(tags=["account"])
    def get(self, request: Request) -> Response:
        return Response({"modes": capabilities.describe()}, status=status.HTTP_200_OK)
