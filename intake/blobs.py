"""Encrypted files on disk: uploads as they arrive, and the cleaned images.

A blob is named by 128 random bits and encrypted with the streaming AEAD of intake.crypto, bound to its
name. Its access and modification times are set to midnight of the day, like every other time the
service keeps of a witness, and so are those of its folder and of the blob folder after each blob is
created or removed in them (a backup made with ``tar`` or ``cp -a`` keeps a folder's times too). Blobs
and folders are read without updating their access time (``O_NOATIME``): with the usual ``relatime``,
the worker's first read, seconds after an upload, would set it. (The change time, which only the kernel
sets, still says when a file or folder was written: see "What the service does not protect against" in
docs/threat-model.md.)

Any failure to store a blob (a full disk, an I/O error, a folder that cannot be written) raises
``StorageError`` and leaves no file behind: it is the storage's fault, never the file's. The folders are
readable by the service's user only, whatever the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from tink import TinkError

from intake import crypto

# Large files are copied through memory this much at a time.
COPY_CHUNK_BYTES = 1024 * 1024


class StorageError(OSError):
    """A blob could not be stored. Tink reports a failed write of its stream as a TinkError whose text
    names the OSError; this puts the errno back, so that a full disk reads as one."""


def _storage_error(error: BaseException) -> StorageError:
    code = getattr(error, "errno", None)
    if code is None:
        found = re.search(r"\[Errno (\d+)\]", str(error))
        code = int(found.group(1)) if found else errno.EIO
    return StorageError(code, os.strerror(code))


def new_name() -> str:
    return secrets.token_hex(16)


def path_of(name: str) -> Path:
    if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
        raise ValueError("not a blob name")
    return Path(settings.INTAKE_BLOB_DIR) / name[:2] / name


class BlobWriter:
    """Encrypts what is written into a new blob. ``close()`` finishes it; ``discard()`` removes it.

    Each method raises ``StorageError`` if the blob cannot be stored, after removing what was written."""

    def __init__(self):
        self.name = new_name()
        self.path = path_of(self.name)
        self._file = None
        self._stream = None
        try:
            _private_folder(self.path.parent)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            _blur_folder_times(self.path.parent)  # a large upload may take minutes to arrive
            self._file = os.fdopen(descriptor, "wb")
            self._stream = crypto.encrypting_stream(self._file, crypto.blob_context(self.name))
        except (OSError, TinkError) as error:
            self.discard()
            raise _storage_error(error) from error
        except BaseException:
            self.discard()
            raise

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except (OSError, TinkError) as error:
            self.discard()
            raise _storage_error(error) from error

    def close(self) -> str:
        """Finish the blob and make it durable: a submission is stored only once its files are."""
        try:
            self._stream.close()  # also closes the file
            _blur_file_times(self.path)
            _blur_folder_times(self.path.parent)
            for path, flags in ((self.path, os.O_RDONLY), (self.path.parent, os.O_RDONLY | os.O_DIRECTORY)):
                descriptor = os.open(path, flags)
                try:
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
        except (OSError, TinkError) as error:
            self.discard()
            raise _storage_error(error) from error
        return self.name

    def discard(self) -> None:
        """Remove the blob, however far it got. Safe to call more than once."""
        for closable in (self._stream, self._file):
            if closable is not None:
                with contextlib.suppress(Exception):  # the blob is being thrown away; its state does not matter
                    closable.close()
        self._stream = self._file = None
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        _blur_folder_times(self.path.parent)


def write(data: bytes) -> str:
    writer = BlobWriter()
    try:
        writer.write(data)
    except BaseException:
        writer.discard()
        raise
    return writer.close()


def ensure_free_space(needed: int) -> None:
    """Raise ``StorageError`` at once if the blob folder has less than ``needed`` bytes free, so that no
    work is done only to find that its result cannot be stored."""
    if shutil.disk_usage(Path(settings.INTAKE_BLOB_DIR)).free < needed:
        raise StorageError(errno.ENOSPC, f"less than {needed // 1024} KiB free")


def read(name: str) -> bytes:
    with _open_for_reading(path_of(name)) as file:
        return crypto.open_stream(file, crypto.blob_context(name))


@contextlib.contextmanager
def open_plaintext(name: str) -> Iterator[BinaryIO]:
    """The plaintext of a blob as a stream read in order, for files too large to hold as ``bytes`` (a
    video): decrypted segment by segment as it is read, each checked before its bytes are returned."""
    with (
        _open_for_reading(path_of(name)) as file,
        crypto.decrypting_stream(file, crypto.blob_context(name)) as stream,
    ):
        yield stream


def copy_plaintext(name: str, destination: BinaryIO) -> int:
    """Decrypt a blob into ``destination`` (a memory-backed file for the worker), returning the size."""
    with open_plaintext(name) as stream:
        return _copy(stream, destination)


def write_from(source: BinaryIO) -> str:
    """A new blob holding what ``source`` holds from its current position, read in chunks."""
    writer = BlobWriter()
    try:
        while chunk := source.read(COPY_CHUNK_BYTES):
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    return writer.close()


def _copy(source: BinaryIO, destination: BinaryIO) -> int:
    copied = 0
    while chunk := source.read(COPY_CHUNK_BYTES):
        destination.write(chunk)
        copied += len(chunk)
    return copied


def delete(name: str) -> None:
    if name:
        path = path_of(name)
        path.unlink(missing_ok=True)
        _blur_folder_times(path.parent)


def exists(name: str) -> bool:
    return path_of(name).exists()


def all_names() -> list[str]:
    """The name of every file in the blob folders, listed without updating the folders' access times."""
    root = Path(settings.INTAKE_BLOB_DIR)
    if not root.exists():
        return []
    names = []
    for bucket in _listing(root):
        folder = root / bucket
        if len(bucket) != 2 or bucket.startswith(".") or not folder.is_dir():
            continue
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # gone since it was listed
            names += [name for name in _listing(folder) if not name.startswith(".") and (folder / name).is_file()]
    return names


