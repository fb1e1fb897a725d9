"""Encrypted files on disk: uploads as they arrive, and the cleaned images.

A blob is named by 128 random bits and encrypted with the streaming AEAD of intake.crypto, bound to its
name. Its access and modification times are set to midnight of the day, like every other time the
service keeps of a witness. (The change time, which only the kernel sets, still says when the file was
written: see "What the service does not protect against" in docs/threat-model.md.)
"""
from __future__ import annotations

import contextlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from intake import crypto


def new_name() -> str:
    return secrets.token_hex(16)


def path_of(name: str) -> Path:
    if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
        raise ValueError("not a blob name")
    return Path(settings.INTAKE_BLOB_DIR) / name[:2] / name


class BlobWriter:
    """Encrypts what is written into a new blob. ``close()`` finishes it; ``discard()`` removes it."""

    def __init__(self):
        self.name = new_name()
        self.path = path_of(self.name)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(descriptor, "wb")
        self._stream = crypto.encrypting_stream(self._file, crypto.blob_context(self.name))

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    def close(self) -> str:
        """Finish the blob and make it durable: a submission is stored only once its files are."""
        self._stream.close()  # also closes the file
        _blur_file_times(self.path)
        for path, flags in ((self.path, os.O_RDONLY), (self.path.parent, os.O_RDONLY | os.O_DIRECTORY)):
            descriptor = os.open(path, flags)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        return self.name

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # the blob is being thrown away; its state does not matter
            self._stream.close()
        delete(self.name)


def write(data: bytes) -> str:
    writer = BlobWriter()
    try:
        writer.write(data)
    except BaseException:
        writer.discard()
        raise
    return writer.close()


def read(name: str) -> bytes:
    with open(path_of(name), "rb") as file:
        return crypto.open_stream(file, crypto.blob_context(name))


def delete(name: str) -> None:
    if name:
        path_of(name).unlink(missing_ok=True)


def exists(name: str) -> bool:
    return path_of(name).exists()


def all_names() -> list[str]:
    root = Path(settings.INTAKE_BLOB_DIR)
    return [path.name for path in root.glob("??/*") if path.is_file()] if root.exists() else []


def _blur_file_times(path: Path) -> None:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    os.utime(path, (midnight, midnight))


__all__ = ["BlobWriter", "all_names", "delete", "exists", "path_of", "read", "write"]
