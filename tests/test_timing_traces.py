"""Nothing the service keeps dates a witness's action finer than the day: not an expiry in the cache, nor a
folder's times, nor a log line's time, nor a waiting message of the file-system broker.

The worker works on a file seconds after it was uploaded, so whatever it leaves with the time it did so,
to the second, dates the upload (docs/threat-model.md, "No time finer than a day").
"""

import contextlib
import io
import logging
import os
import pickle
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache

from intake import blobs, counters, tasks
from intake.models import Image, Submission
from tests.conftest import camera_jpeg
from tests.test_worker_task import filesystem_broker

pytestmark = pytest.mark.django_db

DAY = 86400


def expiry_of(key: str) -> float | None:
    """The epoch time at which the cache drops ``key``, as the cache itself keeps it; None if absent."""
    cache = caches["default"]
    if isinstance(cache, FileBasedCache):
        try:
            with open(cache._key_to_file(key), "rb") as file:
                return pickle.load(file)  # noqa: S301 - the test's own cache file
        except FileNotFoundError:
            return None
    client = cache._cache.get_client(key, write=False)
    remaining = client.pttl(cache.make_and_validate_key(key))
    return None if remaining < 0 else time.time() + remaining / 1000


def assert_a_midnight(moment: float | None) -> None:
    assert moment is not None
    off = moment % DAY
    assert min(off, DAY - off) < 1.5, f"expires at {datetime.fromtimestamp(moment, UTC)}, not at a midnight"


def assert_times_say_only_the_day(path: Path) -> None:
    found = path.stat()
    assert found.st_mtime % DAY == 0, f"{path} modified at {datetime.fromtimestamp(found.st_mtime, UTC)}"
    assert found.st_atime % DAY == 0, f"{path} read at {datetime.fromtimestamp(found.st_atime, UTC)}"


def count_of(kind: str) -> int:
    return counters.counts(1)[counters.today()][kind]


def witness_side_records(caplog) -> list[str]:
    return [f"{record.name}: {record.getMessage()}" for record in caplog.records if record.name.startswith("intake")]


@pytest.fixture
def pending():
    def make(data: bytes) -> Image:
        submission = Submission.objects.create(receipt_digest=blobs.new_name() * 2, account="x")
        return Image.objects.create(submission=submission, position=0, original_blob=blobs.write(data))

    return make


@pytest.fixture(scope="module")
def hevc_clip(tmp_path_factory) -> bytes:
    from tests.cleaning import videos

    return videos.hevc_mov(tmp_path_factory.mktemp("clips")).read_bytes()


@pytest.fixture
def clean_video(pending, hevc_clip) -> Image:
    """A clean video whose viewing copy is due."""
    image = pending(hevc_clip)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.CLEAN and image.viewing_media_type and not image.viewing_blob
    return image


@contextlib.contextmanager
def a_copy(clean):
    yield io.BytesIO(b"a viewing copy")


# --- 1. What the worker keeps in the cache -----------------------------------------------------------


def test_a_viewing_copy_keeps_its_claim_and_count_of_tries_until_a_midnight_and_leaves_neither(
    clean_video, monkeypatch
):
    claim, attempts = f"intake:viewing-copy:{clean_video.pk}", f"intake:viewing-copy-attempts:{clean_video.pk}"
    seen = {}

    def copy(clean):
        seen.update(claim=expiry_of(claim), attempts=expiry_of(attempts))
        return a_copy(clean)

    monkeypatch.setattr(tasks.video, "viewing_copy", copy)
    tasks.make_viewing_copy(str(clean_video.pk))
    clean_video.refresh_from_db()
    assert clean_video.viewing_blob  # made
    # While the copy is made (and after a worker killed making it), both say a day, not a time.
    assert_a_midnight(seen["claim"])
    assert seen["claim"] >= time.time() + settings.INTAKE_VIEWING_COPY_TIME_LIMIT
    assert_a_midnight(seen["attempts"])
    # Once made, neither stays.
    assert expiry_of(claim) is None and cache.get(claim) is None
    assert expiry_of(attempts) is None and cache.get(attempts) is None


def test_a_viewing_copy_that_fails_is_given_up_and_leaves_no_count_of_tries(clean_video, monkeypatch):
    attempts = f"intake:viewing-copy-attempts:{clean_video.pk}"

    def fails(clean):
        raise RuntimeError("no encoder")

    monkeypatch.setattr(tasks.video, "viewing_copy", fails)
    tasks.make_viewing_copy(str(clean_video.pk))
    clean_video.refresh_from_db()
    assert (clean_video.viewing_media_type, clean_video.viewing_blob) == ("", "")  # given up
    assert cache.get(attempts) is None


def test_a_viewing_copy_given_up_after_too_many_tries_leaves_no_count_of_tries(clean_video, monkeypatch):
    attempts = f"intake:viewing-copy-attempts:{clean_video.pk}"
    cache.set(attempts, tasks.VIEWING_COPY_ATTEMPTS)  # the worker was killed each time
    monkeypatch.setattr(tasks.video, "viewing_copy", lambda clean: pytest.fail("tried again"))
    tasks.make_viewing_copy(str(clean_video.pk))
    clean_video.refresh_from_db()
    assert clean_video.viewing_media_type == ""
    assert cache.get(attempts) is None


