"""A testimony travels from the witness form through a real worker process to a reviewer.

These tests use whatever broker and database the settings name: a file-system broker and SQLite by
default, Redis and PostgreSQL when REDIS_URL and DATABASE_URL are set (CI runs both).
"""

import contextlib
import hashlib
import io
import logging
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image as PILImage
from PIL import ImageOps

from intake import blobs
from intake.cleaning import labels
from intake.models import Image, Submission
from tests.conftest import (
    CAMERA_SERIAL,
    BrowserClient,
    camera_jpeg,
    exiftool,
    form_token,
    kept_blobs,
    log_in,
    wait_until,
)

pytestmark = pytest.mark.worker


def all_cleaned():
    return not Image.objects.filter(state=Image.State.PENDING).exists()


def colour_at(image: PILImage.Image, fx: float, fy: float):
    return image.convert("RGB").getpixel((int(image.width * fx), int(image.height * fy)))


def close(a, b, tolerance=40):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


MARKER = b"E2E-MARKER-Jableh-7731"


def test_a_camera_photo_reaches_the_reviewer_with_nothing_identifying_and_the_right_way_up(worker, client, reviewer):
    original = camera_jpeg(orientation=6, comment=MARKER)
    truncated = camera_jpeg(orientation=1)[:300]  # looks like a JPEG, cannot be decoded
    response = client.post(
        reverse("witness:submit"),
        {
            **form_token(),
            "account": "They took my neighbours.",
            "images": [
                SimpleUploadedFile("IMG_1.jpg", original, "image/jpeg"),
                SimpleUploadedFile("IMG_2.jpg", truncated, "image/jpeg"),
            ],
        },
    )
    assert response.status_code == 200
    wait_until(all_cleaned, message="the worker to clean both images")

    photo, broken = Image.objects.order_by("position")
    assert photo.state == Image.State.CLEAN, photo.refusal
    assert broken.state == Image.State.FAILED and broken.refusal
    assert photo.original_blob == "" and broken.original_blob == ""
    # Both originals destroyed: right after the worker's commit, which the states above may beat.
    wait_until(lambda: set(blobs.all_names()) == kept_blobs(), message="the originals to be destroyed")
    on_disk = b"".join(path.read_bytes() for path in worker.temp_dir.rglob("*") if path.is_file())
    on_disk += blobs.path_of(photo.clean_blob).read_bytes()
    for plaintext in (MARKER, b"WitnessPhone", CAMERA_SERIAL.encode(), b"They took"):
        assert plaintext not in on_disk

    log_in(client, reviewer)
    submission = Submission.objects.get()
    assert submission.reference in client.get(reverse("review:queue")).content.decode()
    page = client.get(reverse("review:submission", args=[submission.pk])).content.decode()
    assert "They took my neighbours." in page and escape(broken.refusal_text) in page
    served = client.get(reverse("review:image", args=[photo.pk])).content
    assert hashlib.sha256(served).hexdigest() == photo.clean_sha256

    tags = exiftool(served)
    found = " ".join(f"{key}={value}" for key, value in tags.items())
    assert not [key for key in tags if key.startswith(("GPS:", "IFD1:", "MakerNotes:"))], found
    for leak in ("GPSLatitude", "SerialNumber", "MakerNote", "ThumbnailImage", "WitnessPhone", "WP-9", "2026:03:07"):
        assert leak not in found, leak
    assert CAMERA_SERIAL.encode() not in served and b"WitnessPhone" not in served and MARKER not in served
    # The turn is kept as the one tag left (decision 7): the scans are copied, not turned.
    assert tags.get("IFD0:Orientation") == "Rotate 90 CW"
    assert [key for key in tags if key.startswith(("IFD0:", "ExifIFD:"))] == ["IFD0:Orientation"], found
    assert {labels.GPS, labels.SERIAL, labels.MAKER_NOTES, labels.THUMBNAIL} <= set(photo.removed)

    # What a browser showed before is what it shows now, as browsers honour the tag.
    expected = ImageOps.exif_transpose(PILImage.open(io.BytesIO(original)))
    shown = ImageOps.exif_transpose(PILImage.open(io.BytesIO(served)))
    assert shown.size == expected.size == (320, 480)
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close(colour_at(shown, fx, fy), colour_at(expected, fx, fy)), (fx, fy)


@contextlib.contextmanager
def broker_unreachable(settings):
    """While inside, this process's broker connection leads nowhere: Redis on a port where nothing
    listens, or a file-system broker whose folder cannot be written."""
    from config.celery import app

    real_url, real_options = app.conf.broker_url, app.conf.broker_transport_options
    if settings.REDIS_URL:
        app.conf.broker_url = "redis://127.0.0.1:9/0"
    else:
        nowhere = {"data_folder_in": "/proc/none", "data_folder_out": "/proc/none"}
        app.conf.broker_transport_options = {**real_options, **nowhere}
    _forget_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = real_url, real_options
        _forget_connections(app)


