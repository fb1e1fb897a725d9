"""The service never keeps who a witness is: no address, no user agent, no fingerprint, anywhere."""
import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from intake.models import Submission
from tests.conftest import ROOT
from tests.test_encryption_at_rest import all_database_bytes

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
        {"account": "x", "images": [SimpleUploadedFile("a.jpg", photo, "image/jpeg")]},
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


def test_a_server_error_report_does_not_carry_the_address(client, caplog, settings, monkeypatch):
    """A crash while a witness submits: the traceback logged must not say who they were."""
    from intake.witness import views

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(views.actions, "submit_testimony", crash)
    client.raise_request_exception = False
    caplog.set_level(logging.DEBUG)
    response = client.post(reverse("witness:submit"), {"account": "x"}, **IDENTIFYING_HEADERS)
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
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
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
