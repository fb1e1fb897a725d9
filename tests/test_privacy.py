"""The service never keeps who a witness is: no address, no user agent, no fingerprint, anywhere."""

import logging
import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from intake.models import Submission
from tests.conftest import ROOT, BrowserClient, form_token
from tests.test_encryption_at_rest import all_database_bytes
from tests.test_floods import gunicorn  # noqa: F401 - a fixture

WITNESS_ADDRESS = "203.0.113.77"
WITNESS_AGENT = "Mozilla/5.0 (Linux; Android 9; SM-J530F-WITNESS) Fingerprint/77"
IDENTIFYING_HEADERS = {
    "REMOTE_ADDR": WITNESS_ADDRESS,
    "HTTP_USER_AGENT": WITNESS_AGENT,
    "HTTP_X_FORWARDED_FOR": WITNESS_ADDRESS,
    "HTTP_X_REAL_IP": WITNESS_ADDRESS,
    "HTTP_FORWARDED": f"for={WITNESS_ADDRESS}",
    "HTTP_SEC_CH_UA_MODEL": '"SM-J530F-WITNESS"',
}


@pytest.mark.django_db
def test_no_address_or_user_agent_in_logs_or_database_after_a_submission(client, caplog, photo):
    caplog.set_level(logging.DEBUG)
    client.get(reverse("witness:submit"), **IDENTIFYING_HEADERS)
    client.post(
        reverse("witness:submit"),
        {**form_token(), "account": "x", "images": [SimpleUploadedFile("a.jpg", photo, "image/jpeg")]},
        **IDENTIFYING_HEADERS,
    )
    client.post(reverse("witness:status"), {"receipt": "wrong words"}, **IDENTIFYING_HEADERS)
    client.get("/no-such-page/", **IDENTIFYING_HEADERS)  # the 404 path logs too
    assert Submission.objects.count() == 1

    logged = caplog.text
    stored = all_database_bytes()
    for secret in (WITNESS_ADDRESS, "SM-J530F-WITNESS"):
        assert secret not in logged
        assert secret.encode() not in stored


def test_views_never_see_the_client_address_or_headers(rf):
    from intake.middleware import forget_client

    seen = {}

    def view(request):
        seen.update(request.META)
        return None

    forget_client(view)(rf.get("/", **IDENTIFYING_HEADERS, HTTP_ACCEPT_LANGUAGE="ar"))
    assert seen["REMOTE_ADDR"] == "0.0.0.0"
    assert seen["HTTP_ACCEPT_LANGUAGE"] == "ar"
    for header in IDENTIFYING_HEADERS:
        if header != "REMOTE_ADDR":
            assert header not in seen


def test_a_server_error_report_does_not_carry_the_address(db, client, caplog, settings, monkeypatch):
    """A crash while a witness submits: the traceback logged must not say who they were."""
    from intake.witness import views

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(views.actions, "submit_testimony", crash)
    client.raise_request_exception = False
    caplog.set_level(logging.DEBUG)
    response = client.post(reverse("witness:submit"), {**form_token(), "account": "x"}, **IDENTIFYING_HEADERS)
    assert response.status_code == 500
    assert "database went away" in caplog.text  # the error was reported...
    assert WITNESS_ADDRESS not in caplog.text and "SM-J530F" not in caplog.text  # ...without the witness


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gunicorn_writes_no_access_log(tmp_path, settings):
    """Start the real web server, send it a request with an address in the forwarding headers, and read
    everything it wrote."""
    port = 18000 + (int(time.time() * 1000) % 1000)
    output = tmp_path / "gunicorn.log"
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "INTAKE_DATA_DIR": str(settings.DATA_DIR),
        "INTAKE_KEYS_FILE": str(settings.INTAKE_KEYS_FILE),
        "SECRET_KEY": settings.SECRET_KEY,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    with open(output, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"User-Agent": WITNESS_AGENT, "X-Forwarded-For": WITNESS_ADDRESS}
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)
    written = output.read_text()
    assert "GET /" not in written
    assert WITNESS_ADDRESS not in written and "127.0.0.1 " not in written and "Fingerprint/77" not in written


PROCESS_LIMITS_PROBE = """
import ctypes, json, resource, sys
sys.path.insert(0, {root!r})
{setup}
print(json.dumps({{"core": resource.getrlimit(resource.RLIMIT_CORE),
                   "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
                   "address_space": resource.getrlimit(resource.RLIMIT_AS)[0]}}))
"""


def probe_process_limits(setup: str, settings) -> dict:
    import json

    code = PROCESS_LIMITS_PROBE.format(root=str(ROOT), setup=setup)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_a_worker_process_can_never_dump_its_memory_to_disk(settings):
    limits = probe_process_limits(
        "import django; django.setup()\nfrom intake import tasks\ntasks.limit_worker_process()", settings
    )
    assert limits["core"] == [0, 0] and limits["dumpable"] == 0
    assert limits["address_space"] == settings.INTAKE_WORKER_MEMORY_MB * 1024 * 1024


