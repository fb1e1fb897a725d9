"""Decoding and re-encoding through Pillow, for the cases where pixels must be rewritten.

That is: formats browsers do not all show (TIFF, HEIC, AVIF), orientations that cannot be applied
losslessly, and colour profiles that must be applied to the pixels. Everything here works one frame
at a time; the pipeline (api.py) has checked the declared sizes (guard.py) before any decode. Also the
check every photo format makes of its own output (:func:`verify`).
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from intake.cleaning import guard
from intake.cleaning.contract import Outcome
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

#: What Pillow and its codec plugins raise on a damaged or hostile file (libavif and libheif raise
#: RuntimeError).
DECODE_ERRORS = (
    OSError,
    RuntimeError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)
#: Quality for pixels we have to re-encode: high, because this is evidence.
JPEG_QUALITY = 95
_PNG_MODES = {"1", "L", "LA", "I;16", "P", "RGB", "RGBA"}
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}
_ORIENTATION_TAG = 0x0112


def open_image(data: bytes, fmt: str) -> Image.Image:
    """Pillow's lazy view of ``data``, limited to the one format we detected: headers only."""
    try:
        return Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as error:
        raise Refused(Reason.TOO_MANY_PIXELS, megapixels=guard.MAX_JPEG_PIXELS // 1_000_000) from error
    except DECODE_ERRORS as error:
        raise Refused(Reason.DAMAGED) from error


def load(image: Image.Image) -> None:
    try:
        image.load()
    except DECODE_ERRORS as error:
        raise Refused(Reason.DAMAGED) from error


#: Greyscale deeper than 8 bits (16-bit PNG and TIFF, 32-bit TIFF).
DEEP_GREY = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def eight_bit_grey(image: Image.Image) -> Image.Image:
    """``image`` in 8-bit grey if it is deeper. Pillow's own conversion clips at 255 instead of
    scaling, which turns the picture white."""
    if image.mode not in DEEP_GREY:
        return image
    converted = image.convert("I").point(lambda value: value / 257).convert("L")
    converted.info = dict(image.info)
    if isinstance(image.info.get("transparency"), int):  # a tRNS grey level, scaled alike
        converted.info["transparency"] = min(255, round(image.info["transparency"] / 257))
    return converted


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def for_png(image: Image.Image) -> Image.Image:
    """``image`` in a mode PNG can hold, without metadata Pillow would otherwise copy along."""
    if image.mode in _PNG_MODES:
        converted = image
    elif image.mode in ("I", "I;16B", "I;16L", "I;16N"):
        converted = image.convert("I;16")  # 32-bit values are clipped to 0..65535
    elif image.mode == "F":
        converted = image.convert("L")
    else:
        converted = image.convert("RGBA" if has_alpha(image) else "RGB")
    converted.info = {k: v for k, v in image.info.items() if k == "transparency"}
    return converted


def encode_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image = for_png(image)
    extra = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.save(out, "PNG", **extra)
    return out.getvalue()


def for_jpeg(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "RGB", "CMYK"):
        return image
    if image.mode in ("1", "I;16", "I;16B", "I;16L", "I", "F"):
        return image.convert("L")
    return image.convert("RGB")


def encode_jpeg(image: Image.Image, qtables: object = None, subsampling: int = -1) -> bytes:
    """JPEG with no metadata. With ``qtables`` of the source, at the source's own quality."""
    out = io.BytesIO()
    image = for_jpeg(image)
    image.info = {}  # Pillow would copy a comment or profile from here
    options: dict[str, object] = {"subsampling": subsampling} if subsampling != -1 else {}
    if qtables:
        options["qtables"] = qtables
    else:
        options["quality"] = JPEG_QUALITY
    image.save(out, "JPEG", **options)
    return out.getvalue()


def decode_every_frame(data: bytes, fmt: str) -> None:
    """Refuse ``data`` unless every frame of it decodes: what we hand on must show."""
    image = open_image(data, fmt)
    for index in range(getattr(image, "n_frames", 1)):
        try:
            image.seek(index)
        except DECODE_ERRORS as error:
            raise Refused(Reason.DAMAGED) from error
        load(image)


def verify(outcome: Outcome, decode: bool = True) -> None:
    """Refuse a photo's output unless it opens (and, with ``decode``, every frame of it decodes);
    note the size it is shown at, its orientation tag applied."""
    data = outcome.file.getvalue() if isinstance(outcome.file, io.BytesIO) else outcome.file.read()
    fmt = _PILLOW_FORMATS[outcome.media_type]
    if decode:
        decode_every_frame(data, fmt)
    image = open_image(data, fmt)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise Refused(Reason.MALFORMED, format=fmt)
    if fmt == "JPEG" and image.getexif().get(_ORIENTATION_TAG, 1) in (5, 6, 7, 8):
        width, height = height, width
    outcome.width, outcome.height = width, height
