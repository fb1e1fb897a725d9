"""Public interface of the cleaning engine: ``sniff`` for the upload form, ``clean`` for the worker."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import magic

from intake.cleaning import gif, guard, heif, jpeg, labels, png, raster, tiff, webp
from intake.cleaning.errors import Refused
from intake.cleaning.outcome import Outcome
from intake.cleaning.reasons import Reason

#: Media types a witness may upload, decided by content (libmagic), never by name or declared type.
ACCEPTED_MEDIA_TYPES: frozenset[str] = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/tiff",
        "image/heic",
        "image/heif",
        "image/avif",
    }
)

#: What ``clean`` may produce: formats every current browser shows.
OUTPUT_MEDIA_TYPES: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    media_type: str  # what the output is: one every browser shows
    extension: str  # without the dot: "jpg", "png", "webp", "gif"
    removed: tuple[str, ...]  # kinds of metadata found and removed, never their values
    sha256: str  # hex digest of ``data``


def sniff(head: bytes) -> str:
    """The media type of a file judged by its first bytes (2 KiB or more are best)."""
    return magic.from_buffer(head, mime=True)


def clean(data: bytes) -> Cleaned:
    """``data`` with everything identifying removed, or :class:`Refused` with a reason's code.

    The format is decided by the file's own signature; the result decodes, shows the same picture
    the right way up, and carries nothing but what is needed to show it.
    """
    guard.check_input_size(data)
    cleaner = _cleaner_for(data)
    if cleaner is None:
        raise Refused(Reason.NOT_AN_IMAGE)
    try:
        outcome: Outcome = cleaner(data)
    except Refused:
        raise
    except (*raster.DECODE_ERRORS, ArithmeticError, LookupError, RecursionError, AssertionError) as error:
        # Each format module refuses what it knows to be wrong; a hostile file may still find a
        # corner of a decoder that raises something else. It is refused all the same, never passed on.
        raise Refused(Reason.CANNOT_CLEAN_SAFELY) from error
    if outcome.media_type not in OUTPUT_MEDIA_TYPES:
        raise Refused(Reason.CANNOT_CLEAN_SAFELY)
    return Cleaned(
        data=outcome.data,
        media_type=outcome.media_type,
        extension=outcome.extension,
        removed=labels.in_order(outcome.removed),
        sha256=_digest(outcome.data),
    )


def _cleaner_for(data: bytes) -> Callable[[bytes], Outcome] | None:
    if data.startswith(b"\xff\xd8\xff"):
        return jpeg.clean
    if data.startswith(png.SIGNATURE):
        return png.clean
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return webp.clean
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return gif.clean
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return tiff.clean
    if data[4:8] == b"ftyp":
        return heif.clean
    return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
