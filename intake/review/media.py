"""The cleaned files of a submission as a reviewer's browser fetches them: photos' previews, photos whole,
videos in the byte ranges a player asks for, and a video's poster frame.

A photo is shown inline only as its preview (intake.likeness), small and bounded. The whole clean file
opens on demand, and a photo with no preview (beyond the viewing bound, or one that does not decode) is
only ever sent as a download: a tiny file declaring 12000×12000 pixels would take hundreds of megabytes of
a reviewer's browser to show.

Every view reaches its file through ``access.clean_image_for`` (404 for missing and forbidden alike).
Nothing here may be stored by the browser (``Cache-Control: no-store``, set for every page by
intake.middleware.security_headers, and again here), nor run as a page of ours if opened on its own.

A video is served from its encrypted blob as a stream decrypted in order: a range that starts further
in is reached by reading and dropping what comes before it, never by holding the file in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.http import require_GET

from intake import access, actions, blobs
from intake.models import Image

CHUNK_BYTES = blobs.COPY_CHUNK_BYTES
# A file opened on its own (a new tab) is shown by the browser, never run as a page of this site.
FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """A range that starts past the file's end (416)."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def requested_span(header: str | None, size: int) -> Span | None:
    """The one byte range a ``Range`` header asks of a file of ``size`` bytes, or None for the whole
    file: no header, a header we do not understand, or several ranges (which a server may answer with
    the whole file, and players never ask for). Raises ``Unsatisfiable`` for a range past the end."""
    if not header:
        return None
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None:
        return None
    first, last = found.groups()
    if not first:
        if not last:
            return None  # "bytes=-": nothing asked
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return Span(max(0, size - suffix), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored, as RFC 9110 says
    if start >= size:
        raise Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return Span(start, end)


def _plaintext(blob: str, span: Span) -> Iterator[bytes]:
    """The bytes of ``span`` of a blob's plaintext, in chunks; what comes before it is read and dropped."""
    with blobs.open_plaintext(blob) as stream:
        skip = span.start
        while skip:
            dropped = stream.read(min(CHUNK_BYTES, skip))
            if not dropped:
                return
            skip -= len(dropped)
        left = span.length
        while left:
            chunk = stream.read(min(CHUNK_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def _size_of(blob: str) -> int:
    """A file's size counted through its plaintext: only for a row that does not record it."""
    counted = 0
    with blobs.open_plaintext(blob) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            counted += len(chunk)
    return counted


def _file_response(request, image: Image, *, blob: str, media_type: str, size: int | None, download: bool):
    """A video file (the clean one or its viewing copy) in the range the request asks for."""
    if size is None:
        size = _size_of(blob)
    # Without validators of ours (no ETag, no Last-Modified) an If-Range can never match: whole file.
    header = None if "HTTP_IF_RANGE" in request.META else request.META.get("HTTP_RANGE")
    try:
        span = requested_span(header, size)
    except Unsatisfiable:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        refused["Accept-Ranges"] = "bytes"
        return _headers(refused, image, media_type, download=download)
    # A player fetches one video in many ranges as it plays and seeks; the audit log records the view
    # at the request that starts the file (from byte 0, or without a Range), and at any other range
    # unless this member's view of this file is already recorded in the last minutes: a download that
    # skips the first byte is recorded too, a seek is not recorded again.
    if span is None or span.start == 0 or not actions.image_view_recorded_recently(request.user, image):
        actions.record_image_view(request.user, image)
    whole = span is None
    span = span or Span(0, size - 1)
    response = StreamingHttpResponse(_plaintext(blob, span) if size else iter(()), status=200 if whole else 206)
    response["Content-Length"] = str(span.length if size else 0)
    if not whole:
        response["Content-Range"] = f"bytes {span.start}-{span.end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return _headers(response, image, media_type, download=download)


def _headers(response: HttpResponseBase, image: Image, media_type: str, *, download: bool) -> HttpResponseBase:
    response["Content-Type"] = media_type
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    # The file's name says which submission and which file, nothing the witness's device called it.
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{image}.{image.extension}"'
    response["Content-Security-Policy"] = FILE_CSP
    return response


@require_GET
@login_required
def image(request, image_id):
    """A cleaned file as the witness's device made it, with nothing identifying left: a photo to open in
    a tab of its own, or (``?download=1``, and always for a photo with no preview) a photo or video to
    keep. For a video this is always the clean file, the evidence, never the viewing copy."""
    image = access.clean_image_for(request.user, image_id)
    # A photo with no preview is one the page does not show: opened on its own it is not shown either.
    download = bool(request.GET.get("download")) or (not image.is_video and not image.preview_blob)
    if image.is_video:
        return _file_response(
            request, image, blob=image.clean_blob, media_type=image.media_type, size=image.size, download=download
        )
    actions.record_image_view(request.user, image)
    response = HttpResponse(blobs.read(image.clean_blob), content_type=image.media_type)
    return _headers(response, image, image.media_type, download=download)


@require_GET
@login_required
def preview(request, image_id):
    """A photo's preview, for the submission page. It shows what the photo shows, so it is audited like
    the photo, once in each ten minutes: a page reloaded after every note is not a new viewing."""
    image = access.clean_image_for(request.user, image_id)
    if not image.preview_blob:
        raise Http404
    if not actions.image_view_recorded_recently(request.user, image):
        actions.record_image_view(request.user, image)
    response = HttpResponse(blobs.read(image.preview_blob))
    response = _headers(response, image, "image/jpeg", download=False)
    response["Content-Disposition"] = f'inline; filename="{image}-preview.jpg"'
    return response


@require_GET
@login_required
def play(request, image_id):
    """A video for the page's player: its viewing copy when browsers cannot play the clean file as it
    is (HEVC, say), else the clean file."""
    image = access.clean_image_for(request.user, image_id)
    if not image.is_video:
        raise Http404
    if image.viewing_blob:
        blob, media_type, size = image.viewing_blob, image.viewing_media_type, image.viewing_size
    else:
        blob, media_type, size = image.clean_blob, image.media_type, image.size
    return _file_response(request, image, blob=blob, media_type=media_type, size=size, download=False)


@require_GET
@login_required
def poster(request, image_id):
    """A video's first frame, shown before it plays. It shows what the video shows, so it is audited
    like the video itself."""
    image = access.clean_image_for(request.user, image_id)
    if not image.is_video or not image.poster_blob:
        raise Http404
    actions.record_image_view(request.user, image)
    response = HttpResponse(blobs.read(image.poster_blob))
    response = _headers(response, image, "image/jpeg", download=False)
    response["Content-Disposition"] = f'inline; filename="{image}-poster.jpg"'
    return response
