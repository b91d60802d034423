"""Decoding client images and encoding results. Torch-free: Pillow and NumPy only.

Only JPEG, PNG and WebP are opened, detected by content. EXIF orientation is applied,
the ICC profile is kept, truncated files and decompression bombs are refused with an
``ImageError`` whose message a client can act on.

Pillow has no 16-bit colour modes: it reads a 16-bit RGB(A) or grey+alpha PNG as 8-bit.
For those files the full samples are decoded too (``DecodedImage.pixels16``), and a result
that carries 16-bit colour samples keeps them in ``image.info[PIXELS16_KEY]``, which
``encode_png`` writes as a 16-bit PNG. 16-bit grey without alpha is Pillow's ``I;16``.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

from inference.errors import (
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    UnsupportedImageError,
)

__all__ = [
    "PIXELS16_KEY",
    "CorruptImageError",
    "DecodedImage",
    "ImageError",
    "ImageInfo",
    "ImageTooLargeError",
    "UnsupportedImageError",
    "decode_image",
    "COMPRESSED_FORMAT",
    "MAX_SIDE",
    "encode",
    "encode_jpeg",
    "encode_png",
    "encode_webp",
    "probe_image",
    "DEFAULT_QUALITY",
    "EXTENSIONS",
]

log = logging.getLogger(__name__)

# The quality JPEG and WebP outputs are encoded at unless a job asks for another (every
# surface's default, and the compressed JPEG's).
DEFAULT_QUALITY = 85

ACCEPTED_FORMATS = ["JPEG", "PNG", "WEBP"]
# The file extension of each accepted format (stored inputs, the curl of a job's upload).
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
DEFAULT_MAX_PIXELS = 50_000_000
# Where a PIL image carries its 16-bit samples (H x W x C uint16) when Pillow's own mode
# cannot hold them; encode_png writes them, everything else sees the 8-bit image.
PIXELS16_KEY = "inference.pixels16"

_ORIENTATION_TAG = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)


@dataclass
class DecodedImage:
    """A decoded, upright client image and what the output needs to restore."""

    image: Image.Image  # oriented; CMYK is converted to RGB
    width: int
    height: int
    format: str  # "JPEG" | "PNG" | "WEBP"
    icc_profile: bytes | None
    has_alpha: bool
    bit_depth: int  # 8 or 16
    mode: str  # Pillow's mode of the file as opened, before any conversion
    orientation: int = 1  # the EXIF orientation that was applied
    # For 16-bit files: every sample, oriented, H x W x C (C = 1, 2, 3 or 4, alpha last).
    pixels16: np.ndarray | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff_format(data: bytes) -> str:
    """A short name for what ``data`` looks like, for error messages."""
    head = data[:32]
    signatures = (
        (b"\xff\xd8\xff", "JPEG"),
        (_PNG_SIGNATURE, "PNG"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM", "BMP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"%PDF", "PDF"),
        (b"\x00\x00\x01\x00", "ICO"),
        (b"8BPS", "PSD"),
        (b"\xff\x0a", "JPEG XL"),
        (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    )
    for magic, name in signatures:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"mif1", b"msf1"):
            return "HEIC"
        return "MP4/ISO media"
    text = head.lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "SVG/XML"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    return "unknown format"


@dataclass(frozen=True)
class ImageInfo:
    """What the web tier needs to validate and price an image, read without decoding it."""

    width: int  # upright, after EXIF orientation
    height: int
    format: str  # "JPEG" | "PNG" | "WEBP"
    has_alpha: bool
    bit_depth: int  # 8 or 16
    mode: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise CorruptImageError("The image file is corrupt: it has no pixels.")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image is {width}x{height} pixels ({width * height / 1e6:.1f} MP); "
            f"send one of at most {max_pixels / 1e6:g} MP."
        )


def _open(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Open (not decode) a JPEG, PNG or WebP file and check its pixel count from the header.
    A WebP's size is read from its own header first: Pillow's WebP opener sets up libwebp's
    decoder, which allocates the whole canvas, before it checks the size."""
    if not data:
        raise CorruptImageError("The image file is empty.")
    detected = sniff_format(data)
    if detected == "WEBP":
        header = webp_header(data)
        _check_pixels(header.width, header.height, max_pixels)
    try:
        im = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"The image has too many pixels; send one of at most {max_pixels / 1e6:g} MP."
        ) from exc
    except Image.UnidentifiedImageError as exc:
        if detected in ("JPEG", "PNG", "WEBP"):
            raise CorruptImageError(
                f"The image file is truncated or corrupt: its {detected} header is unreadable."
            ) from exc
        raise UnsupportedImageError(f"The image is not a JPEG, PNG or WebP file (detected: {detected}).") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError(f"The image file is truncated or corrupt: {exc}.") from exc

    _check_pixels(*im.size, max_pixels)
    return im, detected


