"""Serves output files from local storage behind signed, expiring URLs."""

from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse

from jobs import storage


def signed_file(request, name: str):
    problem = storage.check_signature(name, request.GET.get("expires"), request.GET.get("signature"))
    if problem == "expired":
        return HttpResponse("This link has expired.", status=410, content_type="text/plain")
    if problem or storage.is_s3() or not default_storage.exists(name):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(default_storage.open(name, "rb"), content_type=content_type)
