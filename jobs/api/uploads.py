"""Reading multipart uploads with bounded memory and disk, on every surface that takes them
(Upsampler's multipart submits, Maskr's uploads, the web app's playground and its quote).

An upload handler placed before Django's own counts bytes as they arrive: a request whose
Content-Length is over the limit is refused before a byte of its body is read, and a file
that grows past MAX_INPUT_BYTES is refused (single upload) or dropped while reading, its
remaining bytes never stored anywhere (batch: that file fails alone). A body without a
Content-Length (chunked) is not read at all: Django reads a request body only up to its
declared length."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.request import Request

# A single upload's body may exceed its file by this much: multipart framing, and form
# fields Maskr ignores.
FRAMING_BYTES = 64 * 1024


class UploadTooLarge(Exception):
    """Over a limit: `scope` "file" (one file, or a single upload's whole body), "batch"
    (a batch's whole body) or "request" (a whole body that may hold more than one file's
    worth of fields)."""

    def __init__(self, limit_bytes: int, scope: str = "file"):
        super().__init__(f"{scope} over {limit_bytes} bytes")
        self.limit_bytes = limit_bytes
        self.scope = scope


class TooManyFiles(Exception):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} files")
        self.limit = limit


@dataclass(frozen=True)
class OversizedFile:
    """Stands in, in upload order, for a batch file that was over the limit: its bytes were
    dropped while it was read."""

    name: str
    limit_bytes: int

    def close(self) -> None:
        pass


class LimitedUploadHandler(FileUploadHandler):
    """Counts each file's bytes and the files of `field`; passes chunks on to the next
    handlers (Django's memory and temporary-file handlers) only while under the limits.
    `batch`: a file over the limit is dropped (an OversizedFile in its place), not refused,
    and the body's limit is the batch's."""

    def __init__(
        self,
        request,
        *,
        field: str,
        max_request_bytes: int,
        max_file_bytes: int,
        max_files: int | None = None,
        batch: bool = False,
        body_scope: str | None = None,
    ):
        super().__init__(request)
        self.field = field
        self.max_request_bytes, self.max_file_bytes = max_request_bytes, max_file_bytes
        self.max_files, self.batch = max_files, batch
        # What a refusal from the Content-Length names (UploadTooLarge.scope).
        self.body_scope = body_scope or ("batch" if batch else "file")
        self.files_seen = 0
        self.received = 0
        self.dropping = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.max_request_bytes:
            raise UploadTooLarge(self.max_request_bytes, self.body_scope)
        return None  # parse as usual

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received, self.dropping = 0, False
        if field_name == self.field:
            self.files_seen += 1
            if self.max_files is not None and self.files_seen > self.max_files:
                raise TooManyFiles(self.max_files)

    def receive_data_chunk(self, raw_data, start):
        if self.dropping:
            return None
        self.received += len(raw_data)
        if self.received <= self.max_file_bytes:
            return raw_data
        if not (self.batch and self.field_name == self.field):
            raise UploadTooLarge(self.max_file_bytes)
        # Free what the next handlers hold of this file, and keep nothing more of it.
        self.dropping = True
        for handler in self._following():
            if hasattr(handler, "file"):
                handler.file.close()
        return None

    def file_complete(self, file_size):
        if self.dropping:
            return OversizedFile(self.file_name or "", self.max_file_bytes)
        return None  # the next handler hands the file over

    def _following(self) -> list:
        assert self.request is not None  # Django gives upload handlers the request
        handlers = list(self.request.upload_handlers)
        return handlers[handlers.index(self) + 1 :]


def limit(request: HttpRequest, field: str, **limits) -> None:
    """Read this request's multipart body (when something reads it) under `limits` (see
    LimitedUploadHandler). Call before anything reads the body."""
    handler = LimitedUploadHandler(request, field=field, **limits)
    request.upload_handlers = [handler, *request.upload_handlers]


def read_files(request: Request, field: str, **limits) -> list:
    """The uploaded files of `field`, in upload order, read under `limits` (see
    LimitedUploadHandler). A body that is not multipart has none. Raises UploadTooLarge or
    TooManyFiles while reading."""
    limit(request._request, field, **limits)
    try:
        files = request.FILES
    except UnsupportedMediaType:
        return []  # what FastAPI says of it: the file field is missing
    return files.getlist(field)


Refusal = Callable[[HttpRequest, "UploadTooLarge | TooManyFiles"], HttpResponse]


def limited_uploads(refused: Refusal, field: str, **limits) -> Callable[[Any], Any]:
    """For plain Django views (the web app's forms), whose body the CSRF middleware reads
    before the view runs: UploadLimitMiddleware reads it first, under `limits`, and answers
    `refused(request, exc)` when it is over them."""

    def mark(view):
        view.upload_limits = (field, limits, refused)
        return view

    return mark


def _refused(request: HttpRequest, exc: UploadTooLarge | TooManyFiles) -> HttpResponse:
    return HttpResponse(
        f"The request body is larger than {exc_limit(exc) // 2**20} MB, the largest this page takes.\n",
        status=413,
        content_type="text/plain; charset=utf-8",
    )


def exc_limit(exc: UploadTooLarge | TooManyFiles) -> int:
    return exc.limit_bytes if isinstance(exc, UploadTooLarge) else 0


class UploadLimitMiddleware:
    """Reads the multipart body of a view marked with `limited_uploads` under its limits,
    before any later middleware (CSRF) reads it without them. Goes before CsrfViewMiddleware.
    Every other form view (sign-in, sign-up, the admin...) takes bodies of at most
    DATA_UPLOAD_MAX_MEMORY_SIZE, files included, as JSON bodies; the API's views read their
    own bodies (with their own limits, or none for a JSON-only surface)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or not request.content_type.startswith("multipart/"):
            return None
        marked = getattr(view_func, "upload_limits", None)
        if marked is None:
            if hasattr(view_func, "cls") or getattr(view_func, "csrf_exempt", False):
                return None  # an API view: it reads its body itself, if at all
            limit_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            marked = ("", {"max_request_bytes": limit_bytes, "max_file_bytes": limit_bytes}, _refused)
        field, limits, refused = marked
        limit(request, field, **limits)
        try:
            request.POST  # noqa: B018 - parse now, under the limits
        except (UploadTooLarge, TooManyFiles) as exc:
            return refused(request, exc)
        return None