def probe_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Format, upright size and alpha of a client's image from its header, and a cheap check
    that the file is whole: PNG chunks and their checksums (no inflating), a JPEG decoded at
    1/8 scale, a WebP's RIFF chunks and VP8/VP8L/VP8X headers (Pillow is not involved: its
    decoder has no cheaper pass than a full decode, and a 38-byte lossless WebP can hold
    49 MP). Costs a fraction of ``decode_image`` in time and memory, so the web tier can
    refuse an over-size output before anything is decoded. Raises the same errors as
    ``decode_image``; a WebP whose compressed data is corrupt past its headers is found by
    ``decode_image`` only."""
    if data and sniff_format(data) == "WEBP":
        header = webp_header(data)
        _check_pixels(header.width, header.height, max_pixels)
        width, height = header.width, header.height
        if header.orientation in (5, 6, 7, 8):
            width, height = height, width
        mode = "RGBA" if header.has_alpha else "RGB"
        return ImageInfo(width, height, "WEBP", header.has_alpha, 8, mode)
    im, detected = _open(data, max_pixels)
    file_format = im.format or detected
    mode = im.mode
    width, height = im.size
    has_alpha = _has_alpha(im)
    try:
        # Pillow's PNG getexif() decodes the whole image when the eXIf chunk is not in the
        # header; read that chunk directly instead.
        orientation = _png_orientation(data) if file_format == "PNG" else _orientation(im)
        bit_depth = 16 if file_format == "PNG" and _png_header(data)[0] == 16 else 8
        if file_format == "PNG":
            Image.open(io.BytesIO(data), formats=["PNG"]).verify()  # must come straight after open
        else:
            if file_format == "JPEG":
                im.draft(im.mode, (max(im.width // 8, 1), max(im.height // 8, 1)))
            im.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"The image has too many pixels; send one of at most {max_pixels / 1e6:g} MP."
        ) from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError(f"The image file is truncated or corrupt: {exc}.") from exc
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(width, height, file_format, has_alpha, bit_depth, mode)


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode a client's JPEG, PNG or WebP file into an upright image.

    Raises ``UnsupportedImageError``, ``CorruptImageError`` or ``ImageTooLargeError``.
    """
    im, detected = _open(data, max_pixels)
    if getattr(im, "n_frames", 1) > 1:
        log.info("animated %s: using its first frame", im.format)

    file_format = im.format or detected
    mode = im.mode
    try:
        icc_profile = im.info.get("icc_profile") or None
        orientation = _orientation(im)
        im.load()
        pixels16 = _decode_png16(data, im) if file_format == "PNG" else None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"The image has too many pixels; send one of at most {max_pixels / 1e6:g} MP."
        ) from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError(f"The image file is truncated or corrupt: {exc}.") from exc

    if im.mode == "CMYK":
        im, icc_profile = _cmyk_to_rgb(im, icc_profile)
    has_alpha = _has_alpha(im)
    bit_depth = 16 if pixels16 is not None else 8
    im = _orient_image(im, orientation)
    if pixels16 is not None:
        pixels16 = _orient_array(pixels16, orientation)
    return DecodedImage(
        image=im,
        width=im.width,
        height=im.height,
        format=file_format,
        icc_profile=icc_profile,
        has_alpha=has_alpha,
        bit_depth=bit_depth,
        mode=mode,
        orientation=orientation,
        pixels16=pixels16,
    )


