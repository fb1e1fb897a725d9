"""The request body, bounded by the application itself: a bare onion service has no proxy to cap it.

``guard_request_body`` is a middleware placed before anything reads the body:

- A body declared larger than ``INTAKE_MAX_REQUEST_BYTES`` is answered at once with the 413 page,
  unread. The one exception is the witness's forms with photos (the testimony, and an answer in its
  conversation): the text comes before the photos in them, so only the text part is read (at most
  ``INTAKE_MAX_FIELDS_BYTES``), and the form is shown again with what the witness wrote
  (``intake.witness.views``). Either way the rest is never read.
- One process reads at most ``INTAKE_MAX_CONCURRENT_UPLOADS`` bodies at once. Beyond that the client is
  told at once, unread, that the service is busy: the remaining threads are kept for pages.
- A body must keep coming: for each ``INTAKE_UPLOAD_RATE_WINDOW_SECONDS`` spent waiting for it, at least
  ``INTAKE_MIN_UPLOAD_BYTES_PER_SECOND`` times as many bytes (or the rest of the body). A watchdog thread
  stops the read of one that does not by shutting the read side of its socket, since a read blocked
  in gunicorn returns for no timeout of ours: each byte that trickles in restarts a socket timeout.
- Whether the body arrived whole (every byte of Content-Length and, for a form, its closing boundary)
  is recorded, so that nothing is stored of a request cut off (``refusal``).

The answers never carry ``Connection: close``: WSGI forbids hop-by-hop headers to applications and
gunicorn drops them. gunicorn itself reads at most 64 KiB, for at most 5 s, of a body left unread before
it closes the connection (gunicorn.workers.gthread ``_keepalive_after``).

Django reads every body through ``request._stream`` (a LimitedStream, so never past Content-Length);
``test_django_reads_the_body_through_the_stream_the_guard_replaces`` fails if that changes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from functools import partial

from django.conf import settings
from django.shortcuts import render
from django.urls import Resolver404, resolve

from intake import counters, floods

TOO_LARGE = "too_large"
CUT_OFF = "cut_off"
TOO_SLOW = "too_slow"

WATCH_INTERVAL = 0.25
SMALL_BODY_BYTES = 64 * 1024
_LARGEST_PIECE = 64 * 1024
_lock = threading.Lock()


def keep_means_to_stop_reading(request, client_socket) -> None:
    """Called by intake.middleware.forget_client before it drops the socket. Keeps the means to stop
    reading the body, on the request and out of META (which error reports show), never the address."""
    request._stop_reading = partial(_shut_read_side, client_socket) if client_socket is not None else None


def _shut_read_side(client_socket) -> None:
    try:
        client_socket.shutdown(socket.SHUT_RD)  # a read blocked on it returns at once, with nothing
    except OSError:
        pass


def guard_request_body(get_response):
    def middleware(request):
        length = declared_length(request)
        if length == 0:  # no body, or one Django will not read (it reads none without Content-Length)
            return get_response(request)
        if length > settings.INTAKE_MAX_REQUEST_BYTES and not is_testimony(request):
            return too_large(request)
        if not takes_upload_slot(request, length):
            return _read_guarded(request, length, get_response)
        with floods.slot("uploads", settings.INTAKE_MAX_CONCURRENT_UPLOADS) as free:
            if not free:
                return floods.busy(request, "busy_uploads")
            return _read_guarded(request, length, get_response)

    return middleware


def _read_guarded(request, length: int, get_response):
    body = GuardedBody(request, length)
    try:
        return get_response(request)
    finally:
        body.finish()


def takes_upload_slot(request, length: int) -> bool:
    """A testimony, or any body that may take long to arrive, needs an upload slot. A small one (a staff
    login, a note, a receipt) must arrive whole within one pace window anyway, so it holds a thread no
    longer than that; and slow testimonies that fill every slot do not lock staff out."""
    return is_testimony(request) or length > SMALL_BODY_BYTES


def declared_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def is_testimony(request) -> bool:
    """A witness's form with photos: the testimony, or an answer that adds photos to it."""
    return (
        request.method == "POST"
        and request.content_type == "multipart/form-data"
        and view_name_of(request.path_info) in ("witness:submit", "witness:reply")
    )


def view_name_of(path: str) -> str | None:
    """The name of the view ``path`` leads to ("witness:reply"), or None for a path that leads nowhere."""
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


def limits() -> dict:
    """What the witness may send, as the pages state it."""
    return {
        "max_images": settings.INTAKE_MAX_IMAGES,
        "max_image_bytes": settings.INTAKE_MAX_IMAGE_BYTES,
        "max_video_bytes": settings.INTAKE_MAX_VIDEO_BYTES,
        "max_video_minutes": settings.INTAKE_MAX_VIDEO_SECONDS // 60,
        "max_total_bytes": settings.INTAKE_MAX_TOTAL_BYTES,
        "max_account_chars": settings.INTAKE_MAX_ACCOUNT_CHARS,
    }


def too_large(request):
    counters.count(TOO_LARGE, request)
    return render(request, "413.html", limits(), status=413)


def refusal(request) -> str | None:
    """Why the body of this request cannot be stored, once it has been parsed: too large, too slow, cut
    off, or refused by the upload handler (intake.uploads); None if it arrived whole."""
    body = getattr(request, "body_guard", None)
    if body is not None and body.too_large:
        return TOO_LARGE
    handler_refusal = getattr(request, "upload_refusal", None)
    if handler_refusal:
        return handler_refusal
    if body is not None and body.pace.too_slow:
        return TOO_SLOW
    if getattr(request, "upload_cut_off", False) or (body is not None and not body.complete):
        return CUT_OFF
    return None


