"""An upload handler that encrypts each file as it is received, so no upload touches the disk in clear.

Django's own handlers keep small files in memory and spool large ones to a plaintext temporary file.
This one streams every chunk through intake.blobs instead and keeps only the first bytes in memory (to
decide the type by content). It stops storing a file that passes the per-file limit, and any file once
the request has passed the image count or the total size, so that the form can say what was wrong
and keep the rest of what the witness wrote.

Before the first file it writes nothing, and stops reading the request, if the request is already
refused: a body too large (intake.body_guard), the hourly budget of testimonies spent, or the blob
folder's disk below its floor (intake.floods). The text fields came before the files, so the form can
still give them back. A file cut off before its end is recorded on ``request.upload_cut_off``.

Every upload of a request is listed on ``request.sealed_uploads`` from its first byte on.
``intake.middleware.discard_unclaimed_uploads`` removes whatever the request did not store, however it
ended: a refused form, a CSRF failure, a parse error or a crash.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from intake import blobs, floods
from intake.cleaning import video

HEAD_BYTES = 8192
PHOTO, VIDEO = "photo", "video"


def kind_of(head: bytes) -> str:
    """Whether a file's first bytes are a video's (by the cleaning engine's own recognition) or not."""
    return VIDEO if any(format.recognise(head) for format in video.FORMATS) else PHOTO


@dataclass
class SealedUpload:
    """A received file: its encrypted blob, size and first bytes. The client's file name is not kept."""

    blob: str | None = None
    size: int = 0
    head: bytes = b""
    kind: str = ""  # PHOTO or VIDEO, judged by the first bytes: each has its own size limit
    too_large: bool = False
    claimed: bool = field(default=False, repr=False)
    _writer: blobs.BlobWriter | None = field(default=None, repr=False)

    def discard(self) -> None:
        """Remove the blob unless a stored submission refers to it. Safe to call more than once."""
        if self.claimed:
            return
        if self._writer is not None:
            self._writer.discard()
            self._writer = None
        if self.blob:
            blobs.delete(self.blob)
            self.blob = None

    # Django closes the files of a request whose parsing failed.
    close = discard


class EncryptingUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received: list[SealedUpload] = []
        self.total = 0
        if request is not None:
            request.sealed_uploads = self.received

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if not self.received:
            self._refuse_unless_receivable()
        self.file_name = ""  # a phone's file name often holds a date, a name or a place
        self.upload = SealedUpload()
        self.received.append(self.upload)
        if len(self.received) <= settings.INTAKE_MAX_IMAGES and self.total <= settings.INTAKE_MAX_TOTAL_BYTES:
            with self._storage():
                self.upload._writer = blobs.BlobWriter()
            self.upload.blob = self.upload._writer.name

    def receive_data_chunk(self, raw_data, start):
        upload = self.upload
        upload.size += len(raw_data)
        self.total += len(raw_data)
        if len(upload.head) < HEAD_BYTES:
            upload.head += raw_data[: HEAD_BYTES - len(upload.head)]
        if upload._writer is None:
            return None
        if not upload.kind and len(upload.head) >= min(HEAD_BYTES, upload.size):
            upload.kind = kind_of(upload.head)
        limit = settings.INTAKE_MAX_VIDEO_BYTES if upload.kind == VIDEO else settings.INTAKE_MAX_IMAGE_BYTES
        if upload.size > limit or self.total > settings.INTAKE_MAX_TOTAL_BYTES:
            upload.too_large = upload.size > limit
            upload.discard()
            return None
        with self._storage():
            upload._writer.write(raw_data)
        return None

    def file_complete(self, file_size):
        upload = self.upload
        if upload._writer is not None:
            with self._storage():
                upload._writer.close()
            upload._writer = None
        return upload

    @contextlib.contextmanager
    def _storage(self):
        """A disk that fails (full, read-only) under an upload is told to the witness as a full disk:
        nothing stored, try later, the text given back. Read no further."""
        try:
            yield
        except blobs.StorageError:
            self.upload.discard()
            if self.request is not None:
                self.request.upload_refusal = floods.DISK_LOW  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=True) from None

    def upload_interrupted(self):
        self.upload.discard()
        if self.request is not None:
            self.request.upload_cut_off = True

    def _refuse_unless_receivable(self) -> None:
        request = self.request
        if request is None:
            return
        body = getattr(request, "body_guard", None)
        if body is None or not body.too_large:
            refusal = floods.submission_refusal()
            # Our own attribute, read back by intake.body_guard; HttpRequest does not declare it.
            request.upload_refusal = refusal  # type: ignore[attr-defined]
            if not refusal:
                return
        # Read no further: what the client still sends is never read (see intake.body_guard).
        raise StopUpload(connection_reset=True)