def _forget_connections(app):
    app._pool = None
    app.amqp._producer_pool = None


def test_a_submission_accepted_while_the_broker_is_down_is_cleaned_when_a_worker_comes(
    transactional_db, django_db_serialized_rollback, client, caplog, request, settings, monkeypatch
):
    from intake import broker

    caplog.set_level(logging.DEBUG)
    # The web gives up its hand-off at the first failure, so that only the worker's sweep can find the image.
    monkeypatch.setattr(broker, "HAND_OFF_SECONDS", 0)
    with broker_unreachable(settings):
        response = client.post(
            reverse("witness:submit"),
            {
                **form_token(),
                "account": "Sent during an outage.",
                "images": [SimpleUploadedFile("a.jpg", camera_jpeg(), "image/jpeg")],
            },
        )
        assert broker.wait_for_hand_offs(timeout=30)
    assert response.status_code == 200 and "Keep this receipt secret" in response.content.decode()
    assert Image.objects.get().state == Image.State.PENDING
    # Nothing was logged as the witness submitted: a log line's time would say when they did.
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []

    request.getfixturevalue("worker")  # starts now; its start-up sweep finds the waiting image
    wait_until(all_cleaned, message="the sweep to requeue the image")
    assert Image.objects.get().state == Image.State.CLEAN


def test_a_worker_killed_while_cleaning_loses_nothing_and_the_next_worker_finishes(start_worker):
    """SIGKILL in the middle of a task, as the out-of-memory killer or a power cut would do."""
    import os
    import signal

    from PIL import ImageFilter

    from intake import actions
    from tests.cleaning import samples

    # Slow enough to be caught in the act: 12 megapixels that must be decoded, turned and re-encoded.
    slow = io.BytesIO()
    noise = PILImage.effect_noise((4000, 3000), 60).filter(ImageFilter.SMOOTH).convert("RGB")
    noise.save(slow, "PNG", exif=samples.exif_block(6), compress_level=1)
    submission = Submission.objects.create(receipt_digest="c" * 64, account="Sent before the crash.")
    image = Image.objects.create(submission=submission, position=0, original_blob=blobs.write(slow.getvalue()))

    first = start_worker()
    actions.enqueue_cleaning(image.pk)
    wait_until(lambda: Image.objects.get().attempts == 1, message="the first worker to start on the image")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()

    image.refresh_from_db()
    original = image.original_blob
    assert image.state == Image.State.PENDING and blobs.exists(original)

    start_worker()  # its start-up sweep finds the image the dead worker held
    wait_until(all_cleaned, timeout=120, message="the second worker to clean the image")
    image.refresh_from_db()
    assert image.state == Image.State.CLEAN and image.attempts == 2
    assert not blobs.exists(original) and blobs.exists(image.clean_blob)
    assert PILImage.open(io.BytesIO(blobs.read(image.clean_blob))).size == (3000, 4000)


def test_an_image_whose_message_was_lost_is_cleaned_by_the_running_worker(start_worker):
    """No message, and the worker's start-up sweep already done: its quick sweep finds the image."""
    start_worker(INTAKE_QUICK_SWEEP_SECONDS="1")
    submission = Submission.objects.create(receipt_digest="e" * 64, account="Its message was lost.")
    image = Image.objects.create(submission=submission, position=0, original_blob=blobs.write(camera_jpeg()))
    wait_until(all_cleaned, message="the quick sweep to find the image")
    image.refresh_from_db()
    assert image.state == Image.State.CLEAN and image.attempts == 1


# --- The conversation through the receipt -----------------------------------------------------------

QUESTION = "Q-MARKER-Baniyas-5519"
ANSWER = "A-MARKER-Jableh-8842-جبلة"


