"""Fault drills, end to end with a real worker process: a full disk, bad broker messages, a database
restart and a frozen broker. Each proves that nothing accepted is lost and no plaintext is left.

They run on whatever the settings name (SQLite and the file-system broker by default, PostgreSQL and
Redis when DATABASE_URL and REDIS_URL are set). Outages are made with the tools in tests/faults.py: a
small disk mounted for the test, or proxies of our own in front of PostgreSQL and Redis. The shared
servers are never stopped.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from PIL import Image as PILImage

from intake import blobs, tasks
from intake.models import Image, Submission
from tests import faults
from tests.conftest import camera_jpeg, database_url, form_token, kept_blobs, wait_until
from tests.faults import Witness

pytestmark = pytest.mark.worker

MARKER = b"FAULT-DRILL-MARKER-Deir-ez-Zor-5520"


def submit(client, *photos: bytes, account: str = "Written during a drill."):
    return client.post(
        reverse("witness:submit"),
        {
            "account": account,
            "images": [SimpleUploadedFile(f"IMG_{i}.jpg", p) for i, p in enumerate(photos)],
            **form_token(),
        },
    )


def noisy_png(size=(1200, 900)) -> bytes:
    """About 3 MB that no encoder can shrink: its cleaned copy is as large as the upload."""
    out = io.BytesIO()
    bands = [PILImage.effect_noise(size, 90) for _ in "RGB"]
    PILImage.merge("RGB", bands).save(out, "PNG", compress_level=1)
    return out.getvalue()


def assert_no_plaintext(*folders: Path, secrets=(MARKER, b"WitnessPhone", b"Written during")) -> None:
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in secrets:
                    assert secret not in data, (path, secret)


# --- A full disk ---------------------------------------------------------------------------------


def test_a_full_blob_folder_makes_photos_wait_and_they_are_cleaned_when_space_returns(
    start_worker, client, settings, tmp_path
):
    settings.INTAKE_MIN_FREE_DISK_MB = 0  # the web's floor is another drill's; this one is the worker's
    with faults.small_disk(settings.INTAKE_BLOB_DIR, megabytes=24) as disk:
        big = noisy_png()
        assert submit(client, camera_jpeg(comment=MARKER), big).status_code == 200
        photo, large = Image.objects.order_by("position")
        originals = {photo.original_blob, large.original_blob}

        disk.fill()
        worker = start_worker(**disk.worker_environment)
        wait_until(lambda: "blob folder" in worker.log_path.read_text(), message="the worker to meet the full disk")

        # Room for the small photo's result, not for the large one's: a write fails half-way.
        room = 2 * 1024 * 1024
        assert tasks.STORAGE_FLOOR_BYTES < room < len(big)
        disk.fill(leave=room)
        failed_writes = worker.log_path.read_text().count("(No space left on device)")
        wait_until(
            lambda: worker.log_path.read_text().count("(No space left on device)") > failed_writes,
            message="a write to fail half-way",
        )
        assert Image.objects.get(pk=large.pk).state == Image.State.PENDING
        # Nothing half-written is left, and the failed tries were not counted against the photo.
        # (Besides the originals, only the small photo's clean file and what the worker makes of it, each whole.)
        assert len(set(blobs.all_names()) - originals) <= 2
        for name in set(blobs.all_names()) - originals:
            blobs.read(name)  # whole: every segment authentic, the last one there
        assert Image.objects.get(pk=large.pk).attempts == 0

        disk.empty()
        wait_until(
            lambda: not Image.objects.filter(state=Image.State.PENDING).exists(),
            timeout=120,
            message="the photos to be cleaned once space returned",
        )
        for image in Image.objects.all():
            assert image.state == Image.State.CLEAN and image.refusal == "", image.refusal
            assert image.attempts == 1
        wait_until(lambda: set(blobs.all_names()) == kept_blobs(), message="only what is kept to be left")
        assert worker.poll() is None
        assert_no_plaintext(settings.INTAKE_BLOB_DIR, worker.temp_dir)


# --- Bad broker messages -------------------------------------------------------------------------


def envelope(body: bytes, headers: dict, content_type: str = "application/json") -> bytes:
    """A message as kombu writes it to the broker."""
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": content_type,
            "headers": headers,
            "properties": {
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
                "delivery_info": {"exchange": "", "routing_key": "celery"},
                "delivery_mode": 2,
                "priority": 0,
            },
        }
    ).encode()


def task_headers(task: str) -> dict:
    return {
        "lang": "py",
        "task": task,
        "id": str(uuid.uuid4()),
        "retries": 0,
        "root_id": None,
        "parent_id": None,
        "group": None,
        "eta": None,
        "expires": None,
    }


BAD_MESSAGES = {
    "empty": b"",
    "cut off": envelope(b"[]", {})[:40],
    "not JSON": b"\x00\xff\xfe not a message at all",
    "JSON, not a message": b"[1, 2, 3]",
    "no delivery tag": b'{"body": "", "properties": {}}',
    "a body that is not base64": b'{"body": "!!", "properties": {"delivery_tag": "x", "body_encoding": "base64"}}',
    "an unknown task": envelope(b"[[], {}, {}]", task_headers("intake.tasks.no_such_task")),
    "our task, a body that is not JSON": envelope(b"not json", task_headers("intake.tasks.clean_image")),
    "our task, a body of the wrong shape": envelope(b"{}", task_headers("intake.tasks.clean_image")),
    "our task, a forbidden serializer": envelope(
        b"\x80\x04K\x01.", task_headers("intake.tasks.clean_image"), content_type="application/x-python-serialize"
    ),
    "our task, an id that is no image": envelope(
        json.dumps([["not-an-id"], {}, {}]).encode(), task_headers("intake.tasks.clean_image")
    ),
}


def test_empty_and_garbage_broker_messages_do_not_stop_the_worker(worker, client, settings):
    faults.put_raw_messages(settings, BAD_MESSAGES.values())
    # The worker has read them all once none is left in the queue.
    wait_until(lambda: faults.queued_raw_messages(settings) == 0, message="the worker to take the bad messages")
    assert worker.poll() is None, worker.log_path.read_text()

    assert submit(client, camera_jpeg(comment=MARKER)).status_code == 200
    wait_until(lambda: Image.objects.filter(state=Image.State.CLEAN).exists(), message="the next photo to be cleaned")
    assert worker.poll() is None
    log = worker.log_path.read_text()
    assert "Unrecoverable error" not in log
    assert "not one of ours was dropped" in log
    assert_no_plaintext(settings.INTAKE_BLOB_DIR, worker.temp_dir)
    assert Submission.objects.count() == 1


# --- A frozen broker -------------------------------------------------------------------------------


@contextlib.contextmanager
def this_process_uses_broker(url: str | None = None, folder: str | None = None):
    """While inside, this process's Celery app (the web's side) reaches the broker at ``url``."""
    from config.celery import app

    real_url, real_options = app.conf.broker_url, app.conf.broker_transport_options
    if url:
        app.conf.broker_url = url
    forget_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = real_url, real_options
        forget_connections(app)


def forget_connections(app):
    app._pool = None
    app.amqp._producer_pool = None


def test_a_frozen_broker_holds_up_no_receipt_and_cleaning_resumes_within_seconds_of_its_return(
    start_worker, client, settings
):
    """Redis accepts connections but answers nothing (the file-system broker's folder cannot be written)
    while a witness submits; then it is back."""
    if settings.REDIS_URL:
        target = urlsplit(settings.REDIS_URL)
        outage = faults.proxy(target.hostname, target.port or 6379)
    else:
        outage = contextlib.nullcontext()
    with outage as redis_proxy:
        environment = {"REDIS_URL": redis_proxy.url(settings.REDIS_URL)} if redis_proxy else {}
        worker = start_worker(**environment, PYTHONFAULTHANDLER="1")
        with this_process_uses_broker(environment.get("REDIS_URL")):
            if redis_proxy:
                redis_proxy.freeze()
                frozen = contextlib.nullcontext()
            else:
                frozen = faults.unwritable(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
            with frozen:
                thawed = threading.Timer(90, redis_proxy.thaw if redis_proxy else lambda: None)
                thawed.start()  # should the request wait for the broker, it would come back only after this
                started = time.monotonic()
                response = submit(client, camera_jpeg(comment=MARKER))
                took = time.monotonic() - started
                assert thawed.is_alive(), "the receipt waited for the broker"
                thawed.cancel()
                assert response.status_code == 200 and "Keep this receipt secret" in response.content.decode()
                time.sleep(8)  # long enough for every connection to the broker to give up
                assert Image.objects.get().state == Image.State.PENDING
            if redis_proxy:
                redis_proxy.thaw()
            back = time.monotonic()
            wait_until(
                lambda: Image.objects.get().state == Image.State.CLEAN,
                timeout=120,
                message="the photo to be cleaned after the broker came back",
            )
            print(
                f"\nMEASURED broker outage: receipt after {took:.2f} s; photo cleaned "
                f"{time.monotonic() - back:.1f} s after the broker came back"
            )
    assert worker.poll() is None
    assert_no_plaintext(settings.INTAKE_BLOB_DIR, worker.temp_dir)


# --- A database restart ----------------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no server to restart and no connection to go stale: each process opens the file itself",
)
def test_after_a_database_restart_submissions_and_status_checks_succeed_at_once(start_worker, settings, tmp_path):
    """Every connection to PostgreSQL, the web's and the worker's, is cut as a restart cuts them; the
    server is back a second later. The very next requests must all succeed (no stale connection)."""
    from concurrent.futures import ThreadPoolExecutor

    database = connection.settings_dict
    with faults.proxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)) as postgres:
        owner = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
        worker = start_worker(DATABASE_URL=postgres.url(database_url()))
        web_environment = {
            "DATABASE_URL": f"postgres://{owner}@127.0.0.1:{postgres.port}/{database['NAME']}",
            "INTAKE_DATA_DIR": str(settings.DATA_DIR),
            "INTAKE_BLOB_DIR": str(settings.INTAKE_BLOB_DIR),
            "INTAKE_KEYS_FILE": str(settings.INTAKE_KEYS_FILE),
            "SECRET_KEY": settings.SECRET_KEY,
            "REDIS_URL": settings.REDIS_URL,
            "INTAKE_RECEIPT_SCRYPT_N": str(settings.INTAKE_RECEIPT_SCRYPT_N),
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "4",
            # Eight visitors at once, each a testimony then a status check: not a flood, for this drill.
            "INTAKE_MAX_CONCURRENT_UPLOADS": "4",
            "INTAKE_STATUS_CONCURRENCY": "4",
        }
        with faults.web_server(tmp_path / "web.log", **web_environment) as address:
            witness = Witness(address)

            def visit(number: int):
                status, receipt = witness.submit(f"Testimony {number} of the drill.", camera_jpeg(comment=MARKER))
                return status, receipt, witness.status(receipt) if receipt else None

            # Every web thread opens its own connection, kept between requests.
            with ThreadPoolExecutor(8) as pool:
                before = list(pool.map(visit, range(16)))
            assert all(status == 200 and checked == (200, True) for status, _, checked in before), before

            postgres.cut()  # as PostgreSQL restarting: every connection dropped, new ones refused
            time.sleep(1)
            postgres.restore()

            with ThreadPoolExecutor(8) as pool:
                after = list(pool.map(visit, range(16, 36)))
            failed = [result for result in after if result[0] != 200 or result[2] != (200, True)]
            assert failed == [], f"{len(failed)} of {len(after)} visits failed right after the restart"

        wait_until(
            lambda: not Image.objects.filter(state=Image.State.PENDING).exists(),
            timeout=120,
            message="every photo to be cleaned",
        )
    assert Submission.objects.count() == 36 and Image.objects.filter(state=Image.State.CLEAN).count() == 36
    assert worker.poll() is None
    assert_no_plaintext(settings.INTAKE_BLOB_DIR, worker.temp_dir)
