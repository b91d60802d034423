"""The account's jobs: the list with filters, a job's page (parameters, outputs while they
live, webhook deliveries and redelivery), its status as JSON for the progress bar, and its
files (the input, thumbnails) read from storage for the signed-in owner only."""

from __future__ import annotations

import logging
import mimetypes

from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from jobs import lifecycle, ratelimit
from jobs.api.serializers import status_payload
from jobs.errors import JobNotFound, RateLimited
from jobs.models import Batch, Job
from jobs.operators.thumbnails import thumbnail_response
from jobs.ownership import owned
from jobs.web import curl
from jobs.web.access import owner_file, owner_required
from jobs.web.forms import JobFilterForm
from jobs.web.pages import page, public_base_url, rate_key

log = logging.getLogger(__name__)

PAGE_SIZE = 20


def own_job(request, job_id) -> Job:
    """The signed-in account's job; any other id (another account's included) is a 404."""
    try:
        return owned(Job, request.account, job_id)
    except JobNotFound as exc:
        raise Http404(exc.message) from None


@owner_required
def job_list(request):
    filters = JobFilterForm(request.GET or None)
    jobs = filters.filter(Job.objects.filter(account=request.account).order_by("-created_at"), request.account)
    listed = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page_obj": listed,
        "filters": filters,
        "query": query.urlencode(),
        "filtered": any(request.GET.get(name) for name in ("status", "mode", "surface", "batch")),
        "has_jobs": listed.paginator.count > 0 or Job.objects.filter(account=request.account).exists(),
        "batches": Batch.objects.filter(account=request.account).order_by("-created_at")[:20],
    }
    return page(request, "web/jobs.html", context, active="jobs")


@owner_required
def job_detail(request, job_id):
    job = own_job(request, job_id)
    deliveries = list(job.webhook_deliveries.order_by("created_at", "id"))
    params = [(name, value) for name, value in job.params.items() if name != "imageUrl"]
    context = {
        "job": job,
        "params": params,
        "deliveries": deliveries,
        "completed_deliveries": sum(1 for d in deliveries if d.completed_at),
        "outputs_live": job.outputs_live,
        "curl": curl.command(job, public_base_url(request)),
        "can_redeliver": job.redeliver_refusal is None,
        "waiting_for_delivery": request.GET.get("redelivery") == "queued",
    }
    return page(request, "web/job_detail.html", context, active="jobs")


@owner_required
def job_status(request, job_id):
    """The job's status payload (the API's) plus what the page draws: where the input is,
    and how many webhook attempts are recorded."""
    job = own_job(request, job_id)
    try:
        ratelimit.check(rate_key(request.account), "status")
    except RateLimited as exc:
        return JsonResponse({"error": exc.message}, status=429, headers={"Retry-After": str(exc.retry_after)})
    payload = status_payload(job, public_base_url(request))
    payload.update(
        inputUrl=reverse("web:job-input", args=[job.id]) if not job.files_deleted_at else None,
        outputsLive=job.outputs_live,
        # Attempts with an outcome: one being sent (claimed, not yet answered) is not counted.
        webhookDeliveries=job.webhook_deliveries.filter(completed_at__isnull=False).count(),
        queueSeconds=job.queue_seconds,
        processingSeconds=job.processing_seconds,
        balance=request.account.balance,
    )
    return JsonResponse(payload)


@owner_file
def job_input(request, job_id):
    """The input image, for the before/after comparison."""
    job = own_job(request, job_id)
    if job.files_deleted_at or not job.input_name:
        raise Http404("The input was deleted at the end of its retention period.")
    try:
        handle = default_storage.open(job.input_name, "rb")
    except FileNotFoundError:
        raise Http404("The input is gone from storage.") from None
    content_type = mimetypes.guess_type(job.input_name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@owner_file
def job_thumbnail(request, job_id, which: str):
    return thumbnail_response(own_job(request, job_id), which)


@require_POST
@owner_required
def redeliver(request, job_id):
    """Send the job's final payload to its webhook once more, through the webhook workers
    (recorded like any attempt)."""
    job = own_job(request, job_id)
    if job.redeliver_refusal:
        messages.error(request, job.redeliver_refusal)
    else:
        try:
            ratelimit.check(rate_key(request.account), "submit")
            lifecycle.redeliver(job)
        except RateLimited as exc:
            messages.error(request, f"Too many requests; try again in {exc.retry_after} seconds.")
        except Exception as exc:
            log.exception("Could not queue a webhook redelivery for job %s", job.id)
            messages.error(request, f"The delivery could not be queued ({type(exc).__name__}); try again shortly.")
        else:
            messages.success(request, "Redelivery queued: the new attempt appears below in a moment.")
            return redirect(f"{reverse('web:job', args=[job.id])}?redelivery=queued#deliveries")
    return redirect(reverse("web:job", args=[job.id]) + "#deliveries")


@require_POST
@owner_required
def cancel(request, job_id):
    job = own_job(request, job_id)
    if lifecycle.cancel(job):
        messages.success(request, f"Job canceled; its {job.credit_cost} credits were refunded.")
    else:
        job.refresh_from_db()
        messages.error(request, f"The job is {job.status}; only a job still waiting in the queue can be canceled.")
    return redirect("web:job", job_id=job.id)
