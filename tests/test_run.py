"""A newcomer's first hour: `make run` (``manage.py serve``) says where it serves, stops on Ctrl-C, and
brings a dead worker back; management commands find the data `make run` used, or say what to do."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from intake import blobs
from intake.models import Image, Submission
from tests.conftest import ROOT, camera_jpeg, database_url, wait_until

pytestmark = pytest.mark.worker


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def descendants(pid: int) -> list[int]:
    below = children(pid)
    return below + [grandchild for child in below for grandchild in descendants(child)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has stopped: it only waits for its parent to notice.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def command_line(pid: int) -> str:
    return subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True).stdout


@pytest.fixture
def serve(transactional_db, django_db_serialized_rollback, settings, tmp_path):
    """Starts ``manage.py serve`` as `make run` does, on the test database and folders, on a free port."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "INTAKE_DATA_DIR": str(settings.DATA_DIR),
            "INTAKE_BLOB_DIR": str(settings.INTAKE_BLOB_DIR),
            "INTAKE_KEYS_FILE": str(settings.INTAKE_KEYS_FILE),
            "INTAKE_WORKER_KEYS_FILE": str(settings.INTAKE_WORKER_KEYS_FILE),
            "SECRET_KEY": settings.SECRET_KEY,
            "GUNICORN_BIND": "127.0.0.1:0",
            "GUNICORN_WORKERS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("INTAKE_KEYS", None)
        if settings.REDIS_URL:
            env["REDIS_URL"] = settings.REDIS_URL
        else:
            env["INTAKE_BROKER_DIR"] = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        log_path = tmp_path / f"serve-{len(started)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--stop-seconds", "10"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.log_path = log_path
        process.output = lambda: log_path.read_text(errors="replace")
        started.append(process)
        wait_until(
            lambda: "Serving on" in process.output() and len(children(process.pid)) == 2,
            timeout=60,
            message="manage.py serve to start the web app and the worker",
        )
        return process

    yield start
    for process in started:
        everything = [process.pid, *descendants(process.pid)]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for pid in everything:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()


def served_address(process) -> str:
    return re.search(r"Serving on (http://\S+)", process.output()).group(1)


def test_serve_prints_the_address_it_really_listens_on(serve):
    process = serve()
    address = served_address(process)
    assert not address.endswith(":0/")  # the port asked for was 0: what is printed is the one bound
    with urllib.request.urlopen(address) as response:  # noqa: S310 - our own server
        assert response.status == 200


def test_ctrl_c_stops_the_web_app_and_the_worker(serve):
    process = serve()
    everything = descendants(process.pid)
    assert any("gunicorn" in command_line(pid) for pid in everything)
    assert any("celery" in command_line(pid) for pid in everything)

    process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground process
    assert process.wait(timeout=60) == 0
    assert [pid for pid in everything if alive(pid)] == []
    assert "Stopped." in process.output()


def test_a_worker_that_dies_is_reported_and_started_again_and_cleans_what_waited(serve):
    process = serve()
    worker = next(pid for pid in children(process.pid) if "celery" in command_line(pid))
    os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: "The worker stopped unexpectedly (killed by SIGKILL)" in process.output(),
        message="the death to be reported",
    )

    # Sent while no worker runs: the new one cleans it.
    submission = Submission.objects.create(receipt_digest="d" * 64, account="Sent while the worker was down.")
    image = Image.objects.create(submission=submission, position=0, original_blob=blobs.write(camera_jpeg()))
    wait_until(lambda: "The worker is running again." in process.output(), message="the worker to start again")
    new_worker = next(pid for pid in children(process.pid) if "celery" in command_line(pid))
    assert new_worker != worker
    wait_until(
        lambda: Image.objects.get(pk=image.pk).state == Image.State.CLEAN,
        timeout=90,
        message="the new worker to clean the photo",
    )


# --- Management commands ---------------------------------------------------------------------------


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    """``manage.py`` as a person runs it: the service's own settings, and no DATABASE_URL or data folder
    unless given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "INTAKE_DATA_DIR", "INTAKE_KEYS", "INTAKE_KEYS_FILE"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "s" * 50, **environment})
    return subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_command_run_before_any_migration_says_what_to_do_and_creates_no_database(tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    result = manage("createstaff", "alice", "--admin", INTAKE_DATA_DIR=str(empty), INTAKE_ENV_FILE="")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "migrate" in message and str(empty / "db.sqlite3") in message
    assert not (empty / "db.sqlite3").exists()


def test_commands_read_the_data_folder_from_the_same_env_file_as_make_run(tmp_path):
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env_file = tmp_path / ".env"
    env_file.write_text(f"# as a newcomer would write it\nINTAKE_DATA_DIR={data}\n")

    assert manage("migrate", "--noinput", INTAKE_ENV_FILE=str(env_file)).returncode == 0
    assert (data / "db.sqlite3").exists()
    found = manage("dumpdata", "auth.group", INTAKE_ENV_FILE=str(env_file))
    assert found.returncode == 0 and "Reviewer" in found.stdout  # the role groups of the migrated database

    # What the environment holds wins over the file.
    overridden = manage("dumpdata", "auth.group", INTAKE_ENV_FILE=str(env_file), INTAKE_DATA_DIR=str(elsewhere))
    assert overridden.returncode == 1 and str(elsewhere) in overridden.stderr


def test_the_tests_read_no_env_file():
    assert os.environ.get("INTAKE_ENV_FILE") == ""
    assert Path(django_settings.DATA_DIR).name.startswith("intake-test-")
