"""APIXO's endpoints. Thin: the body is checked in params.py, the job goes through
jobs/submission.py, the answers are shaped by payloads.py; errors take APIXO's envelope in
errors.py."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.api.apixo import errors, params, payloads, schema
from jobs.api.parsers import JSONParser
from jobs.api.views import SurfaceView, base_url, request_account, request_base_url
from jobs.errors import InvalidRequest, ModelNotInstalled
from jobs.model_catalog import UnknownModel
from jobs.models import Job
from jobs.ownership import owned
from jobs.submission import Submission, read_and_submit

MODEL_PARAMETER = OpenApiParameter(
    "model", str, OpenApiParameter.PATH, enum=[params.MODEL_ID], description="APIXO's model id"
)


class ApixoView(SurfaceView):
    """APIXO's surface: JSON bodies, answers and errors in its envelope."""

    parser_classes = [JSONParser]
    surface_errors = staticmethod(errors.exception_handler)

    def check_model(self, model: str) -> None:
        if model != params.MODEL_ID:
            raise errors.UnknownModel(f"Model not found: {model!r}. This deployment serves {params.MODEL_ID!r}.")


def submission(task: params.Task, base: str) -> Submission:
    """An ordinary precise job whose output's long side is the tier's. An image that cannot
    be read is accepted as a task that fails (ImageFormatIncorrect), as at APIXO."""
    fields = {
        "imageUrl": task.image_url,
        "inputImageType": "universal",
        "resolution": task.resolution,
        "targetLongSide": task.long_side,
    }
    if settings.APIXO_MODEL:
        fields["model"] = settings.APIXO_MODEL
    return Submission(
        "precise",
        fields,
        webhook=task.callback_url,
        surface=Job.Surface.APIXO,
        base_url=base,
        output_format=task.output_format,
        defer_image_errors=True,
    )


class GenerateTaskView(ApixoView):
    rate_scope = "submit"

    @extend_schema(
        operation_id="apixo_generate_task",
        summary="Submit an image upscaling task (APIXO)",
        description="The output's long side is 2048, 4096 or 8192 pixels (2k, 4k, 8k), the aspect ratio kept. "
        "Poll GET /api/v1/statusTask/image-upscaler?taskId=..., or with request_type callback the final status "
        "answer is POSTed to callback_url.",
        parameters=[MODEL_PARAMETER],
        request=schema.ApixoGenerateRequestSerializer,
        responses={200: schema.SUBMIT_ANSWER, **schema.ERRORS},
        tags=["apixo"],
    )
    def post(self, request: Request, model: str) -> Response:
        self.check_model(model)
        task = params.parse(request.data)
        account = request_account(request)
        try:
            job = read_and_submit(account, submission(task, request_base_url(request)), {"imageUrl": task.image_url})
        except UnknownModel as exc:  # the operator's APIXO_MODEL, not the client's request
            raise ModelNotInstalled(f"APIXO_MODEL cannot be used here: {exc.message}", mode="precise") from None
        return Response(payloads.envelope({"taskId": str(job.id)}))


class CurrentBalanceView(ApixoView):
    """APIXO's balance (its own MCP server's `apixo_get_balance` calls it): `data` is the
    account's balance in credits, where APIXO's is a number of US dollars."""

    @extend_schema(
        operation_id="apixo_current_balance",
        summary="The balance of the key's account (APIXO)",
        responses={200: schema.BALANCE_ANSWER, **schema.ACCOUNT_ERRORS},
        tags=["apixo"],
    )
    def get(self, request: Request) -> Response:
        account = request_account(request)
        account.refresh_from_db(fields=["balance"])
        return Response(payloads.envelope(account.balance))


class StatusTaskView(ApixoView):
    @extend_schema(
        operation_id="apixo_status_task",
        summary="A task's state and result (APIXO)",
        parameters=[MODEL_PARAMETER, OpenApiParameter("taskId", str, required=True, description="From generateTask")],
        responses={200: schema.STATUS_ANSWER, **schema.READ_ERRORS},
        tags=["apixo"],
    )
    def get(self, request: Request, model: str) -> Response:
        self.check_model(model)
        task_id = request.query_params.get("taskId", "").strip()
        if not task_id:
            raise InvalidRequest(params.missing("taskId"), field="taskId")
        message = f"Task not found: {task_id!r}."
        job = owned(Job, request_account(request), task_id, message=message, surface=Job.Surface.APIXO)
        return Response(payloads.status(job, base_url(request)))
