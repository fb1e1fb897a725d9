"""Shared fixtures: the named actors, a camera photo full of identifying metadata, and a real worker."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import piexif
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from PIL import Image as PILImage

from intake import crypto

ROOT = Path(__file__).resolve().parent.parent

# Values planted in the test photo; none may survive cleaning.
CAMERA_SERIAL = "SN-4471-WITNESS-CAM"
CAMERA_MAKER_NOTE = b"MAKERNOTE-OWNER-Yusuf-al-Hamwi"
GPS_LATITUDE = ((35, 1), (31, 1), (1234, 100))  # near Latakia


def pytest_sessionfinish(session, exitstatus):
    data_dir = Path(settings.DATA_DIR)
    if data_dir.name.startswith("intake-test-"):
        shutil.rmtree(data_dir, ignore_errors=True)


class BrowserClient(Client):
    """Django's test client, following a 303 at once with the cookies it set, as every browser does: a
    witness's form that was stored, or a receipt typed, answers with one (intake.witness.views), and what
    the witness sees is the page it names. The 303 itself is kept as ``response.see_other``."""

    # What a browser sends with every request, so with the one that follows the 303 too.
    KEPT = ("HTTP_ACCEPT_LANGUAGE", "HTTP_HOST", "secure", "headers")

    def generic(self, *args, **kwargs):
        response = super().generic(*args, **kwargs)
        if response.status_code == 303:
            first = response
            response = self.get(first["Location"], **{name: kwargs[name] for name in self.KEPT if name in kwargs})
            response.see_other = first
        return response


@pytest.fixture
def client() -> BrowserClient:
    return BrowserClient()


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    settings.INTAKE_BLOB_DIR = tmp_path / "blobs"
    crypto.forget_loaded_keys()
    yield
    crypto.forget_loaded_keys()


@pytest.fixture(autouse=True)
def _fresh_witness_rates():
    """The service-wide rates of the witness side (intake.floods) start from zero in every test, however
    many testimonies earlier tests or runs sharing the cache stored this hour."""
    from intake import floods

    floods.forget_rates()


# --- Actors --------------------------------------------------------------------------------------


def _user(username: str, *groups: str, is_staff: bool = False, is_superuser: bool = False) -> User:
    user = User.objects.create_user(username, password="correct horse battery staple")
    user.is_staff = is_staff
    user.is_superuser = is_superuser
    user.save()
    roles = Group.objects.filter(name__in=groups)
    # The groups come from a data migration: a transactional test without serialized rollback wipes them.
    assert roles.count() == len(groups), f"role groups missing: {groups}"
    user.groups.set(roles)
    return user


@pytest.fixture
def reviewer(db):
    return _user("rania", "Reviewer")


@pytest.fixture
def admin_user(db):
    """Manages accounts; is not a reviewer, so reads no testimony."""
    return _user("adam", "Admin", is_staff=True)


@pytest.fixture
def superuser(db):
    return _user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(db):
    """Has an account, but no role."""
    return _user("olga")


@pytest.fixture
def submission(db):
    """A testimony ready for review, with one clean photo and its preview (tests of the staff side)."""
    from intake import blobs
    from intake.models import Image, Submission

    submission = Submission.objects.create(receipt_digest="d" * 64, account="They came at dawn.")
    Image.objects.create(
        submission=submission,
        position=0,
        state=Image.State.CLEAN,
        clean_blob=blobs.write(b"GIF89a-cleaned"),
        media_type="image/gif",
        preview_blob=blobs.write(b"JPEG-preview"),
        described=True,
    )
    return submission


def log_in(client, user) -> None:
    """Log ``user`` in with both factors done, as after a real login: a confirmed authenticator app,
    and the session marked as verified by it. (A bare ``force_login`` is a password-only session, which
    the staff door logs out.)"""
    from django_otp import DEVICE_ID_SESSION_KEY

    from intake.models import AuthenticatorApp

    device = AuthenticatorApp.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = AuthenticatorApp.new(user, name="phone")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def reviewer_client(client, reviewer):
    log_in(client, reviewer)
    return client


class Clock:
    """Django's clock (``timezone.now``), moved by a test instead of slept through."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Starts a minute into a random hour years ahead, so that hourly counters that earlier runs left
    in a shared cache (Redis) are not met again. Take it before logging anyone in."""
    from django.utils import timezone

    hour = timezone.now().replace(minute=1, second=0, microsecond=0)
    fake = Clock(hour + timedelta(hours=24 + secrets.randbelow(500_000)))
    monkeypatch.setattr(timezone, "now", fake)
    return fake


# --- Photos --------------------------------------------------------------------------------------


def quadrant_image(size=(480, 320)) -> PILImage.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right: orientation is visible."""
    width, height = size
    image = PILImage.new("RGB", size)
    for box, colour in (
        ((0, 0, width // 2, height // 2), (220, 30, 30)),
        ((width // 2, 0, width, height // 2), (30, 200, 30)),
        ((0, height // 2, width // 2, height), (30, 30, 220)),
        ((width // 2, height // 2, width, height), (245, 245, 245)),
    ):
        image.paste(colour, box)
    return image


def camera_jpeg(orientation: int = 6, size=(480, 320), comment: bytes = b"") -> bytes:
    """A JPEG as a phone would write it: GPS, serial number, maker note, thumbnail, orientation."""
    thumbnail = io.BytesIO()
    quadrant_image((160, 120)).save(thumbnail, "JPEG")
    exif = {
        "0th": {
            piexif.ImageIFD.Make: b"WitnessPhone",
            piexif.ImageIFD.Model: b"WP-9 Pro",
            piexif.ImageIFD.Orientation: orientation,
            piexif.ImageIFD.Software: b"WitnessOS 14.2",
            piexif.ImageIFD.DateTime: b"2026:03:07 23:41:09",
        },
        "Exif": {
            piexif.ExifIFD.BodySerialNumber: CAMERA_SERIAL.encode(),
            piexif.ExifIFD.MakerNote: CAMERA_MAKER_NOTE,
            piexif.ExifIFD.DateTimeOriginal: b"2026:03:07 23:41:09",
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: GPS_LATITUDE,
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((35, 1), (47, 1), (1000, 100)),
        },
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": thumbnail.getvalue(),
    }
    out = io.BytesIO()
    quadrant_image(size).save(out, "JPEG", quality=92, exif=piexif.dump(exif), comment=comment)
    return out.getvalue()


@pytest.fixture
def photo() -> bytes:
    return camera_jpeg()


def exiftool(data: bytes) -> dict:
    """Every tag ExifTool finds, read independently of the code under test."""
    if shutil.which("exiftool") is None:
        pytest.fail("ExifTool is needed by the tests: install it (Debian: libimage-exiftool-perl).")
    import json

    result = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", "-U", "-ee", "-b", "-"], input=data, capture_output=True, check=True
    )
    return json.loads(result.stdout)[0]


@pytest.fixture
def temporary_files(monkeypatch) -> list[str]:
    """Records every temporary file this process creates while the test runs."""
    import tempfile

    import django.core.files.temp

    made: list[str] = []
    # Without Redis the cache keeps its counters in files, written through a temporary file in its folder.
    cache_folder = os.path.abspath(settings.CACHES["default"].get("LOCATION", ""))

    def spy(real, name):
        def create(*args, **kwargs):
            if kwargs.get("dir") is None or os.path.abspath(kwargs["dir"]) != cache_folder:
                made.append(name)
            return real(*args, **kwargs)

        return create

    for name in ("NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, spy(getattr(tempfile, name), name))
    monkeypatch.setattr(
        django.core.files.temp, "NamedTemporaryFile", spy(django.core.files.temp.NamedTemporaryFile, "django")
    )
    return made


# --- A real worker ----------------------------------------------------------------------------


WORKER_ROLE = "intake_test_worker"


def database_url() -> str:
    """The test database as the worker reaches it: on PostgreSQL, as a role that may only read and
    update image rows, as in production (``manage.py grantroles``)."""
    from django.core.management import call_command
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    call_command("grantroles", web="intake_test_web", worker=WORKER_ROLE, stdout=io.StringIO())
    db = {**db, "USER": WORKER_ROLE, "PASSWORD": ""}
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def start_worker(transactional_db, django_db_serialized_rollback, settings, tmp_path):
    """Starts Celery workers in processes of their own, configured through the environment like a
    deployed one, sharing the test database, the blob folder and the broker with this process. Like a
    deployed worker each holds only the file and matching keys, and no SECRET_KEY. All are stopped after the test."""
    from config.celery import app

    # Each testimony stored by an earlier test left its message in the shared broker: a new worker would
    # first drain hundreds of them, a minute under load, before its sweeps found this test's images.
    app.control.purge()
    started: list[subprocess.Popen] = []

    def start(**environment: str) -> subprocess.Popen:
        """``environment`` adds to or replaces the worker's variables (a proxy's address, for example)."""
        name = f"worker-{len(started)}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "INTAKE_DATA_DIR": str(settings.DATA_DIR),
            "INTAKE_BLOB_DIR": str(settings.INTAKE_BLOB_DIR),
            "INTAKE_KEYS_FILE": str(settings.INTAKE_WORKER_KEYS_FILE),
            "PYTHONUNBUFFERED": "1",
            # Its own temporary folder, so that tests can check it stays free of plaintext.
            "TMPDIR": str(tmp_path / f"{name}-tmp"),
        }
        for variable in ("INTAKE_KEYS", "SECRET_KEY", "SECRET_KEY_FILE"):
            env.pop(variable, None)
        if settings.REDIS_URL:
            env["REDIS_URL"] = settings.REDIS_URL
        else:
            env["INTAKE_BROKER_DIR"] = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        env.update(environment)
        (tmp_path / f"{name}-tmp").mkdir()
        log_path = tmp_path / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"{name}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        deadline = time.monotonic() + 60
        while b"ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the worker did not start:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.2)
        process.log_path = log_path
        process.temp_dir = tmp_path / f"{name}-tmp"
        return process

    yield start
    for process in started:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, and everything it started: politely, then not."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def worker(start_worker):
    """One running worker (see ``start_worker``)."""
    return start_worker()


def wait_until(condition, timeout=60.0, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {message}")


def form_token() -> dict[str, str]:
    """The one-time token that a testimony form carries (intake.sent_forms), as a field to post."""
    from intake import sent_forms

    return {sent_forms.FIELD: sent_forms.new_token()}


def kept_blobs(images=None) -> set[str]:
    """The names of the blobs that stay once images are cleaned and described: each clean file, and the
    preview, poster and viewing copy the worker makes of it (the originals are gone)."""
    from intake.models import Image

    images = Image.objects.all() if images is None else images
    fields = [field for field in Image.BLOB_FIELDS if field != "original_blob"]
    return {name for image in images for name in (getattr(image, field) for field in fields) if name}


def at_once(writers: int, write) -> list[BaseException]:
    """Run ``write(number)`` for each number below ``writers``, each in its own thread with its own
    database connection, all released together; returns what they raised."""
    import threading

    from django.db import connection

    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def run(number):
        try:
            start.wait()
            write(number)
        except Exception as error:  # noqa: BLE001 - returned to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
