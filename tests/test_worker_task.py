"""The cleaning task, called directly: what it records for each outcome, and that it loses nothing."""

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from intake import blobs, tasks
from intake.cleaning.reasons import Reason
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
    assert image.media_type == "image/jpeg" and len(image.clean_sha256) == 64
    assert not blobs.exists(original)
    cleaned = blobs.read(image.clean_blob)
    assert cleaned[:3] == b"\xff\xd8\xff"
    assert cleaned[:16] not in blobs.path_of(image.clean_blob).read_bytes()  # on disk it is ciphertext


def test_an_undecodable_file_is_marked_failed_with_the_engines_code_and_destroyed(
    pending, django_capture_on_commit_callbacks
):
    image = pending(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 50)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED
    assert (image.refusal, image.refusal_params) == (Reason.TRUNCATED, {"format": "JPEG"})
    assert image.original_blob == "" and blobs.all_names() == []


def test_a_file_that_stopped_the_worker_too_often_is_refused(pending):
    image = pending(camera_jpeg())
    Image.objects.filter(pk=image.pk).update(attempts=tasks.MAX_ATTEMPTS)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED
    assert (image.refusal, image.refusal_params) == (Reason.STOPPED_CLEANING, {"attempts": tasks.MAX_ATTEMPTS})


@pytest.mark.parametrize(
    "error, code",
    [
        (SoftTimeLimitExceeded, Reason.TIME_LIMIT),
        (MemoryError, Reason.MEMORY_LIMIT),
        (ZeroDivisionError, Reason.COULD_NOT_CLEAN),
    ],
)
def test_what_stops_the_engine_is_recorded_as_a_code(pending, monkeypatch, error, code):
    image = pending(camera_jpeg())

    def stop(source, limits):
        raise error()

    monkeypatch.setattr(tasks.cleaning, "clean_media", stop)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert (image.state, image.refusal, image.refusal_params) == (Image.State.FAILED, code, {})


def test_each_try_is_counted_before_the_file_is_opened(pending, monkeypatch):
    image = pending(camera_jpeg())

    def crash(source, limits):
        raise SystemExit("worker killed")  # as if the process died mid-way

    monkeypatch.setattr(tasks.cleaning, "clean_media", crash)
    with pytest.raises(SystemExit):
        tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.attempts == 1 and image.state == Image.State.PENDING


def test_a_lost_upload_is_reported_not_retried_forever(pending):
    image = pending(b"data")
    blobs.delete(image.original_blob)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED and image.refusal == Reason.UPLOAD_MISSING


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
    assert image.state == Image.State.FAILED and image.refusal == Reason.UNDECRYPTABLE
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


# --- Storage that fails ----------------------------------------------------------------------------


class FullDisk:
    """A file whose every write fails as on a full disk. Tink, writing through it, reports a TinkError."""

    def __init__(self, real):
        self._real = real

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def full_disk(monkeypatch):
    """From now on, every blob written in this process fails half-way, as on a full disk."""
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: FullDisk(real_fdopen(*args, **kwargs)))


def blob_files() -> list:
    return [path for path in Path(settings.INTAKE_BLOB_DIR).rglob("*") if path.is_file()]


def test_a_blob_that_cannot_be_written_raises_one_storage_error_and_leaves_no_file(full_disk):
    with pytest.raises(blobs.StorageError) as raised:
        blobs.write(b"x" * 3_000_000)  # more than one segment of the stream
    assert isinstance(raised.value, OSError) and raised.value.errno == errno.ENOSPC
    assert blob_files() == []


def test_a_blob_that_cannot_be_made_durable_is_removed(monkeypatch):
    def fsync(descriptor):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(blobs.os, "fsync", fsync)
    with pytest.raises(blobs.StorageError):
        blobs.write(b"a photo")
    assert blob_files() == []


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_the_blob_folders_are_the_services_alone_whatever_the_umask(umask):
    previous = os.umask(umask)
    try:
        name = blobs.write(b"a photo")
    finally:
        os.umask(previous)
    root = Path(settings.INTAKE_BLOB_DIR)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(blobs.path_of(name).parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(blobs.path_of(name).stat().st_mode) & 0o077 == 0
    assert blobs.read(name) == b"a photo"


def test_a_full_disk_does_not_count_against_the_photo_it_waits_and_is_cleaned_later(pending, monkeypatch):
    from celery.exceptions import Retry

    image = pending(camera_jpeg())
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: FullDisk(real_fdopen(*args, **kwargs)))
    for _ in range(tasks.MAX_ATTEMPTS + 1):  # as often as would refuse a file that kills the worker
        with pytest.raises(Retry):
            tasks.clean_image.apply(args=[str(image.pk)], throw=True)
    image.refresh_from_db()
    assert image.state == Image.State.PENDING and image.attempts == 0
    assert [path.name for path in blob_files()] == [image.original_blob]

    monkeypatch.setattr(os, "fdopen", real_fdopen)  # space again
    tasks.clean_image.apply(args=[str(image.pk)], throw=True)
    image.refresh_from_db()
    assert image.state == Image.State.CLEAN and image.attempts == 1