class GuardedBody:
    """Takes the place of Django's ``request._stream``: counts what arrives, how fast, and whether it ends
    where it should. A connection that breaks, or a body stopped for its pace, ends the stream early."""

    def __init__(self, request, length: int):
        self._stream = request._stream
        request._stream = self
        request.body_guard = self
        self.length = length
        self.too_large = length > settings.INTAKE_MAX_REQUEST_BYTES
        # Of a testimony too large, only the text part is read: enough to give it back.
        self.limit = min(length, settings.INTAKE_MAX_FIELDS_BYTES) if self.too_large else length
        self.received = 0
        self.ended = False
        boundary = request.content_params.get("boundary", "") if request.content_type == "multipart/form-data" else ""
        self._closing = f"--{boundary}--".encode("latin-1", "replace") if boundary else b""
        self.closing_seen = not self._closing
        self._tail = b""
        self.pace = Pace(length, getattr(request, "_stop_reading", None))
        watchdog.watch(self.pace)

    @property
    def complete(self) -> bool:
        return not self.too_large and not self.pace.too_slow and self.received == self.length and self.closing_seen

    def read(self, size=-1, /) -> bytes:
        left = self.limit - self.received
        wanted = left if size is None or size < 0 else min(size, left)
        pieces = []
        while wanted > 0 and not self.ended:
            piece = self._read_piece(self._stream.read, min(wanted, self.pace.piece_size()))
            pieces.append(piece)
            wanted -= len(piece)
        return b"".join(pieces)

    def readline(self, size=-1, /) -> bytes:
        left = self.limit - self.received
        wanted = left if size is None or size < 0 else min(size, left)
        if wanted <= 0 or self.ended:
            return b""
        return self._read_piece(self._stream.readline, min(wanted, self.pace.piece_size()))

    def _read_piece(self, read, size: int) -> bytes:
        self.pace.waiting(size)
        data = b""
        try:
            data = read(size)
        except OSError:  # the connection broke: the body ends here
            pass
        finally:
            self.pace.arrived(len(data))
        if self.pace.check(time.monotonic()):
            self.pace.stop()
        if not data or self.pace.too_slow:
            self.ended = True
            return b""
        self.received += len(data)
        if not self.closing_seen:  # it may straddle two pieces
            keep = len(self._closing) - 1
            self.closing_seen = self._closing in data or self._closing in self._tail + data[:keep]
            self._tail = (self._tail + data[-keep:])[-keep:]
        if self.received >= self.limit:
            self.ended = True
        return data

    def close(self) -> None:
        self.ended = True

    def finish(self) -> None:
        watchdog.forget(self.pace)


class Pace:
    """How fast one body arrives, measured in the time spent waiting for it (not the time the server
    spends on what it received, which is no fault of the client's).

    Each window of that time must bring the minimum rate times its length, or the rest of the body. A
    read that is still waiting when the window ends may already hold part of its bytes, so what it asked
    for is allowed for; reads are kept small (half of what came so far in the window) so that a client
    cannot hide a slow window behind a large read. A client at the minimum rate is never stopped; one
    at half of it always is.
    """

    def __init__(self, length: int, stop_reading=None):
        self.window = settings.INTAKE_UPLOAD_RATE_WINDOW_SECONDS
        self.per_window = settings.INTAKE_MIN_UPLOAD_BYTES_PER_SECOND * self.window
        self.smallest_piece = max(1, min(4096, self.per_window // 8))
        self.remaining = length
        self._stop_reading = stop_reading
        self.too_slow = False
        self.waited = 0.0
        self.waiting_since: float | None = None
        self.asked = 0
        self.window_start = 0.0
        self.window_bytes = 0
        self.window_need = min(self.per_window, length)

    def piece_size(self) -> int:
        return max(self.smallest_piece, min(_LARGEST_PIECE, self.window_bytes // 2))

    def waiting(self, asked: int) -> None:
        with _lock:
            self.waiting_since = time.monotonic()
            self.asked = asked

    def arrived(self, count: int) -> None:
        with _lock:
            if self.waiting_since is not None:
                self.waited += time.monotonic() - self.waiting_since
            self.waiting_since = None
            self.asked = 0
            self.window_bytes += count
            self.remaining -= count

    def check(self, now: float) -> bool:
        """At the end of each window: True if this body must be stopped now (once)."""
        with _lock:
            if self.too_slow:
                return False
            since = self.waiting_since
            waiting = since is not None
            waited = self.waited + (now - since if since is not None else 0.0)
            if waited - self.window_start < self.window:
                return False
            if self.window_bytes + (self.asked if waiting else 0) >= self.window_need:
                self.window_start = waited
                self.window_bytes = 0
                self.window_need = min(self.per_window, self.remaining)
                return False
            self.too_slow = True
            return True

    def stop(self) -> None:
        counters.count(TOO_SLOW)
        if self._stop_reading is not None:
            self._stop_reading()


class Watchdog:
    """One thread per process that ends the windows of every body being read, even of a read that is
    blocked: a client that sends nothing, or a byte now and then, is stopped all the same."""

    def __init__(self):
        self._paces: set[Pace] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, pace: Pace) -> None:
        with self._lock:
            self._paces.add(pace)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="upload-watchdog", daemon=True)
                self._thread.start()

    def forget(self, pace: Pace) -> None:
        with self._lock:
            self._paces.discard(pace)

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_INTERVAL)
            with self._lock:
                paces = list(self._paces)
            now = time.monotonic()
            for pace in paces:
                if pace.check(now):
                    pace.stop()


watchdog = Watchdog()