def test_a_description_keeps_its_count_of_tries_until_a_midnight_and_leaves_it(pending, monkeypatch):
    image = pending(camera_jpeg())
    tasks.clean_image(str(image.pk))
    attempts = f"intake:description-attempts:{image.pk}"
    seen = []
    real = tasks.likeness.describe

    def describe(*args, **kwargs):
        seen.append(expiry_of(attempts))
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks.likeness, "describe", describe)
    tasks.describe_image(str(image.pk))
    assert_a_midnight(seen[0])
    assert cache.get(attempts) is None
    image.refresh_from_db()
    assert image.described


def test_a_description_given_up_after_too_many_tries_leaves_no_count_of_tries(pending, monkeypatch):
    image = pending(camera_jpeg())
    tasks.clean_image(str(image.pk))
    attempts = f"intake:description-attempts:{image.pk}"
    cache.set(attempts, tasks.DESCRIPTION_ATTEMPTS)  # decoding it killed the worker each time
    monkeypatch.setattr(tasks.likeness, "describe", lambda *args, **kwargs: pytest.fail("tried again"))
    tasks.describe_image(str(image.pk))
    image.refresh_from_db()
    assert image.described
    assert cache.get(attempts) is None


# --- 2. The blob folders -------------------------------------------------------------------------------


def test_the_blob_folders_times_say_only_the_day_after_blobs_are_written_read_and_removed():
    root = Path(settings.INTAKE_BLOB_DIR)
    first = blobs.write(b"a photo")
    folder = blobs.path_of(first).parent
    for path in (root, folder, blobs.path_of(first)):
        assert_times_say_only_the_day(path)

    # Read by the worker seconds later, and listed by the sweep: the access times do not change.
    time.sleep(0.01)
    assert blobs.read(first) == b"a photo"
    with blobs.open_plaintext(first) as stream:
        assert stream.read() == b"a photo"
    assert blobs.copy_plaintext(first, io.BytesIO()) == len(b"a photo")
    assert blobs.all_names() == [first]
    for path in (root, folder, blobs.path_of(first)):
        assert_times_say_only_the_day(path)

    # A second blob in the same folder, then removed; and a blob given up half-written.
    second = blobs.BlobWriter()
    second.path.unlink()
    second.path = folder / (folder.name + second.name[2:])
    second.discard()
    written = blobs.BlobWriter()
    written.write(b"part of a video")
    written.discard()
    assert_times_say_only_the_day(root)
    assert_times_say_only_the_day(written.path.parent)
    blobs.delete(first)
    assert blobs.all_names() == []
    assert_times_say_only_the_day(root)
    assert_times_say_only_the_day(folder)


# --- 3. No log line when a file fails --------------------------------------------------------------------