def _private_folder(folder: Path) -> None:
    """Create the blob folder and ``folder`` in it, 0700 whatever the umask: a blob's name and size say
    that a file was received, and nobody but the service needs to know."""
    root = Path(settings.INTAKE_BLOB_DIR)
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
    for path in (root, folder):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)


def _midnight() -> float:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _blur_file_times(path: Path) -> None:
    midnight = _midnight()
    os.utime(path, (midnight, midnight))


def _blur_folder_times(folder: Path) -> None:
    """Set the times of ``folder`` and of the blob folder to midnight, after a blob was created or removed
    in it. Best effort: the blob is what must be stored, and a folder that is not the service's own (its
    times cannot be set) or that is gone does not fail it."""
    midnight = _midnight()
    for path in (folder, Path(settings.INTAKE_BLOB_DIR)):
        with contextlib.suppress(OSError):
            os.utime(path, (midnight, midnight))


# Reading a file or listing a folder does not update its access time. Linux only, and only for files the
# service's user owns; elsewhere they are read as usual.
_NOATIME = getattr(os, "O_NOATIME", 0)


def _open_without_atime(path: str | Path, flags: int) -> int:
    if _NOATIME:
        try:
            return os.open(path, flags | _NOATIME)
        except PermissionError:  # not the owner: O_NOATIME is refused, not ignored
            pass
    return os.open(path, flags)


def _open_for_reading(path: Path) -> BinaryIO:
    return open(path, "rb", opener=_open_without_atime)


def _listing(folder: Path) -> list[str]:
    descriptor = _open_without_atime(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return os.listdir(descriptor)
    finally:
        os.close(descriptor)


__all__ = [
    "BlobWriter",
    "StorageError",
    "all_names",
    "copy_plaintext",
    "delete",
    "ensure_free_space",
    "exists",
    "open_plaintext",
    "path_of",
    "read",
    "write",
    "write_from",
]
