"""An upload handler that encrypts each file as it is received, so no upload touches the disk in clear.

Django's own handlers keep small files in memory and spool large ones to a plaintext temporary file.
This one streams every chunk through intake.blobs instead, keeps only the first bytes in memory (to
decide the type by content), and stops storing a file that passes the size limit, so that the form can
say so and keep the rest of what the witness wrote.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from intake import blobs

HEAD_BYTES = 8192


@dataclass
class SealedUpload:
    """A received file: its encrypted blob, size and first bytes. The client's file name is not kept."""

    blob: str | None
    size: int
    head: bytes
    too_large: bool = False
    claimed: bool = field(default=False, repr=False)

    def discard(self) -> None:
        if self.blob and not self.claimed:
            blobs.delete(self.blob)
            self.blob = None


class EncryptingUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received: list[SealedUpload] = []
        if request is not None:
            # The view discards whatever it does not claim, whether the form was valid or not.
            request.sealed_uploads = self.received

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file_name = ""  # a phone's file name often holds a date, a name or a place
        self._writer: blobs.BlobWriter | None = blobs.BlobWriter()
        self._head = bytearray()
        self._size = 0

    def receive_data_chunk(self, raw_data, start):
        self._size += len(raw_data)
        if self._writer is None:
            return None
        if self._size > settings.INTAKE_MAX_IMAGE_BYTES:
            self._writer.discard()
            self._writer = None
            return None
        if len(self._head) < HEAD_BYTES:
            self._head += raw_data[: HEAD_BYTES - len(self._head)]
        self._writer.write(raw_data)
        return None

    def file_complete(self, file_size):
        writer, self._writer = self._writer, None
        upload = SealedUpload(
            blob=writer.close() if writer else None,
            size=self._size,
            head=bytes(self._head),
            too_large=writer is None,
        )
        self.received.append(upload)
        return upload

    def upload_interrupted(self):
        if self._writer is not None:
            self._writer.discard()
            self._writer = None