def test_an_image_the_cleaner_fails_on_is_counted_for_the_day_and_not_logged(pending, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    image = pending(camera_jpeg())
    before = count_of("image_not_cleaned")

    def breaks(source, limits):
        raise ZeroDivisionError

    monkeypatch.setattr(tasks.cleaning, "clean_media", breaks)
    tasks.clean_image(str(image.pk))
    image.refresh_from_db()
    assert image.state == Image.State.FAILED
    assert count_of("image_not_cleaned") == before + 1
    assert witness_side_records(caplog) == []


def test_a_viewing_copy_that_fails_is_counted_for_the_day_and_not_logged(clean_video, monkeypatch, caplog):
    before = count_of("viewing_copy_failed")

    def fails(clean):
        raise RuntimeError("no encoder")

    monkeypatch.setattr(tasks.video, "viewing_copy", fails)
    caplog.set_level(logging.DEBUG)
    tasks.make_viewing_copy(str(clean_video.pk))
    assert count_of("viewing_copy_failed") == before + 1
    assert witness_side_records(caplog) == []


def test_a_poster_that_does_not_decode_is_counted_for_the_day_and_not_logged(clean_video, monkeypatch, caplog):
    assert clean_video.poster_blob
    before = count_of("poster_undecodable")

    def undecodable(data):
        raise OSError("cannot identify image file")

    monkeypatch.setattr(tasks.likeness, "picture_of", undecodable)
    caplog.set_level(logging.DEBUG)
    tasks.describe_image(str(clean_video.pk))
    clean_video.refresh_from_db()
    assert clean_video.described
    assert count_of("poster_undecodable") == before + 1
    assert witness_side_records(caplog) == []


def test_manage_counters_lists_the_workers_failures():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("counters", "--days", "1", stdout=out)
    for kind in ("image_not_cleaned", "viewing_copy_failed", "poster_undecodable"):
        assert kind in out.getvalue()


# --- 4. The file-system broker's messages ---------------------------------------------------------------


def messages_in(folder: Path) -> list[Path]:
    """The files in ``folder``, listed as the channel lists it: without updating the folder's access time."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOATIME)
    try:
        return sorted(folder / name for name in os.listdir(descriptor) if (folder / name).is_file())
    finally:
        os.close(descriptor)


def test_a_waiting_message_and_its_folder_say_only_the_day_it_was_sent(tmp_path):
    folder = tmp_path / "broker"
    with filesystem_broker(folder) as connection:
        name = f"images{os.urandom(8).hex()}"
        queue = connection.SimpleQueue(name)
        queue.put({"image": "1" * 32})
        (waiting,) = messages_in(folder)
        # Its name says the day and nothing else: not the milliseconds since the machine started.
        today = datetime.now(UTC).strftime("%Y%m%d")
        assert re.fullmatch(rf"{today}_[0-9a-f]{{32}}\.{name}\.msg", waiting.name), waiting.name
        assert_times_say_only_the_day(waiting)
        assert_times_say_only_the_day(folder)

        # Counted and taken, by a worker polling the folder: its times still say the day only.
        time.sleep(0.01)
        assert queue.qsize() == 1
        assert_times_say_only_the_day(folder)
        message = queue.get(timeout=1)
        assert message.payload == {"image": "1" * 32}
        message.ack()
        assert messages_in(folder) == []
        assert_times_say_only_the_day(folder)


def test_messages_are_taken_day_by_day(tmp_path):
    """Within a day, in no order; but a message sent yesterday is taken before any of today's."""
    folder = tmp_path / "broker"
    with filesystem_broker(folder) as connection:
        name = f"images{os.urandom(8).hex()}"
        queue = connection.SimpleQueue(name)
        queue.put({"sent": "yesterday"})
        (sent,) = messages_in(folder)
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y%m%d")
        sent.rename(folder / f"{yesterday}_{'f' * 32}.{name}.msg")  # the highest random part there is
        for number in range(4):
            queue.put({"sent": f"today {number}"})
        taken = []
        for _ in range(5):
            message = queue.get(timeout=1)
            taken.append(message.payload["sent"])
            message.ack()
        assert taken[0] == "yesterday"
        assert sorted(taken[1:]) == [f"today {number}" for number in range(4)]
        assert messages_in(folder) == []


def test_without_redis_a_counts_file_and_the_cache_folder_say_only_the_day(settings, tmp_path):
    """The hourly budget of testimonies is counted as each one arrives: its file's times, or the
    folder's, would be the last testimony's to the second."""
    from intake import shared_counts

    folder = tmp_path / "cache"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(folder)}
    }
    assert shared_counts.increment("intake:test-count", time.time() + 3600) == 1
    assert shared_counts.increment("intake:test-count", time.time() + 3600) == 2
    midnight = time.time() // 86400 * 86400
    times = {"the folder": folder.stat()}  # before listing it, which would update its access time
    times |= {path.name: path.stat() for path in folder.glob("*.djcache")}
    assert len(times) == 2
    for name, stat in times.items():
        assert (stat.st_mtime, stat.st_atime) == (midnight, midnight), name
    assert caches["default"].get("intake:test-count") == 2  # the cache still reads its own expiry


def test_without_redis_a_viewing_copy_leaves_the_cache_folder_saying_only_the_day(
    clean_video, monkeypatch, settings, tmp_path
):
    """Its claim is added and removed, and its count of tries removed: each changes the cache folder."""
    folder = tmp_path / "cache"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(folder)}
    }
    monkeypatch.setattr(tasks.video, "viewing_copy", a_copy)
    tasks.make_viewing_copy(str(clean_video.pk))
    clean_video.refresh_from_db()
    assert clean_video.viewing_blob
    midnight = time.time() // 86400 * 86400
    assert (folder.stat().st_mtime, folder.stat().st_atime) == (midnight, midnight)


def test_a_claim_left_by_a_worker_killed_while_making_a_copy_is_released_when_a_worker_starts(clean_video):
    """Else the copy would wait for the claim's midnight, up to a day."""
    claim = f"intake:viewing-copy:{clean_video.pk}"
    cache.add(claim, 1, timeout=3600)
    tasks._release_viewing_copy_claims()
    assert cache.get(claim) is None


def test_a_worker_starts_its_sweeps_even_when_the_claims_cannot_be_released(monkeypatch):
    """As a worker comes back while the database is still restarting: cleaning must resume within seconds."""
    from django.db import OperationalError

    started, queued = [], []

    def away():
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(tasks, "_release_viewing_copy_claims", away)
    monkeypatch.setattr(tasks, "watch_for_waiting_images", lambda interval: started.append(interval))
    monkeypatch.setattr(tasks.requeue_pending, "delay", lambda: queued.append(True))
    tasks._sweep_at_start(sender=None)
    for thread in threading.enumerate():
        if thread.name == "intake-quick-sweep":
            thread.join(timeout=5)
    assert started == [settings.INTAKE_QUICK_SWEEP_SECONDS] and queued == [True]