def test_a_web_process_can_never_dump_its_memory_to_disk(settings):
    setup = "import runpy\nrunpy.run_path('config/gunicorn.py')['post_fork'](None, None)"
    limits = probe_process_limits(f"import os\nos.chdir({str(ROOT)!r})\n{setup}", settings)
    assert limits["core"] == [0, 0] and limits["dumpable"] == 0


def test_a_process_without_the_limits_could_dump(settings):
    """The probe itself tells the difference."""
    assert probe_process_limits("", settings)["dumpable"] == 1


# --- Refused witness requests are counted, not logged ----------------------------------------------


@pytest.fixture
def written_logs():
    """What the handlers of Django's request and security loggers write (not what they are given)."""
    import io

    from intake.counters import CountRefusals

    stream = io.StringIO()
    handlers = {
        handler
        for name in ("django.request", "django.security")
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, CountRefusals)
    }
    assert handlers, "the refusals are not counted"
    previous = {handler: handler.setStream(stream) for handler in handlers}
    yield stream
    for handler, old in previous.items():
        handler.setStream(old)


def count_of(kind: str) -> int:
    from intake import counters

    return counters.counts(1)[counters.today()][kind]


@pytest.mark.django_db
def test_refused_witness_requests_write_no_log_line_and_are_counted(written_logs, settings):

    from intake import floods

    kinds = ("csrf_failure", "too_large", "bad_host", "busy_uploads", "busy_status", "not_found")
    before = {kind: count_of(kind) for kind in kinds}
    strict = BrowserClient(enforce_csrf_checks=True)
    assert strict.post(reverse("witness:submit"), {"account": "x"}).status_code == 403
    settings.INTAKE_MAX_REQUEST_BYTES = 100
    assert strict.post(reverse("witness:status"), {"receipt": "x" * 200}).status_code == 413
    settings.INTAKE_MAX_REQUEST_BYTES = 10**9
    assert BrowserClient().get("/", HTTP_HOST="phish.example").status_code == 400
    assert BrowserClient().get("/no-such-page/").status_code == 404
    with ExitStack() as stack:  # every upload slot taken
        for _ in range(settings.INTAKE_MAX_CONCURRENT_UPLOADS):
            stack.enter_context(floods.slot("uploads", settings.INTAKE_MAX_CONCURRENT_UPLOADS))
        assert BrowserClient().post(reverse("witness:submit"), {"account": "x"}).status_code == 503
    settings.INTAKE_STATUS_PER_MINUTE = 1
    for _ in range(2):
        BrowserClient().post(
            reverse("witness:status"), {"receipt": "abandon ability able about above absent absorb abstract"}
        )

    assert written_logs.getvalue() == ""
    assert {kind: count_of(kind) - before[kind] for kind in kinds} == dict.fromkeys(kinds, 1)


def test_a_server_error_is_still_written(db, written_logs, client, monkeypatch):
    """The handler that counts refusals still writes what is not one (so the test above can fail)."""
    from intake.witness import views

    def crash(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.actions, "submit_testimony", crash)
    client.raise_request_exception = False
    assert client.post(reverse("witness:submit"), {**form_token(), "account": "x"}).status_code == 500
    assert "a bug" in written_logs.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_real_server_writes_nothing_of_refused_requests_and_the_operator_sees_the_counts(gunicorn):  # noqa: F811
    from tests.test_floods import SUBMIT, form_head, owner_database_url, post_head, status_of
    from tests.test_secure_defaults import run_manage

    server = gunicorn(INTAKE_MAX_CONCURRENT_UPLOADS="1")
    cookie, token = server.csrf()
    at_start = server.output.read_text()  # what it wrote starting up (a missing static folder, say)
    answers = [
        server.exchange(post_head(SUBMIT, "csrftoken=planted", 10) + b"account=xx"),
        server.exchange(post_head("/status/", cookie, 2000 * 1024 * 1024)),
        server.exchange(b"GET / HTTP/1.1\r\nHost: phish.example\r\nConnection: close\r\n\r\n"),
        server.exchange(b"GET /no-such-page/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    ]
    with server.connect() as held:  # takes the only upload slot, and sends no more
        held.sendall(post_head(SUBMIT, cookie, 10_000) + form_head(token))
        time.sleep(0.5)
        answers.append(server.exchange(post_head(SUBMIT, cookie, 10) + b"account=xx"))
    assert [status_of(answer) for answer in answers] == [403, 413, 400, 404, 503]
    server.process.terminate()
    server.process.wait(timeout=30)
    assert server.output.read_text() == at_start

    env = {"INTAKE_DATA_DIR": str(settings_value("DATA_DIR")), "DATABASE_URL": owner_database_url()}
    if settings_value("REDIS_URL"):
        env["REDIS_URL"] = settings_value("REDIS_URL")
    result = run_manage("counters", "--days", "1", env_extra=env)
    printed = result.stdout + result.stderr
    for kind in ("csrf_failure", "too_large", "bad_host", "not_found", "busy_uploads"):
        assert re.search(rf"^{kind} +[1-9]", printed, re.MULTILINE), printed


def settings_value(name):
    from django.conf import settings

    return getattr(settings, name)
