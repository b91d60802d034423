"""Small JPEG previews of a job's input or output, read from storage (local or S3) and
downsized on the web tier, for the admin and the web app."""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from PIL import Image, UnidentifiedImageError

from inference.imageio import ImageError, probe_image

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = (320, 320)
# The stored file each thumbnail is made from. The output thumbnail uses the JPEG, which
# Pillow can decode at reduced size (draft mode) even for an 80 MP result.
THUMBNAIL_SOURCES = {"input": "input_name", "output": "compressed_image_name"}


class TooLargeToPreview(Exception):
    """Decoding the file would cost the web tier more than THUMBNAIL_MAX_DECODE_PIXELS."""


def make_thumbnail(name: str, size: tuple[int, int] = THUMBNAIL_SIZE) -> bytes:
    """Raises FileNotFoundError, TooLargeToPreview, or Pillow's errors for an unreadable file.
    A JPEG is decoded at an eighth of its size at most; a PNG or WebP has no reduced decode,
    so one over THUMBNAIL_MAX_DECODE_PIXELS gets no preview (its header says so before
    anything is decoded)."""
    with default_storage.open(name, "rb") as handle:
        head = handle.read()
        if not head.startswith(b"\xff\xd8"):  # not a JPEG
            try:
                info = probe_image(head, max_pixels=settings.MAX_INPUT_PIXELS)
            except ImageError as exc:
                raise OSError(str(exc)) from None
            if info.pixels > settings.THUMBNAIL_MAX_DECODE_PIXELS:
                raise TooLargeToPreview(name)
        image: Image.Image = Image.open(io.BytesIO(head))
        image.draft("RGB", size)  # JPEG: decode at 1/2, 1/4 or 1/8 size
        image.thumbnail(size)
        if image.mode not in ("RGB", "L"):
            background = Image.new("RGB", image.size, (255, 255, 255))
            rgba = image.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            image = background
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def thumbnail_response(job, which: str) -> HttpResponse:
    """The JPEG preview of the job's "input" or "output" as a response; Http404 when there is
    no such file (deleted after its lifetime, gone from storage, unreadable)."""
    field = THUMBNAIL_SOURCES.get(which)
    if field is None:
        raise Http404("No such thumbnail.")
    name = getattr(job, field)
    if not name or job.files_deleted_at:
        raise Http404("No such file.")
    try:
        data = make_thumbnail(name)
    except FileNotFoundError:
        raise Http404("The file is gone from storage.") from None
    except TooLargeToPreview:
        raise Http404("The file is too large to preview.") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        log.warning("Could not make a thumbnail of %s", name, exc_info=True)
        raise Http404("The file is not a readable image.") from None
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response
