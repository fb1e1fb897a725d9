"""Public interface of the cleaning engine (placeholder until the engine lands)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import magic

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


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    media_type: str  # what the output is: one every browser shows
    extension: str  # without the dot: "jpg", "png", "webp", "gif"
    removed: tuple[str, ...]  # kinds of metadata found and removed, never their values
    sha256: str  # hex digest of ``data``


class Refused(Exception):
    """The file cannot be cleaned; ``reason`` is safe to show to a reviewer (no file content)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def sniff(head: bytes) -> str:
    """The media type of a file judged by its first bytes (2 KiB or more are best)."""
    return magic.from_buffer(head, mime=True)


def clean(data: bytes) -> Cleaned:
    raise NotImplementedError


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