def hidden_fields(page: str, marker: str) -> dict[str, str]:
    """The hidden inputs of the form whose tag holds ``marker``, as the browser would send them."""
    form = re.search(rf"<form[^>]*{re.escape(marker)}.*?</form>", page, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def broker_bytes(settings) -> bytes:
    """Everything the broker holds now: every key of the Redis database, or every file of the file broker."""
    if not settings.REDIS_URL:
        from tests.test_encryption_at_rest import files_under

        return files_under(Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    import redis

    server = redis.Redis.from_url(settings.REDIS_URL)
    dump = []
    for key in server.scan_iter():
        kind = server.type(key).decode()
        value = {
            "string": lambda: [server.get(key)],
            "list": lambda: server.lrange(key, 0, -1),
            "hash": lambda: [item for pair in server.hgetall(key).items() for item in pair],
            "set": lambda: list(server.smembers(key)),
            "zset": lambda: server.zrange(key, 0, -1),
        }.get(kind, lambda: [])()
        dump += [key, *[item for item in value if item is not None]]
    return b"".join(item if isinstance(item, bytes) else str(item).encode() for item in dump)


def database_file_bytes() -> bytes:
    """The SQLite database's own files, as a copy of the disk would give them (nothing on PostgreSQL,
    whose rows ``all_database_bytes`` reads)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return b""
    name = Path(connection.settings_dict["NAME"])
    return b"".join(path.read_bytes() for path in name.parent.glob(name.name + "*") if path.is_file())


def test_a_question_and_an_answer_with_a_gps_photo_go_through_the_worker_and_leave_no_plaintext(
    worker, client, reviewer, caplog, monkeypatch, settings
):

    from intake import actions
    from intake.models import Message
    from tests.test_encryption_at_rest import all_database_bytes, files_under

    caplog.set_level(logging.DEBUG)
    given = []
    submit_testimony = actions.submit_testimony
    monkeypatch.setattr(
        actions, "submit_testimony", lambda **fields: given.append(submit_testimony(**fields)) or given[-1]
    )

    # The witness submits, in a browser of their own.
    witness = BrowserClient()
    submit = reverse("witness:submit")
    form = {
        **hidden_fields(witness.get(submit).content.decode(), 'class="testimony"'),
        "account": "They took my neighbours.",
    }
    photo = SimpleUploadedFile("IMG_1.jpg", camera_jpeg(), "image/jpeg")
    assert "Keep this receipt secret" in witness.post(submit, {**form, "images": [photo]}).content.decode()
    (receipt,) = given
    wait_until(all_cleaned, message="the worker to clean the first photo")
    submission = Submission.objects.get()

    # The reviewer asks.
    log_in(client, reviewer)
    response = client.post(
        reverse("review:send_message", args=[submission.pk]), {"text": f"Which road? {QUESTION}"}, follow=True
    )
    assert response.redirect_chain[-1][0].endswith("#conversation")
    assert "Message sent." in response.content.decode()

    # The witness reads the question with the receipt: a day, never a time.
    page = witness.post(reverse("witness:status"), {"receipt": receipt}).content.decode()
    assert f"Which road? {QUESTION}" in page and "We have a question for you" in page
    assert not re.search(r"\d{1,2}:\d{2}", page)
    # ...and answers, adding a photo that carries GPS.
    reply = re.search(r'<form method="post" action="([^"]+)"[^>]*id="answer"', page).group(1)  # the page's own
    gps_photo = camera_jpeg(orientation=1, comment=ANSWER.encode())
    assert "GPS:GPSLatitude" in exiftool(gps_photo) and ANSWER.encode() in gps_photo
    response = witness.post(
        reply,
        {
            **hidden_fields(page, f'action="{reply}"'),
            "text": f"The north road. {ANSWER}",
            "images": [SimpleUploadedFile("IMG_2.jpg", gps_photo, "image/jpeg")],
        },
    )
    assert "Your answer was received." in response.content.decode()
    wait_until(all_cleaned, message="the worker to clean the added photo")
    added = Image.objects.get(message__isnull=False)
    assert added.state == Image.State.CLEAN and added.position == 1

    # The reviewer sees the answer as new, and the cleaned photo.
    queue = reverse("review:queue")
    assert "New reply" in client.get(queue).content.decode()
    assert submission.reference in client.get(queue, {"replied": "on"}).content.decode()
    page = client.get(reverse("review:submission", args=[submission.pk])).content.decode()
    conversation = page[page.index('id="conversation"') : page.index('id="notes"')]
    assert f"The north road. {ANSWER}" in conversation and "Witness" in conversation
    image_url = reverse("review:image", args=[added.pk])
    assert image_url in conversation
    served = client.get(image_url).content
    assert hashlib.sha256(served).hexdigest() == added.clean_sha256
    tags = exiftool(served)
    assert not [key for key in tags if key.startswith("GPS:") or "GPS" in key], tags
    assert "New reply" not in client.get(queue).content.decode()  # seen now

    # Nothing of the conversation is kept outside the ciphertext of its rows.
    wait_until(
        lambda: set(blobs.all_names()) == kept_blobs(),
        message="the originals to be destroyed",
    )
    found_in = {
        "database rows": all_database_bytes(),
        "database files": database_file_bytes(),
        "blob files": files_under(settings.INTAKE_BLOB_DIR),
        "broker": broker_bytes(settings),  # with Redis, the whole database: the cache's keys too
        "cache": files_under(Path(settings.CACHES["default"]["LOCATION"])) if not settings.REDIS_URL else b"",
        "worker's log and temporary folder": worker.log_path.read_bytes() + files_under(worker.temp_dir),
        "logs": caplog.text.encode(),
    }
    for marker in (QUESTION, ANSWER):
        for place, data in found_in.items():
            assert marker.encode() not in data, f"{marker} found in {place}"
    # The search finds what is there: the markers are in the rows, encrypted.
    texts = [message.text for message in Message.objects.order_by("position")]
    assert texts == [f"Which road? {QUESTION}", f"The north road. {ANSWER}"]
