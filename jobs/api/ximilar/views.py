"""Ximilar's endpoints. Thin: the body is read in params.py, the job goes through
jobs/submission.py, the synchronous answer waits in jobs/completion.py and every answer is
shaped by payloads.py; errors take Ximilar's shapes in errors.py."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import completion
from jobs.api.parsers import JSONParser
from jobs.api.views import SurfaceView, base_url, request_account, request_base_url, wait_slot
from jobs.api.ximilar import errors, params, payloads, schema
from jobs.errors import InvalidRequest
from jobs.models import Job
from jobs.ownership import owned
from jobs.submission import Submission, inspect_image, read_image, submit

REQUESTS_PAGE_SIZE = 20


class XimilarView(SurfaceView):
    """Ximilar's surface: JSON bodies (the API's parser: a body nested too deeply is a 400, not a
    500), `Authorization: Token <key>`, Ximilar-shaped errors."""

    parser_classes = [JSONParser]
    surface_errors = staticmethod(errors.exception_handler)
    auth_scheme = "Token"


def submit_upscale(request: Request, options: params.Options, *, asynchronous: bool = False):
    """The image read, then one charged precise job carrying the options and what the
    answers need (the record to echo, the request and processing ids)."""
    fields = {"imageUrl": options.image_url} if options.image_url else {"imageBase64": options.image_base64}
    image = read_image(fields, account=request_account(request))
    info = inspect_image(image)
    ximilar = {
        "endpoint": f"upscale_{options.factor}x",
        "mode": options.mode,
        "model_type": options.model_type,
        "image_format": options.image_format,
        "image_quality": options.image_quality,
        "tune_colors": options.tune_colors,
        "record": options.record,
        "request_id": str(uuid.uuid4()),
        "proc_id": str(uuid.uuid4()),
        "asynchronous": asynchronous,
    }
    submission = Submission(
        "precise",
        {**options.engine_fields(), "ximilar": ximilar},
        options.webhook,
        surface=Job.Surface.XIMILAR,
        base_url=request_base_url(request),
        output_format=options.output_format(info.has_alpha),
        output_quality=options.image_quality,
        output_ttl_seconds=params.OUTPUT_TTL_SECONDS,
        webhook_headers=options.webhook_headers,
        held=not asynchronous,  # the synchronous endpoint answers when the job is done
    )
    return submit(request_account(request), submission, image)


class UpscaleView(XimilarView):
    rate_scope = "submit"

    def initial(self, request, *args, **kwargs):
        # An unknown scale is a 404 whoever asks, before the key is checked.
        if kwargs.get("scale") not in params.SCALES:
            raise errors.UnknownEndpoint(request.path)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="ximilar_upscale",
        summary="Upscale one image 2x, 4x or 8x (Ximilar); answers when it is done",
        description="Answers when the job has ended; after SYNC_WAIT_MAX_SECONDS a 504 whose record carries the "
        "job's _id (the job goes on: GET /account/v2/request/{_id}).",
        parameters=[OpenApiParameter("scale", str, OpenApiParameter.PATH, enum=list(params.SCALES))],
        request=schema.XimilarUpscaleRequestSerializer,
        responses={200: schema.XimilarAnswerSerializer, **schema.ERRORS},
        tags=["ximilar"],
    )
    def post(self, request: Request, scale: str) -> Response:
        with wait_slot():  # else 503, before anything is read or charged
            options = params.parse(request.data, params.SCALES[scale])
            job = submit_upscale(request, options)
            completion.wait_for([job.id], settings.SYNC_WAIT_MAX_SECONDS)
        job.refresh_from_db()
        code, body = payloads.answer(job, base_url(request))
        return Response(body, status=code)


def _own(request: Request, request_id: str) -> Job:
    message = f"No request with id {request_id!r} for this account."
    return owned(Job, request_account(request), request_id, message=message, surface=Job.Surface.XIMILAR)


class RequestsView(XimilarView):
    def initial(self, request, *args, **kwargs):
        self.rate_scope = "submit" if request.method == "POST" else "status"
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="ximilar_request_create",
        summary="Submit an asynchronous upscale (Ximilar's asynchronous requests); answers at once",
        request=schema.XimilarAsyncRequestSerializer,
        responses={200: schema.XimilarRequestSerializer, **schema.ERRORS},
        tags=["ximilar"],
    )
    def post(self, request: Request) -> Response:
        job = submit_upscale(request, params.parse_request(request.data), asynchronous=True)
        return Response({"id": str(job.id), "status": "CREATED", "type": params.REQUEST_TYPE})

    @extend_schema(
        operation_id="ximilar_request_list",
        summary="The account's upscaler requests, newest first (20 a page)",
        parameters=[
            OpenApiParameter("page", int),
            OpenApiParameter("type", str, enum=[params.REQUEST_TYPE]),
            OpenApiParameter("status", str, enum=["CREATED", "PROCESSING", "DONE"]),
        ],
        responses={200: schema.XimilarRequestListSerializer, **schema.READ_ERRORS},
        tags=["ximilar"],
    )
    def get(self, request: Request) -> Response:
        jobs = Job.objects.filter(account=request_account(request), surface=Job.Surface.XIMILAR).order_by("-created_at")
        wanted_type = request.query_params.get("type")
        if wanted_type not in (None, params.REQUEST_TYPE):
            jobs = jobs.none()
        wanted_status = request.query_params.get("status")
        if wanted_status is not None:
            statuses = [job_status for job_status, name in payloads.REQUEST_STATUS.items() if name == wanted_status]
            jobs = jobs.filter(status__in=statuses)
        try:
            number = int(request.query_params.get("page", "1"))
            page = Paginator(jobs, REQUESTS_PAGE_SIZE).page(number)
        except (ValueError, EmptyPage):
            raise InvalidRequest("page must be a page number from 1 to the last page.") from None
        root = base_url(request)

        def link(n: int) -> str:
            query = request.query_params.copy()
            query["page"] = str(n)
            return f"{root}{request.path}?{query.urlencode()}"

        return Response(
            {
                "count": page.paginator.count,
                "next": link(page.next_page_number()) if page.has_next() else None,
                "previous": link(page.previous_page_number()) if page.has_previous() else None,
                "results": [payloads.request(job, root, with_response=False) for job in page],
            }
        )


class UserView(XimilarView):
    @extend_schema(
        operation_id="ximilar_user",
        summary="The key's account: its id, owner's email and credits (Ximilar's user details)",
        responses={200: schema.XimilarUserSerializer, **schema.ACCOUNT_ERRORS},
        tags=["ximilar"],
    )
    def get(self, request: Request) -> Response:
        account = request_account(request)
        account.refresh_from_db(fields=["balance"])
        owner = account.owners.select_related("user").order_by("created_at", "pk").first()
        return Response(payloads.user(account, owner.user.email if owner else ""))


def _request_view(name: str, summary: str, with_response: bool):
    @extend_schema(
        operation_id=f"ximilar_{name}",
        summary=summary,
        responses={200: schema.XimilarRequestSerializer, **schema.READ_ERRORS},
        tags=["ximilar"],
    )
    def get(self, request: Request, request_id: str) -> Response:
        job = _own(request, request_id)
        return Response(payloads.request(job, base_url(request), with_response=with_response))

    return type(f"{name.title().replace('_', '')}View", (XimilarView,), {"get": get})


RequestView = _request_view(
    "request", "An asynchronous request: its status and, once DONE, the synchronous endpoint's answer", True
)
RequestStatusView = _request_view(
    "request_status", "An asynchronous request's status: CREATED, PROCESSING or DONE", False
)