def test_with_the_disk_all_but_full_the_worker_waits_without_opening_the_file(pending, monkeypatch):
    from celery.exceptions import Retry

    image = pending(camera_jpeg())
    monkeypatch.setattr(blobs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    monkeypatch.setattr(tasks.cleaning, "clean_media", lambda source, limits: pytest.fail("the file was parsed"))
    with pytest.raises(Retry):
        tasks.clean_image.apply(args=[str(image.pk)], throw=True)
    image.refresh_from_db()
    assert image.state == Image.State.PENDING and image.attempts == 0


def test_storage_retries_back_off_up_to_a_minute(pending, monkeypatch):
    from celery.exceptions import Retry

    image = pending(camera_jpeg())
    monkeypatch.setattr(blobs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 0))
    countdowns = []
    real_retry = tasks.clean_image.retry
    monkeypatch.setattr(
        tasks.clean_image, "retry", lambda **kwargs: countdowns.append(kwargs["countdown"]) or real_retry(**kwargs)
    )
    for retries in (0, 1, 2, 9):
        with pytest.raises(Retry):
            tasks.clean_image.apply(args=[str(image.pk)], retries=retries, throw=True)
    assert 1 <= countdowns[0] <= 2 and 2 <= countdowns[1] <= 4 and 4 <= countdowns[2] <= 8
    assert 30 <= countdowns[3] <= tasks.STORAGE_RETRY_MAX_SECONDS
    # After the last retry the task stops; the photo is still waiting, for the sweeps, and uncounted.
    with pytest.raises(blobs.StorageError):
        tasks.clean_image.apply(args=[str(image.pk)], retries=tasks.clean_image.max_retries, throw=True)
    image.refresh_from_db()
    assert image.state == Image.State.PENDING and image.attempts == 0


def test_a_task_with_an_id_that_is_not_an_image_id_does_nothing():
    tasks.clean_image("not-an-id")


# --- The file-system broker ------------------------------------------------------------------------


def filesystem_broker(folder: Path):
    """A connection to a file-system broker in ``folder``. (Kombu keeps the exchanges of every such broker
    in one place, so each test uses a queue of its own: ``new_queue``.)"""
    from kombu import Connection

    from intake import broker

    (folder / "control").mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    return Connection("filesystem://localhost//", transport=broker.FilesystemTransport, transport_options=options)


def messages_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.is_file())


def new_queue(connection):
    import uuid

    name = f"images{uuid.uuid4().hex}"
    return name, connection.SimpleQueue(name)


def test_a_message_the_disk_cannot_hold_leaves_no_file_for_the_worker_to_choke_on(tmp_path, monkeypatch):
    from kombu.exceptions import ChannelError

    from intake import broker

    real_open = open

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        if "x" in mode:
            file.write(b'{"bo')  # what fitted
            file.write = lambda data: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        return file

    with filesystem_broker(tmp_path) as connection:
        _, queue = new_queue(connection)
        monkeypatch.setattr(broker, "open", open_on_a_full_disk, raising=False)
        with pytest.raises(ChannelError):
            queue.put({"image": "0" * 32})
        assert messages_in(tmp_path) == []
        monkeypatch.undo()
        queue.put({"image": "1" * 32})
        message = queue.get(timeout=1)
        assert message.payload == {"image": "1" * 32}
        message.ack()


def test_the_worker_drops_unreadable_message_files_and_reads_the_next_one(tmp_path):
    with filesystem_broker(tmp_path) as connection:
        name, queue = new_queue(connection)
        for number, junk in enumerate([b"", b'{"body": "eyJp', b"\x00\xff", b"[]", b'{"properties": {}}']):
            (tmp_path / f"{number:013d}_{number}.{name}.msg").write_bytes(junk)
        queue.put({"image": "2" * 32})
        message = queue.get(timeout=1)
        assert message.payload == {"image": "2" * 32}
        message.ack()
        assert messages_in(tmp_path) == []


def test_a_message_still_being_written_is_not_read(tmp_path):
    with filesystem_broker(tmp_path) as connection:
        name, queue = new_queue(connection)
        (tmp_path / f"0000000000001_x.{name}.msg.part").write_bytes(b'{"bo')
        assert queue.qsize() == 0
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)


def test_an_acknowledgement_redis_does_not_answer_does_not_stop_the_worker_taking_messages(monkeypatch):
    """With Redis frozen, an ack times out; the worker, which takes one message at a time, must still take
    the next one once Redis answers again."""
    from unittest import mock

    import redis

    from intake import broker

    qos = broker.RedisQoS(mock.Mock(), prefetch_count=1)
    qos._quick_append("tag-1", mock.Mock())
    assert not qos.can_consume()

    unanswered = mock.Mock(execute=mock.Mock(side_effect=redis.exceptions.TimeoutError("Timeout reading from socket")))
    monkeypatch.setattr(qos, "_remove_from_indices", lambda delivery_tag: unanswered)
    with pytest.raises(redis.exceptions.TimeoutError):
        qos.ack("tag-1")
    assert qos.can_consume()


