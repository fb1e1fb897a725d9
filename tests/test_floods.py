"""Floods from the witness side, bounded without identifying anyone: bodies too large or too slow, too
many at once, receipt look-ups, the budget of testimonies and the disk's floor. Some tests talk to the
real web server (gunicorn, started here on a free port) over raw sockets, as a client on Tor would."""

from __future__ import annotations

import io
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from intake import blobs, counters, floods
from intake.models import Submission
from tests.conftest import ROOT, camera_jpeg, form_token, stop_process_group

SUBMIT = reverse("witness:submit")
STATUS = reverse("witness:status")
ACCOUNT = "Men in masks took my neighbours at night."
RECEIPT = "abandon ability able about above absent absorb abstract"  # well formed, never stored
BOUNDARY = "----witness7MA4YWxkTrZu0gW"
MB = 1024 * 1024


# --- Bodies ----------------------------------------------------------------------------------------


def form_head(token: str = "", account: str = ACCOUNT, boundary: str = BOUNDARY) -> bytes:
    """The start of the testimony form as a browser sends it: the tokens, the text, then a photo's part header."""
    fields = {
        "csrfmiddlewaretoken": token,
        **form_token(),
        "account": account,
        "happened_when": "",
        "happened_where": "Baniyas",
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
        if name != "csrfmiddlewaretoken" or token
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="images"; filename="IMG_2026.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    return "".join(parts).encode()


def form_body(photo: bytes, token: str = "", account: str = ACCOUNT) -> bytes:
    return form_head(token, account) + photo + f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class EndlessBody(io.RawIOBase):
    """A request body made as it is read, like one streamed by a client; counts the bytes taken."""

    def __init__(self, head: bytes, total: int):
        self.head = head
        self.total = total
        self.taken = 0

    def readable(self):
        return True

    def read(self, size=-1):
        size = self.total - self.taken if size is None or size < 0 else min(size, self.total - self.taken)
        start = self.taken
        self.taken += size
        head = self.head[start : start + size]
        return head + b"\0" * (size - len(head))

    def readline(self, size=-1):
        return self.read(size if size and size > 0 else 8192)


def post_stream(client, path, body, length, content_type=MULTIPART):
    extra = {"wsgi.input": body, "CONTENT_LENGTH": "" if length is None else str(length)}
    return client.generic("POST", path, b"x", content_type=content_type, **extra)


# --- Too large ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_2_gb_testimony_is_refused_before_150_mb_are_read_and_its_text_comes_back(client, settings):
    body = EndlessBody(form_head(), 2000 * MB)
    response = post_stream(client, SUBMIT, body, 2000 * MB)
    assert response.status_code == 413
    page = response.content.decode()
    assert "Nothing was stored" in page and ACCOUNT in page and "Baniyas" in page
    assert body.taken < 150 * MB
    # Only the text part was read, never the photo: at most the text budget.
    assert body.taken <= settings.INTAKE_MAX_FIELDS_BYTES
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


@pytest.mark.django_db
def test_a_testimony_too_large_that_is_all_photo_is_read_no_further_than_the_text_budget(client, settings):
    """A body whose first part never ends (no boundary at all) is not read to its end either."""
    body = EndlessBody(b"", 2000 * MB)
    response = post_stream(client, SUBMIT, body, 2000 * MB, content_type="multipart/form-data; boundary=x")
    assert response.status_code in (400, 413)
    assert body.taken <= settings.INTAKE_MAX_FIELDS_BYTES
    assert blobs.all_names() == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", [STATUS, "/staff/login/", "/no-such-page/"])
def test_any_other_body_declared_too_large_is_answered_unread(client, path):
    body = EndlessBody(b"receipt=" + b"a" * 1000, 2000 * MB)
    response = post_stream(client, path, body, 2000 * MB, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    page = response.content.decode()
    assert "Nothing was stored" in page
    limits = "10 files: photos of at most 20.0\xa0MB each, videos of at most 500.0\xa0MB and 30 minutes each"
    assert f"{limits}, all together at most 600.0\xa0MB" in page
    assert body.taken == 0


@pytest.mark.django_db
def test_a_body_without_a_declared_length_is_not_read(client):
    """A chunked body declares no length; Django reads none of it, so it cannot be used to flood."""
    body = EndlessBody(form_head(), 2000 * MB)
    response = post_stream(client, SUBMIT, body, None)
    assert body.taken == 0
    assert "Keep this receipt secret" not in response.content.decode()
    assert not Submission.objects.exists()


def test_django_reads_the_body_through_the_stream_the_guard_replaces(rf):
    """intake.body_guard takes the place of ``request._stream``; this fails if Django reads otherwise."""
    from django.core.handlers.wsgi import LimitedStream, WSGIRequest

    payload = form_body(b"photo bytes")
    environ = rf.post(SUBMIT, payload, content_type=MULTIPART).environ
    environ["wsgi.input"] = io.BytesIO(payload + b"and more than declared")
    request = WSGIRequest(environ)
    assert isinstance(request._stream, LimitedStream)
    read = []

    class Spy:
        def read(self, size=-1):
            data = original.read(size)
            read.append(len(data))
            return data

        def readline(self, size=-1):
            data = original.readline(size)
            read.append(len(data))
            return data

    original, request._stream = request._stream, Spy()
    assert request.POST["account"] == ACCOUNT
    assert sum(read) == len(payload)  # everything came through it, and not a byte past Content-Length

    request = WSGIRequest({**rf.post(STATUS, {"receipt": "x"}).environ})
    original, request._stream = request._stream, Spy()
    read.clear()
    assert request.POST["receipt"] == "x" and sum(read) > 0


# --- Too many at once ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_past_the_concurrent_uploads_a_body_is_answered_busy_unread_and_pages_still_answer(client, settings):
    with ExitStack() as stack:
        for _ in range(settings.INTAKE_MAX_CONCURRENT_UPLOADS):  # as if that many were being received
            assert stack.enter_context(floods.slot("uploads", settings.INTAKE_MAX_CONCURRENT_UPLOADS))
        body = EndlessBody(form_head(), 50 * MB)
        response = post_stream(client, SUBMIT, body, 50 * MB)
        assert response.status_code == 503
        assert response["Retry-After"] == "60"
        assert "try again in a minute" in response.content.decode()
        assert body.taken == 0
        assert client.get(SUBMIT).status_code == 200
    response = client.post(SUBMIT, {**form_token(), "account": ACCOUNT})
    assert "Keep this receipt secret" in response.content.decode()  # the slot came back


def test_slow_testimonies_holding_every_upload_slot_lock_out_neither_staff_nor_receipts(client, settings, reviewer):
    """Small bodies must arrive within one pace window anyway; only testimonies and large bodies share
    the upload slots, so a few slow testimonies cannot stop staff logging in or witnesses checking."""
    with ExitStack() as stack:
        for _ in range(settings.INTAKE_MAX_CONCURRENT_UPLOADS):
            assert stack.enter_context(floods.slot("uploads", settings.INTAKE_MAX_CONCURRENT_UPLOADS))
        assert client.post(SUBMIT, {**form_token(), "account": ACCOUNT}).status_code == 503
        assert client.post(STATUS, {"receipt": RECEIPT}).status_code == 200
        login = client.post(reverse("review:login"), {"username": "rania", "password": "wrong password"})
        assert login.status_code == 200 and "did not match" in login.content.decode()


@pytest.mark.parametrize("threads", [2, 8, 16])
def test_by_default_uploads_leave_threads_for_pages(threads):
    env = {**os.environ, "GUNICORN_THREADS": str(threads)}
    env.pop("INTAKE_MAX_CONCURRENT_UPLOADS", None)
    code = "import config.settings as s; print(s.INTAKE_MAX_CONCURRENT_UPLOADS)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert 0 < int(result.stdout) < threads


# --- Too slow --------------------------------------------------------------------------------------


class TrickleBody(io.RawIOBase):
    """A body that arrives at ``rate`` bytes a second after ``head``, or stops altogether (rate 0). Its
    fake socket can be shut like gunicorn's, which ends a blocked read as the watchdog means it to."""

    def __init__(self, head: bytes, total: int, rate: float):
        self.head, self.total, self.rate = head, total, rate
        self.taken = 0
        self.shut = threading.Event()

    def readable(self):
        return True

    def read(self, size=-1):
        size = min(size, self.total - self.taken)
        if self.taken >= len(self.head):
            wait = size / self.rate if self.rate else 3600
            if self.shut.wait(wait):
                return b""
        data = (self.head[self.taken :] + b"\0" * size)[:size]
        self.taken += len(data)
        return data

    def shutdown(self, how):
        assert how == socket.SHUT_RD
        self.shut.set()


@pytest.mark.django_db
def test_a_body_that_stalls_is_cut_off_stores_nothing_and_gives_the_text_back(client, settings):
    settings.INTAKE_UPLOAD_RATE_WINDOW_SECONDS = 1
    settings.INTAKE_MIN_UPLOAD_BYTES_PER_SECOND = 4096
    before = counters.counts(1)[counters.today()]["too_slow"]
    body = TrickleBody(form_head(), 5 * MB, rate=0)
    response = client.generic(
        "POST",
        SUBMIT,
        b"x",
        content_type=MULTIPART,
        CONTENT_LENGTH=str(5 * MB),
        **{"wsgi.input": body, "gunicorn.socket": body},
    )
    assert body.shut.is_set()  # the watchdog ended the blocked read
    assert response.status_code == 400
    page = response.content.decode()
    assert "the connection was too slow" in page and "Nothing was stored" in page and ACCOUNT in page
    assert not Submission.objects.exists()
    assert blobs.all_names() == []
    assert counters.counts(1)[counters.today()]["too_slow"] == before + 1


@pytest.mark.django_db
def test_a_body_trickling_at_half_the_minimum_rate_is_cut_off(client, settings):
    settings.INTAKE_UPLOAD_RATE_WINDOW_SECONDS = 1
    settings.INTAKE_MIN_UPLOAD_BYTES_PER_SECOND = 8192
    body = TrickleBody(form_head(), 200_000, rate=4096)
    response = client.generic(
        "POST", SUBMIT, b"x", content_type=MULTIPART, CONTENT_LENGTH="200000", **{"wsgi.input": body}
    )
    assert response.status_code == 400
    assert "too slow" in response.content.decode()
    assert body.taken < 200_000
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_a_slow_link_above_the_minimum_rate_is_never_cut(client, settings):
    settings.INTAKE_UPLOAD_RATE_WINDOW_SECONDS = 1
    settings.INTAKE_MIN_UPLOAD_BYTES_PER_SECOND = 4096
    payload = form_body(camera_jpeg() + b"\0" * 40_000)
    assert len(payload) > 3 * 4096 * 3  # several windows long

    class Steady(TrickleBody):
        def read(self, size=-1):
            data = payload[self.taken : self.taken + size]
            time.sleep(len(data) / self.rate)
            self.taken += len(data)
            return data

    body = Steady(b"", len(payload), rate=3 * 4096)
    response = client.generic(
        "POST", SUBMIT, b"x", content_type=MULTIPART, CONTENT_LENGTH=str(len(payload)), **{"wsgi.input": body}
    )
    assert "Keep this receipt secret" in response.content.decode()
    assert Submission.objects.count() == 1


# --- Receipt look-ups ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_past_the_concurrent_lookups_the_witness_is_told_busy_in_their_language(client, settings):
    with ExitStack() as stack:
        for _ in range(settings.INTAKE_STATUS_CONCURRENCY):
            assert stack.enter_context(floods.slot("status", settings.INTAKE_STATUS_CONCURRENCY))
        response = client.post(STATUS, {"receipt": RECEIPT}, HTTP_ACCEPT_LANGUAGE="ar")
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    page = response.content.decode()
    assert 'lang="ar" dir="rtl"' in page
    assert "abandon" not in page and "absorb" not in page  # the receipt is not echoed back
    assert client.post(STATUS, {"receipt": RECEIPT}).status_code == 200  # the slots came back


def test_rates_counted_at_the_same_moment_are_all_counted():
    """The file-based cache is read and rewritten: without a lock shared by the processes, concurrent
    look-ups would lose counts and overrun the rate."""
    from concurrent.futures import ThreadPoolExecutor

    floods.forget_rates()
    with ThreadPoolExecutor(max_workers=16) as pool:
        allowed = list(pool.map(lambda _: floods.take_rate("status", 10**6, 60), range(300)))
    assert all(allowed) and floods.rate_spent("status", 300, 60) and not floods.rate_spent("status", 301, 60)


def test_an_hourly_count_lasts_the_hour(monkeypatch):
    """Django's file cache would give a count it increments the default five minutes to live: a budget
    of testimonies per hour would forget them after a quiet five minutes."""
    import time

    real = time.time
    start = (int(real() // 3600)) * 3600  # the top of this hour
    monkeypatch.setattr(time, "time", lambda: start + 60)
    floods.forget_rates()
    assert floods.take_rate("submissions", 2, 3600) and floods.take_rate("submissions", 2, 3600)
    monkeypatch.setattr(time, "time", lambda: start + 50 * 60)
    assert not floods.take_rate("submissions", 2, 3600)  # still counted 49 minutes later


@pytest.mark.django_db
def test_past_the_lookups_per_minute_the_witness_is_told_busy(client, settings):
    settings.INTAKE_STATUS_PER_MINUTE = 2
    answers = [client.post(STATUS, {"receipt": RECEIPT}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 503]
    assert "No testimony matches this receipt" in answers[1].content.decode()
    assert "Please try again in a minute" in answers[2].content.decode()
    assert "abandon" not in answers[2].content.decode()


@pytest.mark.django_db
def test_what_is_not_a_receipt_costs_no_lookup(client, settings):
    settings.INTAKE_STATUS_PER_MINUTE = 1
    for _ in range(3):
        assert client.post(STATUS, {"receipt": "not a receipt at all"}).status_code == 200
    assert client.post(STATUS, {"receipt": RECEIPT}).status_code == 200


# --- The budget of testimonies and the disk's floor ------------------------------------------------


@pytest.fixture
def blob_writes(monkeypatch) -> list[str]:
    written: list[str] = []
    original = blobs.BlobWriter.__init__

    def counting(self):
        original(self)
        written.append(self.name)

    monkeypatch.setattr(blobs.BlobWriter, "__init__", counting)
    return written


def photo_upload():
    return SimpleUploadedFile("IMG_1.jpg", camera_jpeg(), "image/jpeg")


@pytest.mark.django_db
def test_past_the_hourly_budget_the_witness_keeps_their_text_and_no_upload_is_written(client, settings, blob_writes):
    settings.INTAKE_SUBMISSIONS_PER_HOUR = 2
    for _ in range(2):
        assert (
            "Keep this receipt secret" in client.post(SUBMIT, {**form_token(), "account": "earlier"}).content.decode()
        )
    blob_writes.clear()
    response = client.post(
        SUBMIT, {**form_token(), "account": ACCOUNT, "happened_where": "Baniyas", "images": [photo_upload()]}
    )
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "try again later" in page and "Nothing was stored" in page
    assert ACCOUNT in page and "Baniyas" in page
    assert blob_writes == []
    assert Submission.objects.count() == 2  # what was accepted stays
    text_only = client.post(SUBMIT, {**form_token(), "account": ACCOUNT})
    assert text_only.status_code == 503
    assert Submission.objects.count() == 2


@pytest.mark.django_db
def test_below_the_disk_floor_the_witness_keeps_their_text_and_no_upload_is_written(client, settings, blob_writes):
    import shutil

    settings.INTAKE_MIN_FREE_DISK_MB = shutil.disk_usage(ROOT).free // MB + 1024
    response = client.post(SUBMIT, {**form_token(), "account": ACCOUNT, "images": [photo_upload()]})
    assert response.status_code == 503
    assert ACCOUNT in response.content.decode()
    assert blob_writes == []
    assert not Submission.objects.exists()
    settings.INTAKE_MIN_FREE_DISK_MB = 0
    response = client.post(SUBMIT, {**form_token(), "account": ACCOUNT, "images": [photo_upload()]})
    assert "Keep this receipt secret" in response.content.decode()


@pytest.mark.django_db
def test_a_disk_that_fills_under_an_upload_keeps_the_witnesss_text_and_leaves_nothing(client, settings, monkeypatch):
    """Past the floor's guard, the disk can still fill while a photo is written: the witness is told as
    for a full disk, with the text given back; no row, no blob, no traceback in the logs."""
    import errno

    from intake import blobs

    settings.INTAKE_MIN_FREE_DISK_MB = 0
    real_write = blobs.BlobWriter.write

    def full_after_a_while(self, data):
        real_write(self, data)
        raise blobs.StorageError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs.BlobWriter, "write", full_after_a_while)
    response = client.post(SUBMIT, {**form_token(), "account": ACCOUNT, "images": [photo_upload()]})
    assert response.status_code == 503
    assert ACCOUNT in response.content.decode()
    assert not Submission.objects.exists() and blobs.all_names() == []


# --- The real web server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def owner_database_url() -> str:
    """The test database as this process reaches it (a worker's role could not store testimonies)."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    credentials = f"{db['USER']}{password}@" if db.get("USER") else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Server:
    def __init__(self, process: subprocess.Popen, port: int, output: Path):
        self.process, self.port, self.output = process, port, output

    def connect(self, timeout: float = 30) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def exchange(self, raw: bytes, timeout: float = 60) -> bytes:
        with self.connect(timeout) as connection:
            connection.sendall(raw)
            return read_answer(connection)

    def get(self, path: str = "/", cookie: str = "") -> bytes:
        cookies = f"Cookie: {cookie}\r\n" if cookie else ""
        return self.exchange(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{cookies}Connection: close\r\n\r\n".encode())

    def see_other(self, answer: bytes) -> bytes:
        """What a browser shows for a 303: the page it names, fetched with the cookie it set."""
        assert status_of(answer) == 303, answer[:200]
        location = re.search(rb"Location: (\S+)", answer).group(1).decode()
        cookie = re.search(rb"Set-Cookie: ([^;]+)", answer).group(1).decode()
        return self.get(location, cookie)

    def csrf(self) -> tuple[str, str]:
        answer = self.get(SUBMIT)
        cookie = re.search(rb"Set-Cookie: (csrftoken=[^;]+)", answer).group(1).decode()
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', answer).group(1).decode()
        return cookie, token

    def workers(self) -> list[int]:
        children = []
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            except OSError:
                continue
            if stat and int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                children.append(int(entry.name))
        return children


def post_head(path: str, cookie: str, length: int, content_type: str = MULTIPART) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\nCookie: {cookie}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def read_answer(connection: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
    except OSError:  # reset after the answer: what came is kept
        pass
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


@pytest.fixture
def gunicorn(transactional_db, django_db_serialized_rollback, settings, tmp_path):
    """Starts the real web server, as `make run` does, on the test database, blob folder and cache.
    Keyword arguments are more environment (small limits, so that a drill takes seconds)."""
    started: list[subprocess.Popen] = []

    def start(**environment) -> Server:
        port = free_port()
        env = {
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "INTAKE_DATA_DIR": str(settings.DATA_DIR),
            "INTAKE_KEYS_FILE": str(settings.INTAKE_KEYS_FILE),
            "INTAKE_BLOB_DIR": str(settings.INTAKE_BLOB_DIR),
            "DATABASE_URL": owner_database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
            **environment,
        }
        if settings.REDIS_URL:
            env["REDIS_URL"] = settings.REDIS_URL
        else:
            env["INTAKE_BROKER_DIR"] = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        output = tmp_path / f"gunicorn-{len(started)}.log"
        with open(output, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        server = Server(process, port, output)
        deadline = time.monotonic() + 30
        while True:
            try:
                if status_of(server.get()) == 200:
                    return server
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("gunicorn did not start:\n" + output.read_text(errors="replace"))
            time.sleep(0.2)

    yield start
    for process in started:
        stop_process_group(process)


def send_body_until_answered(connection: socket.socket, head: bytes, total: int) -> tuple[int, bytes]:
    """Send ``head`` then zeros up to ``total`` bytes as fast as the server takes them, stopping at the
    first byte of an answer. Returns how many body bytes the server took, and its answer."""
    connection.setblocking(False)
    filler = b"\0" * MB
    sent = 0
    answer = b""
    while sent < total:
        readable, writable, _ = select.select([connection], [connection], [], 30)
        if readable:
            break
        if not writable:
            pytest.fail("the server neither took the body nor answered")
        data = head[sent:] if sent < len(head) else filler[: total - sent]
        try:
            sent += connection.send(data)
        except BlockingIOError:
            continue
        except OSError:
            break
    connection.setblocking(True)
    connection.settimeout(30)
    return sent, answer + read_answer(connection)


def test_the_real_server_answers_a_2_gb_body_before_150_mb_are_sent(gunicorn):
    server = gunicorn()
    cookie, token = server.csrf()
    total = 2000 * MB
    with server.connect() as connection:
        connection.sendall(post_head(SUBMIT, cookie, total))
        sent, answer = send_body_until_answered(connection, form_head(token), total)
    assert status_of(answer) == 413
    assert b"Nothing was stored" in answer and ACCOUNT.encode() in answer
    assert sent < 150 * MB
    assert not Submission.objects.exists()
    assert blobs.all_names() == []
    print(f"\n2 GB body: the client had sent {sent / MB:.1f} MB when the 413 came")


def test_memory_stays_flat_under_100_concurrent_lookups(gunicorn, settings):
    """The real scrypt (32 MB a look-up), 16 threads, 100 look-ups at once: the web process's peak
    resident memory grows by the look-ups allowed at once, not by the threads or the look-ups."""
    growth, answers = peak_growth_under_lookups(gunicorn(GUNICORN_THREADS="16", INTAKE_STATUS_PER_MINUTE="100000"))
    assert answers.count(200) >= 1 and answers.count(200) + answers.count(503) == 100
    assert growth < (settings.INTAKE_STATUS_CONCURRENCY + 1) * 32 * MB
    print(
        f"\n100 concurrent look-ups: peak resident memory grew by {growth / MB:.0f} MB; "
        f"{answers.count(200)} answered, {answers.count(503)} told busy"
    )


def test_the_memory_bound_fails_without_the_bound_on_lookups(gunicorn, settings):
    """The measurement above tells the difference: with as many look-ups at once as threads, it grows."""
    growth, answers = peak_growth_under_lookups(
        gunicorn(GUNICORN_THREADS="16", INTAKE_STATUS_PER_MINUTE="100000", INTAKE_STATUS_CONCURRENCY="16")
    )
    assert growth >= (settings.INTAKE_STATUS_CONCURRENCY + 1) * 32 * MB
    print(f"\n100 concurrent look-ups, 16 at once: peak resident memory grew by {growth / MB:.0f} MB")


def peak_growth_under_lookups(server: Server, count: int = 100) -> tuple[int, list[int]]:
    cookie, token = server.csrf()
    (worker,) = server.workers()
    body = f"csrfmiddlewaretoken={token}&receipt={RECEIPT.replace(' ', '+')}".encode()
    raw = post_head(STATUS, cookie, len(body), "application/x-www-form-urlencoded") + body
    server.exchange(raw)  # one look-up first: what any look-up loads once is not counted as growth
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    before = resident(worker, "VmRSS")
    answers: list[int] = []
    ready = threading.Barrier(count)

    def look_up():
        with server.connect(120) as connection:
            ready.wait()
            connection.sendall(raw)
            answers.append(status_of(read_answer(connection)))

    threads = [threading.Thread(target=look_up) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return resident(worker, "VmHWM") - before, answers


def resident(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) * 1024


def test_slow_uploads_hold_no_more_than_their_slots_pages_answer_and_nothing_is_stored(gunicorn):
    """The drill from the issue: 20 uploads trickling at 1 KB/s while ordinary pages are asked for."""
    server = gunicorn(
        GUNICORN_THREADS="6",
        INTAKE_MAX_CONCURRENT_UPLOADS="4",
        INTAKE_UPLOAD_RATE_WINDOW_SECONDS="3",
        INTAKE_MIN_UPLOAD_BYTES_PER_SECOND="4096",
    )
    cookie, token = server.csrf()
    head = form_head(token)
    total = len(head) + 500_000
    answers: dict[int, bytes] = {}
    held = threading.Semaphore(0)

    def trickle(number: int) -> None:
        with server.connect(120) as connection:
            connection.sendall(post_head(SUBMIT, cookie, total) + head)
            chunks = 0
            while True:
                readable, _, _ = select.select([connection], [], [], 1.0)
                if readable:
                    answers[number] = read_answer(connection)
                    return
                try:
                    connection.sendall(b"\0" * 1024)  # 1 KB a second
                except OSError:
                    answers[number] = b""
                    return
                chunks += 1
                if chunks == 2:
                    held.release()  # not answered at once: the server is reading this one

    trickles = [threading.Thread(target=trickle, args=(number,)) for number in range(20)]
    for thread in trickles:
        thread.start()
    for _ in range(4):
        assert held.acquire(timeout=60), "the server read fewer trickles than it has slots for"
    pages = [status_of(server.get()) for _ in range(5)]
    still_held = 20 - len(answers)
    for thread in trickles:
        thread.join(timeout=120)
    assert pages == [200] * 5
    assert still_held >= 4  # the pages answered while the upload slots were all taken
    statuses = sorted(status_of(answer) for answer in answers.values())
    assert statuses.count(503) >= 16  # told "busy" at once, their bodies unread
    assert set(statuses) <= {503, 400, 0}
    assert all(b"too slow" in answer for answer in answers.values() if status_of(answer) == 400)
    assert not Submission.objects.exists()
    assert blobs.all_names() == []

    # The service is whole again: a testimony sent at full speed is received.
    photo = camera_jpeg()
    body = form_body(photo, token)
    answer = server.see_other(server.exchange(post_head(SUBMIT, cookie, len(body)) + body))
    assert status_of(answer) == 200 and b"It came with 1 photo or video." in answer
    assert Submission.objects.count() == 1