def _has_alpha(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        return True
    return "transparency" in im.info and im.mode in ("P", "L", "RGB", "I;16", "1")


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except (TypeError, ValueError, SyntaxError, struct.error):
        return 1  # unreadable EXIF is not worth refusing the image for
    return value if 1 <= value <= 8 else 1


def _png_orientation(data: bytes) -> int:
    """The EXIF orientation of a PNG from its eXIf chunk, found by walking the chunk list."""
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"eXIf":
            exif = Image.Exif()
            try:
                exif.load(b"Exif\x00\x00" + data[offset + 8 : offset + 8 + length])
                value = int(exif.get(_ORIENTATION_TAG, 1))
            except (TypeError, ValueError, SyntaxError, struct.error):
                return 1
            return value if 1 <= value <= 8 else 1
        if kind == b"IEND":
            break
        offset += 12 + length
    return 1


_TRANSPOSE = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def _orient_image(im: Image.Image, orientation: int) -> Image.Image:
    for method in _TRANSPOSE.get(orientation, []):
        info = im.info
        im = im.transpose(method)
        im.info = dict(info)
    return im


def _orient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """The same transforms as ``_orient_image``, on an H x W x C array."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](array))


def _cmyk_to_rgb(im: Image.Image, icc_profile: bytes | None) -> tuple[Image.Image, None]:
    """CMYK JPEGs become sRGB; with their profile when it can be used."""
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            target = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, source, target, outputMode="RGB")
            if converted is not None:  # None only when asked to convert in place
                return converted, None
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.info("CMYK image with an unusable ICC profile: converting without it")
    return im.convert("RGB"), None


# --- WebP headers ---------------------------------------------------------------------


@dataclass(frozen=True)
class WebPHeader:
    width: int  # the canvas, as stored (before EXIF orientation)
    height: int
    has_alpha: bool
    animated: bool
    orientation: int  # from the EXIF chunk; 1 without one


_VP8X_ALPHA, _VP8X_ANIMATION = 0x10, 0x02


def webp_header(data: bytes) -> WebPHeader:
    """A WebP file's size, alpha and orientation from its RIFF chunks and its VP8 (lossy),
    VP8L (lossless) or VP8X (extended) header, as libwebp's WebPGetFeatures reads them,
    without decoding a pixel. The chunk list must be whole (a truncated file is refused) and
    a still image's bitstream must have the canvas's size. Raises CorruptImageError."""

    def corrupt(why: str) -> CorruptImageError:
        return CorruptImageError(f"The image file is truncated or corrupt: its WEBP {why}.")

    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise corrupt("header is unreadable")
    end = 8 + struct.unpack("<I", data[4:8])[0]
    if end > len(data):
        raise corrupt(f"file is {len(data)} bytes long where its header says {end}")
    chunks: list[tuple[bytes, bytes]] = []
    offset = 12
    while offset + 8 <= end:
        kind, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if offset + 8 + size > end:
            raise corrupt(f"{kind.decode('latin-1')!r} chunk runs past the end of the file")
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + (size & 1)
    if not chunks:
        raise corrupt("file has no image data")

    def bitstream(kind: bytes, payload: bytes) -> tuple[int, int, bool]:
        if kind == b"VP8 ":
            if len(payload) < 10 or payload[0] & 1 or payload[3:6] != b"\x9d\x01\x2a":
                raise corrupt("VP8 header is unreadable")
            first_partition = int.from_bytes(payload[:3], "little") >> 5
            if 10 + first_partition > len(payload):
                raise corrupt("VP8 data is truncated")
            width, height = struct.unpack("<HH", payload[6:10])
            return width & 0x3FFF, height & 0x3FFF, False
        if len(payload) < 5 or payload[0] != 0x2F:
            raise corrupt("VP8L header is unreadable")
        bits = struct.unpack("<I", payload[1:5])[0]
        if bits >> 29:
            raise corrupt("VP8L version is unknown")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)

    first_kind, first = chunks[0]
    if first_kind in (b"VP8 ", b"VP8L"):
        width, height, alpha = bitstream(first_kind, first)
        return WebPHeader(width, height, alpha, False, 1)
    if first_kind != b"VP8X" or len(first) < 10:
        raise corrupt("header is unreadable")
    flags = first[0]
    width = 1 + int.from_bytes(first[4:7], "little")
    height = 1 + int.from_bytes(first[7:10], "little")
    animated = bool(flags & _VP8X_ANIMATION)
    kinds = {kind for kind, _ in chunks}
    if animated:
        if b"ANMF" not in kinds:
            raise corrupt("animation has no frames")
    else:
        frames = [(kind, payload) for kind, payload in chunks if kind in (b"VP8 ", b"VP8L")]
        if not frames:
            raise corrupt("file has no image data")
        if bitstream(*frames[0])[:2] != (width, height):
            raise corrupt("image data does not have the canvas's size")
    orientation = 1
    exif = next((payload for kind, payload in chunks if kind == b"EXIF"), None)
    if exif is not None:  # Pillow reads the chunk whatever the flags say
        try:
            tags = Image.Exif()
            tags.load(exif)
            value = int(tags.get(_ORIENTATION_TAG, 1))
        except (TypeError, ValueError, SyntaxError, struct.error):
            value = 1  # unreadable EXIF is not worth refusing the image for
        orientation = value if 1 <= value <= 8 else 1
    return WebPHeader(width, height, bool(flags & _VP8X_ALPHA), animated, orientation)


# --- 16-bit PNG ----------------------------------------------------------------------


def _png_header(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise SyntaxError("missing IHDR")
    return data[24], data[25]


def _decode_png16(data: bytes, im: Image.Image) -> np.ndarray | None:
    """All 16-bit samples of a PNG, H x W x C, or None when the file is not 16-bit.

    Pillow unpacks 16-bit colour to 8 bits, but its PNG decoder un-filters the rows by the
    true pixel size whatever the "rawmode" picks from them. Decoding once keeping the high
    bytes and once keeping the low bytes (big- vs little-endian rawmodes) yields both.
    """
    depth, colour_type = _png_header(data)
    if depth != 16:
        return None
    if colour_type == 0:  # grey: Pillow's I;16 holds it all
        grey = np.asarray(im, dtype=np.uint16)[..., None]
        if "transparency" in im.info:
            alpha = np.where(grey[..., 0] == im.info["transparency"], 0, 65535)
            return np.dstack([grey, alpha.astype(np.uint16)])
        return grey
    if colour_type == 4:  # grey + alpha: the 8-bit RGBA rawmode sees all four bytes
        raw = _redecode(data, "RGBA", "RGBA")
        return (raw[..., 0::2].astype(np.uint16) << 8) | raw[..., 1::2]
    if colour_type in (2, 6):
        mode, rawmode = ("RGB", "RGB;16") if colour_type == 2 else ("RGBA", "RGBA;16")
        high = _redecode(data, mode, rawmode + "B")
        low = _redecode(data, mode, rawmode + "L")
        samples = (high.astype(np.uint16) << 8) | low
        if colour_type == 2 and "transparency" in im.info:
            key = np.array(im.info["transparency"], dtype=np.uint16)
            alpha = np.where((samples == key).all(axis=-1), 0, 65535).astype(np.uint16)
            samples = np.dstack([samples, alpha])
        return samples
    return None


def _redecode(data: bytes, mode: str, rawmode: str) -> np.ndarray:
    im = Image.open(io.BytesIO(data), formats=["PNG"])
    if im.mode != mode or len(im.tile) != 1:
        raise SyntaxError("unexpected PNG layout")
    im.tile = [im.tile[0]._replace(args=rawmode)]
    im.load()
    return np.asarray(im)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _write_png16(samples: np.ndarray, icc_profile: bytes | None) -> bytes:
    """A 16-bit PNG of H x W x C samples (C: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)."""
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = samples.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    # Paeth filter on every row: vectorisable when encoding, and good on photographs.
    bpp = channels * 2
    raw = rows.astype(np.int16)
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    up = np.zeros_like(raw)
    up[1:] = raw[:-1]
    up_left = np.zeros_like(raw)
    up_left[1:, bpp:] = raw[:-1, :-bpp]
    estimate = left + up - up_left
    pa, pb, pc = np.abs(estimate - left), np.abs(estimate - up), np.abs(estimate - up_left)
    predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
    filtered = ((raw - predictor) & 0xFF).astype(np.uint8)
    body = np.hstack([np.full((height, 1), 4, dtype=np.uint8), filtered])
    out = [_PNG_SIGNATURE]
    out.append(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)))
    if icc_profile:
        out.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    out.append(_png_chunk(b"IDAT", zlib.compress(body.tobytes(), 6)))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def pixels16_of(image: Image.Image) -> np.ndarray | None:
    """The 16-bit samples a result image carries, when they still match the image."""
    samples = image.info.get(PIXELS16_KEY)
    if not isinstance(samples, np.ndarray) or samples.ndim != 3:
        return None
    if samples.shape[:2] != (image.height, image.width):
        return None
    if samples.shape[2] != len(image.getbands()):
        return None
    return samples


# --- encoding ------------------------------------------------------------------------


def encode_png(image: Image.Image, icc_profile: bytes | None = None) -> bytes:
    """The image as a PNG, 16-bit where it carries 16-bit samples, with its ICC profile.

    ``icc_profile=None`` falls back to the profile in ``image.info``, if any.
    """
    profile = icc_profile or image.info.get("icc_profile") or None
    samples = pixels16_of(image)
    if samples is not None:
        return _write_png16(samples, profile)
    buffer = io.BytesIO()
    options: dict[str, object] = {"compress_level": 6}
    if profile:
        options["icc_profile"] = profile
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def encode_jpeg(image: Image.Image, icc_profile: bytes | None = None, quality: int = DEFAULT_QUALITY) -> bytes:
    """The image as a baseline JPEG: alpha flattened onto white, 16-bit reduced to 8-bit."""
    profile = icc_profile or image.info.get("icc_profile") or None
    flat = _flatten_for_jpeg(image)
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality}
    if profile:
        options["icc_profile"] = profile
    flat.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _to_8bit(samples: np.ndarray) -> np.ndarray:
    """16-bit samples to 8-bit, rounding (65535 -> 255)."""
    return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)


_FLAT_MODES = {"1": "L", "La": "LA", "P": "RGB", "PA": "RGBA", "RGBa": "RGBA", "CMYK": "RGB"}


def _as_8bit_array(image: Image.Image) -> np.ndarray:
    """H x W x C uint8 samples (C: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), 16-bit rounded down
    to 8, palettes expanded."""
    samples = pixels16_of(image)
    if samples is not None:
        return _to_8bit(samples)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _to_8bit(np.clip(np.asarray(image, dtype=np.int64), 0, 65535))[..., None]
    wanted = _FLAT_MODES.get(image.mode, image.mode)
    if "transparency" in image.info and wanted in ("L", "RGB"):
        wanted += "A"
    if wanted not in ("L", "LA", "RGB", "RGBA"):
        wanted = "RGBA"
    if wanted != image.mode:
        image = image.convert(wanted)
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def _flatten_for_jpeg(image: Image.Image) -> Image.Image:
    array = _as_8bit_array(image)
    if array.shape[2] in (2, 4):
        colour = array[..., :-1].astype(np.float32)
        alpha = array[..., -1:].astype(np.float32) / 255.0
        array = np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if array.shape[2] == 1:
        return Image.fromarray(array[..., 0], mode="L")
    return Image.fromarray(np.ascontiguousarray(array), mode="RGB")


def encode_webp(image: Image.Image, icc_profile: bytes | None = None, quality: int = DEFAULT_QUALITY) -> bytes:
    """The image as a lossy WebP at ``quality``: alpha kept, grey stored as RGB (WebP has no
    grey mode), 16-bit reduced to 8-bit."""
    profile = icc_profile or image.info.get("icc_profile") or None
    array = _as_8bit_array(image)
    if array.shape[2] in (1, 2):
        grey = np.repeat(array[..., :1], 3, axis=2)
        array = np.concatenate([grey, array[..., 1:]], axis=2) if array.shape[2] == 2 else grey
    mode = "RGBA" if array.shape[2] == 4 else "RGB"
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality, "method": 4}
    if profile:
        options["icc_profile"] = profile
    Image.fromarray(np.ascontiguousarray(array), mode=mode).save(buffer, format="WEBP", **options)
    return buffer.getvalue()


# Output formats as the APIs name them -> (encoder, file extension). WebP and JPEG cap each
# side (libwebp at 16383 px, JPEG at 65535 px); the web tier refuses larger outputs up front.
# The most pixels a side each encoder can write (libwebp's, libjpeg's, PNG's). The web tier
# refuses at submit an output that its format, or the compressed copy, cannot hold.
MAX_SIDE = {"webp": 16383, "jpg": 65535, "png": 2**31 - 1}
# Every job's second output (compressedImageUrl) is a JPEG.
COMPRESSED_FORMAT = "jpg"


def encode(image: Image.Image, fmt: str, icc_profile: bytes | None = None, quality: int = DEFAULT_QUALITY) -> bytes:
    """The image in ``fmt`` ("png", "jpg" or "webp"); ``quality`` is used by jpg and webp."""
    if fmt == "png":
        return encode_png(image, icc_profile)
    if fmt == "jpg":
        return encode_jpeg(image, icc_profile, quality=quality)
    if fmt == "webp":
        return encode_webp(image, icc_profile, quality=quality)
    raise ValueError(f"Unknown output format {fmt!r}; expected png, jpg or webp.")