def test_the_quick_sweep_enqueues_what_waited_two_rounds_unless_the_worker_holds_it(pending, monkeypatch):
    from types import SimpleNamespace

    tasks.clean_image.app.control.purge()
    waiting, held = pending(camera_jpeg()), pending(camera_jpeg())
    queued = []
    monkeypatch.setattr(tasks.clean_image, "delay", lambda image_id: queued.append(image_id))
    # A message for ``held`` is in this worker's hands (received, running, or due for a retry).
    request = SimpleNamespace(task_name=tasks.clean_image.name, args=[str(held.pk)])
    monkeypatch.setattr(tasks.worker_state, "requests", {"task-id": request})

    first = tasks.requeue_waiting(set())
    assert queued == [] and first == {str(waiting.pk)}  # just arrived, perhaps: its message may be on its way
    assert tasks.requeue_waiting(first) == {str(waiting.pk)}
    assert queued == [str(waiting.pk)]


def test_the_quick_sweep_does_not_add_to_a_queue_that_is_not_empty(pending, monkeypatch):
    tasks.clean_image.app.control.purge()
    image = pending(camera_jpeg())
    tasks.clean_image.delay(str(image.pk))  # a real message waits in the queue
    queued = []
    monkeypatch.setattr(tasks.clean_image, "delay", lambda image_id: queued.append(image_id))
    assert tasks.requeue_waiting({str(image.pk)}) == set() and queued == []
    assert tasks.clean_image.app.control.purge() == 1


# --- Videos ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hevc_clip(tmp_path_factory) -> bytes:
    """An iPhone's HEVC MOV, which Chromium and Firefox do not play: it needs a viewing copy."""
    from tests.cleaning import videos

    return videos.hevc_mov(tmp_path_factory.mktemp("clips")).read_bytes()


def ffprobe_streams(data: bytes, folder: Path) -> list[str]:
    import json
    import subprocess

    path = folder / "probe"
    path.write_bytes(data)
    answer = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)], capture_output=True, check=True
    )
    return [stream["codec_name"] for stream in json.loads(answer.stdout)["streams"]]


def test_a_video_browsers_cannot_play_gets_a_viewing_copy_and_stays_the_evidence(
    pending, hevc_clip, django_capture_on_commit_callbacks, tmp_path, monkeypatch
):
    enqueued: list[str] = []
    monkeypatch.setattr(tasks.actions, "enqueue_viewing_copy", enqueued.append)
    image = pending(hevc_clip)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.CLEAN and image.media_type == "video/quicktime"
    assert (image.viewing_media_type, image.viewing_blob) == ("video/mp4", "")  # due, not made yet
    assert enqueued == [image.pk]
    assert image.poster_blob and blobs.read(image.poster_blob)[:3] == b"\xff\xd8\xff"
    assert image.duration_ms and image.width and image.height and image.size

    tasks.make_viewing_copy(str(image.pk))
    image.refresh_from_db()
    assert ffprobe_streams(blobs.read(image.viewing_blob), tmp_path)[0] == "h264"
    assert image.viewing_size == len(blobs.read(image.viewing_blob))
    assert ffprobe_streams(blobs.read(image.clean_blob), tmp_path)[0] == "hevc"  # the evidence, untouched


def test_a_viewing_copy_claimed_by_another_worker_is_not_made_twice(pending, hevc_clip, monkeypatch):
    from django.core.cache import cache

    image = pending(hevc_clip)
    tasks.clean_image(str(image.pk))
    cache.set(f"intake:viewing-copy:{image.pk}", 1)
    try:
        monkeypatch.setattr(tasks.video, "viewing_copy", lambda clean: pytest.fail("made twice"))
        tasks.make_viewing_copy(str(image.pk))
    finally:
        cache.delete(f"intake:viewing-copy:{image.pk}")
    image.refresh_from_db()
    assert (image.viewing_media_type, image.viewing_blob) == ("video/mp4", "")  # still due


def test_a_viewing_copy_that_stopped_the_worker_too_often_is_given_up_and_the_clean_file_stays(
    pending, hevc_clip, monkeypatch
):
    from django.core.cache import cache

    image = pending(hevc_clip)
    tasks.clean_image(str(image.pk))
    cache.set(f"intake:viewing-copy-attempts:{image.pk}", tasks.VIEWING_COPY_ATTEMPTS)
    try:
        monkeypatch.setattr(tasks.video, "viewing_copy", lambda clean: pytest.fail("tried again"))
        tasks.make_viewing_copy(str(image.pk))
    finally:
        cache.delete(f"intake:viewing-copy-attempts:{image.pk}")
    image.refresh_from_db()
    assert (image.state, image.viewing_media_type, image.viewing_blob) == (Image.State.CLEAN, "", "")
    assert blobs.exists(image.clean_blob)
