"""The one pipeline every file goes through, and the engine's public interface.

recognise -> declare -> guard -> clean -> verify -> describe. Each format (contract.Format) knows its
own structure; this module knows the order of the steps and the limits, so that no format can skip
one. ``sniff`` and ``ACCEPTED_MEDIA_TYPES`` serve the upload form, ``clean_media`` the worker.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import BinaryIO

import magic

from intake.cleaning import gif, guard, heif, jpeg, labels, png, raster, tiff, video, webp
from intake.cleaning.contract import Format, Limits, Outcome
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

#: Every format the engine cleans, in the order their signatures are tried.
FORMATS: tuple[Format, ...] = (
    jpeg.FORMAT,
    png.FORMAT,
    webp.FORMAT,
    gif.FORMAT,
    tiff.FORMAT,
    heif.FORMAT,  # before the videos: HEIC and AVIF are ISO media files too
    *video.FORMATS,
)

#: Media types a witness may upload, decided by content (libmagic), never by name or declared type.
ACCEPTED_MEDIA_TYPES: frozenset[str] = frozenset().union(*(f.media_types for f in FORMATS))

_EXTENSIONS: dict[str, str] = {media_type: ext for f in FORMATS for media_type, ext in f.extensions.items()}
#: What the engine may produce: formats every current browser shows (and videos, which it may not play).
OUTPUT_MEDIA_TYPES: frozenset[str] = frozenset(_EXTENSIONS)

#: Bytes read to recognise a file: enough for every signature and for libmagic.
HEAD_BYTES = 8192
_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Cleaned:
    file: BinaryIO  # the clean output, from its start
    size: int
    media_type: str  # what the output is: one every browser shows
    extension: str  # without the dot: "jpg", "png", "webp", "gif"
    removed: tuple[str, ...]  # kinds of metadata found and removed, never their values
    sha256: str  # hex digest of the file
    width: int = 0  # as displayed
    height: int = 0
    duration_seconds: float = 0.0
    poster: bytes | None = None
    playable: bool = True

    @property
    def data(self) -> bytes:
        """The whole file, for photos: a video is read from ``file`` instead."""
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(0)
        return data


def sniff(head: bytes) -> str:
    """The media type of a file judged by its first bytes (2 KiB or more are best)."""
    return magic.from_buffer(head, mime=True)


def extension_for(media_type: str) -> str:
    """The extension (without the dot) of a file the engine wrote as ``media_type``."""
    return _EXTENSIONS[media_type]


def clean(data: bytes) -> Cleaned:
    """``data`` with everything identifying removed: :func:`clean_media` for callers holding bytes."""
    return clean_media(io.BytesIO(data))


def clean_media(source: BinaryIO, limits: Limits = Limits()) -> Cleaned:  # noqa: B008 - frozen, so shared safely
    """``source`` with everything identifying removed, or :class:`Refused` with a reason's code.

    The format is decided by the file's own signature; the result decodes, shows the same picture
    the right way up, and carries nothing but what is needed to show it.
    """
    source.seek(0)
    head = source.read(HEAD_BYTES)
    size = source.seek(0, io.SEEK_END)
    if not size:
        raise Refused(Reason.EMPTY)
    fmt = recognise(head)
    guard.check_input(size, fmt.kind, limits)
    try:
        source.seek(0)
        declared = fmt.declare(source)
        guard.check(declared, fmt.kind, limits)
        source.seek(0)
        outcome = fmt.clean(source, declared)
        guard.check_result(outcome, fmt.kind, limits)
        outcome.file.seek(0)
        fmt.verify(outcome)
    except Refused:
        raise
    except (*raster.DECODE_ERRORS, ArithmeticError, LookupError, RecursionError, AssertionError) as error:
        # Each format refuses what it knows to be wrong; a hostile file may still find a corner of
        # a decoder that raises something else. It is refused all the same, never passed on.
        raise Refused(Reason.CANNOT_CLEAN_SAFELY) from error
    if fmt.extensions.get(outcome.media_type) != outcome.extension:
        # Only what the format says it writes: the allow-list of outputs is the formats' tables.
        raise Refused(Reason.CANNOT_CLEAN_SAFELY)
    return _describe(outcome)


def recognise(head: bytes) -> Format:
    """The format whose signature ``head`` carries."""
    for fmt in FORMATS:
        if fmt.recognise(head):
            return fmt
    raise Refused(Reason.NOT_AN_IMAGE)


def _describe(outcome: Outcome) -> Cleaned:
    size, sha256 = _measure(outcome.file)
    return Cleaned(
        file=outcome.file,
        size=size,
        media_type=outcome.media_type,
        extension=outcome.extension,
        removed=labels.in_order(outcome.removed),
        sha256=sha256,
        width=outcome.width,
        height=outcome.height,
        duration_seconds=outcome.duration_seconds,
        poster=outcome.poster,
        playable=outcome.playable,
    )


def _measure(file: BinaryIO) -> tuple[int, str]:
    """Length and SHA-256 of ``file``, read once in chunks; left at its start."""
    file.seek(0)
    digest = hashlib.file_digest(file, "sha256")  # type: ignore[arg-type]  # reads into one reused buffer
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    return size, digest.hexdigest()
