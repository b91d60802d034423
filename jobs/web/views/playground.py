"""The playground: try an upscale from the browser. It submits through the API's path
(jobs.submission: read_image, submit) as the web surface, so the price, the charge, the
limits and the refusals are the API's; a refusal becomes the form's error."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import pricing
from inference.imageio import ImageInfo
from inference.sizing import effective_factor
from jobs import ratelimit
from jobs.api.serializers import INPUT_SERIALIZERS
from jobs.api.uploads import FRAMING_BYTES, limited_uploads
from jobs.errors import DomainError, ImageTooLarge, InvalidRequest, RateLimited
from jobs.models import Job
from jobs.submission import Submission, check_output_size, inspect_image, read_image, submit
from jobs.web import curl, options
from jobs.web.access import owner_required
from jobs.web.forms import PlaygroundForm, in_words
from jobs.web.pages import page, public_base_url, rate_key, request_base_url


def upload_refused(request, exc) -> HttpResponse:
    """A playground form over the upload limits, refused before its body is read."""
    context = {"message": ImageTooLarge(settings.MAX_INPUT_BYTES).message}
    return render(request, "web/upload_refused.html", context, status=413)


def quote_upload_refused(request, exc) -> JsonResponse:
    return JsonResponse({"error": ImageTooLarge(settings.MAX_INPUT_BYTES).message}, status=413)


# The form's body: one image and a few short fields.
UPLOAD_LIMITS = {
    "max_request_bytes": settings.MAX_INPUT_BYTES + FRAMING_BYTES,
    "max_file_bytes": settings.MAX_INPUT_BYTES,
}


def throttled_message(exc: RateLimited) -> str:
    return f"You are submitting faster than the limit allows; try again in {exc.retry_after} seconds."


@limited_uploads(upload_refused, "image", **UPLOAD_LIMITS)
@owner_required
def playground(request):
    if request.method == "POST":
        form = PlaygroundForm(request.POST, request.FILES)
        if form.is_valid():
            job = _submit(request, form)
            if job is not None:
                return redirect(f"{reverse('web:playground')}?job={job.id}")
        status = 429 if form.throttled else 400
        return _render(request, form, None, status=status)

    job = None
    job_id = request.GET.get("job")
    if job_id:
        try:
            job = Job.objects.filter(pk=uuid.UUID(job_id), account=request.account).first()
        except ValueError:
            job = None
    return _render(request, PlaygroundForm(initial=_initial(job)), job)


def _submit(request, form: PlaygroundForm) -> Job | None:
    account = request.account
    validated = form.validated
    try:
        ratelimit.check(rate_key(account), "submit")
        image = read_image(validated, form.upload, account=account)
        submission = Submission(
            form.mode,
            validated,
            form.webhook,
            surface=Job.Surface.WEB,
            base_url=request_base_url(request),
            output_format=validated["outputFormat"],
            output_quality=validated["outputQuality"],
        )
        return submit(account, submission, image)
    except RateLimited as exc:
        form.errors["__all__"] = throttled_message(exc)
        form.throttled = True
    except DomainError as exc:
        form.add_domain_error(exc)
    return None


def _initial(job: Job | None) -> dict:
    """The form filled in as the shown job was, so a tweak and a resubmit is one click."""
    if job is None:
        return {}
    initial = {"mode": job.mode, "source": "url" if job.params.get("imageUrl") else "file"}
    for name, value in job.params.items():
        key = name if name in (*options.COMMON, "imageUrl") else f"{job.mode}-{name}"
        initial[key] = value
    initial["webhook"] = job.webhook_url
    return initial


def _render(request, form: PlaygroundForm, job: Job | None, status: int = 200):
    context = {
        "form": form,
        "job": job,
        "curl": curl.command(job, public_base_url(request)) if job else "",
        "outputs_live": job is not None and job.outputs_live,
        "max_input_mb": settings.MAX_INPUT_BYTES // 2**20,
    }
    return page(request, "web/playground.html", context, active="playground", status=status)


@limited_uploads(quote_upload_refused, "image", **UPLOAD_LIMITS)
@require_POST
@owner_required
def quote(request):
    """The price of a job before it is submitted, from the image's header: the browser sends
    the file once (or the URL), then the size it was told with each change of options."""
    account = request.account
    try:
        ratelimit.check(rate_key(account), "status")
        info = _quoted_image(request)
        mode = request.POST.get("mode", "precise")
        if mode not in INPUT_SERIALIZERS:
            raise InvalidRequest(f"mode must be one of {', '.join(INPUT_SERIALIZERS)}.")
        fields = {
            name: request.POST[name]
            for name in ("upscaleFactor", "outputFormat")
            if request.POST.get(name) not in (None, "")
        }
        serializer = INPUT_SERIALIZERS[mode](data=fields)
        if not serializer.is_valid():
            raise InvalidRequest(" ".join(str(e) for errors in serializer.errors.values() for e in errors))
        factor = effective_factor(mode, serializer.validated_data.get("upscaleFactor", 1.0))
        out_w, out_h = check_output_size(info, factor, serializer.validated_data["outputFormat"])
    except RateLimited as exc:
        return JsonResponse({"error": throttled_message(exc)}, status=429)
    except DomainError as exc:
        account.refresh_from_db(fields=["balance"])
        return JsonResponse({"error": in_words(exc.message), "balance": account.balance}, status=400)
    credits = pricing.price(mode, out_w, out_h, request.POST.get("model", ""))
    account.refresh_from_db(fields=["balance"])
    return JsonResponse(
        {
            "width": info.width,
            "height": info.height,
            "format": info.format,
            "outputWidth": out_w,
            "outputHeight": out_h,
            "credits": credits,
            "balance": account.balance,
            "enough": account.balance >= credits,
        }
    )


def _quoted_image(request) -> ImageInfo:
    upload = request.FILES.get("image")
    if upload is not None:
        if upload.size > settings.MAX_INPUT_BYTES:
            raise ImageTooLarge(settings.MAX_INPUT_BYTES, field="image")
        return inspect_image(upload.read())
    if request.POST.get("imageUrl"):
        return inspect_image(read_image({"imageUrl": request.POST["imageUrl"].strip()}, account=request.account))
    try:
        width, height = int(request.POST["width"]), int(request.POST["height"])
    except (KeyError, ValueError):
        raise InvalidRequest("Send the image, its URL, or the width and height it was quoted with.") from None
    if not (0 < width <= 10**6 and 0 < height <= 10**6):
        raise InvalidRequest("width and height must be whole numbers from 1 to 1000000.")
    # Only the size is priced; the submit reads the image itself again.
    return ImageInfo(width, height, request.POST.get("format", "PNG"), False, 8, "RGB")
