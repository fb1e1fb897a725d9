"""The cleaning task, called directly: what it records for each outcome, and that it loses nothing."""
import os

import pytest

from intake import blobs, tasks
from intake.models import Image, Submission
from tests.conftest import camera_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending():
    def make(data: bytes) -> Image:
        submission = Submission.objects.create(receipt_digest=blobs.new_name() * 2, account="x")
        return Image.objects.create(submission=submission, position=0, original_blob=blobs.write(data))

    return make


def test_a_photo_is_cleaned_re_encrypted_and_its_original_destroyed(pending, django_capture_on_commit_callbacks):
    image = pending(camera_jpeg())
    original = image.original_blob
    with django_capture_on_commit_callbacks(execute=True):
        tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.CLEAN
    assert image.media_type == "image/jpeg" and len(image.sha256) == 64
    assert not blobs.exists(original)
    cleaned = blobs.read(image.clean_blob)
    assert cleaned[:3] == b"\xff\xd8\xff"
    assert cleaned[:16] not in blobs.path_of(image.clean_blob).read_bytes()  # on disk it is ciphertext


def test_an_undecodable_file_is_marked_failed_with_a_reason_and_destroyed(pending, django_capture_on_commit_callbacks):
    image = pending(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 50)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED
    assert image.failure_reason
    assert image.original_blob == "" and blobs.all_names() == []


def test_a_file_that_stopped_the_worker_too_often_is_refused(pending):
    image = pending(camera_jpeg())
    Image.objects.filter(pk=image.pk).update(attempts=tasks.MAX_ATTEMPTS)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED
    assert "several times" in image.failure_reason


def test_each_try_is_counted_before_the_file_is_opened(pending, monkeypatch):
    image = pending(camera_jpeg())

    def crash(data):
        raise SystemExit("worker killed")  # as if the process died mid-way

    monkeypatch.setattr(tasks.cleaning, "clean", crash)
    with pytest.raises(SystemExit):
        tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.attempts == 1 and image.state == Image.State.PENDING


def test_a_lost_upload_is_reported_not_retried_forever(pending):
    image = pending(b"data")
    blobs.delete(image.original_blob)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED and "could not be read" in image.failure_reason


def test_an_upload_that_does_not_decrypt_with_the_workers_keys_is_kept_and_retried(pending, settings):
    from celery.exceptions import Retry

    from intake import crypto

    image = pending(camera_jpeg())
    settings.INTAKE_KEYS = crypto.new_keys_document()  # a worker deployed with other keys
    crypto.forget_loaded_keys()
    with pytest.raises(Retry):
        tasks.clean_image.apply(args=[str(image.pk)], throw=True)
    image.refresh_from_db()
    assert image.state == Image.State.PENDING and image.attempts == 0
    assert blobs.exists(image.original_blob)


def test_an_upload_that_never_decrypts_is_refused_after_the_last_retry_and_kept(pending, settings):
    from intake import crypto

    image = pending(camera_jpeg())
    settings.INTAKE_KEYS = crypto.new_keys_document()
    crypto.forget_loaded_keys()
    tasks.clean_image.apply(args=[str(image.pk)], retries=tasks.clean_image.max_retries, throw=True)
    image.refresh_from_db()
    assert image.state == Image.State.FAILED and "kept" in image.failure_reason
    assert image.original_blob and blobs.exists(image.original_blob)
    os.utime(blobs.path_of(image.original_blob), (0, 0))  # old enough for the sweep to remove an orphan
    tasks.requeue_pending()
    assert blobs.exists(image.original_blob)  # but it is no orphan: the sweep leaves it


def test_a_task_for_a_finished_or_missing_image_does_nothing(pending):
    image = pending(camera_jpeg())
    Image.objects.filter(pk=image.pk).update(state=Image.State.CLEAN)
    tasks.clean_image(str(image.pk))
    tasks.clean_image("00000000-0000-0000-0000-000000000000")
    assert Image.objects.get().attempts == 0


def test_the_sweep_requeues_pending_images_and_removes_old_orphan_blobs(pending, monkeypatch):
    import os

    tasks.clean_image.app.control.purge()  # whatever earlier tests left in the broker's queue
    queued = []
    monkeypatch.setattr(tasks.clean_image, "delay", lambda image_id: queued.append(image_id))
    image = pending(camera_jpeg())
    old_orphan = blobs.write(b"left by a request that died")
    new_orphan = blobs.write(b"a request still running")
    os.utime(blobs.path_of(old_orphan), (0, 0))

    assert tasks.requeue_pending() == 1
    assert queued == [str(image.pk)]
    assert not blobs.exists(old_orphan)
    assert blobs.exists(new_orphan) and blobs.exists(image.original_blob)


def test_the_sweep_does_not_multiply_a_backlog(pending, monkeypatch):
    tasks.clean_image.app.control.purge()
    image = pending(camera_jpeg())
    tasks.clean_image.delay(str(image.pk))  # a real message waits in the queue
    queued = []
    monkeypatch.setattr(tasks.clean_image, "delay", lambda image_id: queued.append(image_id))
    assert tasks.requeue_pending() == 0 and queued == []
    assert tasks.clean_image.app.control.purge() == 1


def test_the_task_is_configured_to_survive_crashes_and_outages(settings):
    task = tasks.clean_image
    assert task.acks_late and task.reject_on_worker_lost
    assert task.max_retries and task.retry_backoff and task.retry_jitter
    assert settings.CELERY_TASK_SERIALIZER == "json" and settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_TIME_LIMIT > 0
