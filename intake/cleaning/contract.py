"""What every format offers the pipeline in api.py, and what passes between them.

A format module recognises its files by their first bytes, declares what their headers say (sizes,
frames, tracks, duration) without decoding anything, cleans from a file-like source, and verifies
its own output. The pipeline does the rest once for all of them: it picks the format, holds the
declared numbers against the limits (guard.py), and describes the result. A format module never
checks a limit itself, so a new one cannot forget to.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

MiB = 1024 * 1024


@dataclass(frozen=True)
class Declared:
    """What a file's headers say, read before any decoding."""

    width: int = 0  # as stored (not turned); 0 if unknown
    height: int = 0
    frames: int = 1  # frames or pages of an image; video: 0 (see samples)
    duration_seconds: float = 0.0
    tracks: int = 0  # video, audio and other tracks (videos)
    samples: int = 0  # samples declared over all tracks (videos)
    #: False when clean() copies the compressed pixels without decoding them at full size (JPEG
    #: scans): a larger picture is then allowed, since memory is not at stake.
    decoded: bool = True


@dataclass
class Outcome:
    """What a format's clean() hands back."""

    file: BinaryIO  # seekable, the whole clean output; the pipeline seeks it to 0
    media_type: str
    extension: str
    removed: set[str] = field(default_factory=set)  # intake.cleaning.labels codes
    width: int = 0  # as displayed (turns applied)
    height: int = 0
    duration_seconds: float = 0.0
    poster: bytes | None = None  # videos: a JPEG of the first frame, turned like the clip plays
    playable: bool = True  # browsers play ``file`` as it is (False: the worker makes a viewing copy)


@dataclass(frozen=True)
class Limits:
    """Per-file limits the operator may set; the other limits (guard.py) protect the worker itself."""

    photo_bytes: int = 200 * MiB
    video_bytes: int = 500 * MiB
    video_seconds: int = 1800


class Format(Protocol):
    # Read-only, so that a class attribute, a property or a frozen dataclass field will do.
    @property
    def name(self) -> str: ...  # shown in refusals: "JPEG", "PNG", "MP4", "WebM"...

    @property
    def kind(self) -> str: ...  # "photo" or "video"

    @property
    def media_types(self) -> frozenset[str]: ...  # what libmagic says of this format: the upload allow-list

    @property
    def extensions(self) -> Mapping[str, str]: ...  # media type -> extension, of every type clean() may write

    def recognise(self, head: bytes) -> bool: ...  # head: the first 8 KiB (less if the file is shorter)

    def declare(self, source: BinaryIO) -> Declared: ...  # headers only; Refused on nonsense

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome: ...

    def verify(self, outcome: Outcome) -> None: ...  # Refused if the output is not right


def contents(source: BinaryIO) -> bytes:
    """The whole of ``source``: photo formats work on the file in memory (within the photo limit).

    A BytesIO made from bytes hands back those same bytes, without a copy.
    """
    if isinstance(source, io.BytesIO):
        return source.getvalue()
    source.seek(0)
    return source.read()


def photo(data: bytes, media_type: str, extension: str, removed: set[str], width: int = 0, height: int = 0) -> Outcome:
    """The outcome of a photo format: its output held in memory."""
    return Outcome(io.BytesIO(data), media_type, extension, removed, width=width, height=height)
