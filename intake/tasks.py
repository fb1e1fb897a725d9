"""Background work: cleaning each uploaded image, and the sweeps that make sure none is forgotten.

Two sweeps enqueue images that wait with no message (the broker was away when they arrived, or a message
was lost): a slow one every few minutes, which also removes orphan blobs, and a quick one in the worker's
main process, which knows the messages its worker holds (``watch_for_waiting_images``).
"""

from __future__ import annotations

import logging
import math
import operator
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import BinaryIO

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready
from celery.worker import state as worker_state
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections
from django.db.models import F, Q
from kombu.exceptions import ChannelError

from intake import actions, blobs, cleaning, counters, crypto, likeness, process_limits, sent_forms, shared_counts
from intake.cleaning import video
from intake.cleaning.reasons import Reason
from intake.models import Image

log = logging.getLogger(__name__)

# A file that kills the worker process (it is re-delivered each time) is refused after this many tries.
MAX_ATTEMPTS = 3
# With less than this free in the blob folder the worker does not start on a file: its result could not be
# stored (a full disk), and parsing it only to find that out, every minute, would be wasted.
STORAGE_FLOOR_BYTES = 1024 * 1024
# A viewing copy whose making stopped the worker this many times is given up (the clean file stays).
VIEWING_COPY_ATTEMPTS = 3
# Likewise a preview and perceptual hash (intake.likeness): the image is then described without them.
DESCRIPTION_ATTEMPTS = 3
# A blob folder that cannot be written is tried again after 2, 4, 8... seconds, never more than this apart.
STORAGE_RETRY_MAX_SECONDS = 60
# A count of a task's tries is kept in the cache until the midnight (UTC) this many days after the end of
# the day of a try, and goes as soon as the task succeeds or gives up. Like every expiry set here, it is a
# midnight, never "now + N seconds": that would keep the moment of a try, which follows a witness's upload
# by seconds, in Redis or in the file cache.
TRIES_KEPT_DAYS = 5


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, OSError, crypto.DecryptionError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
)
def clean_image(image_id: str) -> None:
    try:
        image = Image.objects.filter(pk=image_id, state=Image.State.PENDING).first()
    except ValidationError:  # not an image id at all: a message that is not ours
        return
    if image is None:
        return
    if image.attempts >= MAX_ATTEMPTS:
        actions.record_failure(image, Reason.STOPPED_CLEANING, {"attempts": image.attempts})
        return
    try:
        upload = _plaintext_in_memory(image.original_blob)
    except FileNotFoundError:
        actions.record_failure(image, Reason.UPLOAD_MISSING)
        return
    except crypto.DecryptionError:
        # Most likely this worker runs other keys than the web process (a rotation deployed out of
        # order, a wrong INTAKE_KEYS): the upload is kept and tried again, never destroyed.
        log.error("an upload does not decrypt with this worker's keys: check that INTAKE_KEYS matches the web's")
        if clean_image.request.retries >= clean_image.max_retries:
            # Ten tries, minutes apart, have failed: let the rest of the testimony reach reviewers,
            # and keep the upload, still encrypted, for an operator to try again (docs/deployment.md).
            actions.record_failure(image, Reason.UNDECRYPTABLE, keep_original=True)
            return
        raise
    try:
        blobs.ensure_free_space(STORAGE_FLOOR_BYTES)
        # Counted just before the part that parses the hostile file, which is what can kill the process.
        Image.objects.filter(pk=image.pk).update(attempts=F("attempts") + 1)
    except BaseException as error:
        upload.close()  # up to a video's size in memory: not left for the garbage collector
        if isinstance(error, OSError):  # the blob folder: wait for room, never counted against the file
            raise _wait_for_storage(error) from error
        raise
    try:
        with upload:
            cleaned = cleaning.clean_media(upload, _limits())
    except cleaning.Refused as refusal:
        actions.record_failure(image, refusal.code, refusal.params)
    except SoftTimeLimitExceeded:
        actions.record_failure(image, Reason.TIME_LIMIT)
    except MemoryError:
        actions.record_failure(image, Reason.MEMORY_LIMIT)
    except Exception:  # noqa: BLE001 - a hostile file must not stop the queue
        # Counted for the day, not logged: a log line's time, seconds after the upload, would date it.
        counters.count("image_not_cleaned")
        actions.record_failure(image, Reason.COULD_NOT_CLEAN)
    else:
        try:
            with cleaned.file:
                actions.record_clean(image, cleaned)
        except (DatabaseError, OSError) as error:
            # The file was fine, storage was not: this try does not count against the file.
            Image.objects.filter(pk=image.pk).update(attempts=F("attempts") - 1)
            if isinstance(error, blobs.StorageError):
                raise _wait_for_storage(error) from error
            raise


def _plaintext_in_memory(blob: str) -> BinaryIO:
    """The plaintext of an upload in a memory-backed file (intake.cleaning.video.memfile), never on a
    disk, and never whole in the worker's own memory as ``bytes``: a video may be 500 MB."""
    file = video.memfile("upload")
    try:
        blobs.copy_plaintext(blob, file)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


def _limits() -> cleaning.Limits:
    return cleaning.Limits(
        photo_bytes=settings.INTAKE_MAX_IMAGE_BYTES,
        video_bytes=settings.INTAKE_MAX_VIDEO_BYTES,
        video_seconds=settings.INTAKE_MAX_VIDEO_SECONDS,
    )


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, blobs.StorageError),
    retry_backoff=30,
    max_retries=5,
    time_limit=settings.INTAKE_VIEWING_COPY_TIME_LIMIT,
    soft_time_limit=settings.INTAKE_VIEWING_COPY_TIME_LIMIT - 10,
)
def make_viewing_copy(image_id: str) -> None:
    """A copy of a clean video that browsers can play (intake.cleaning.video.viewing_copy). If it cannot
    be made, reviewers still download the clean file; nothing is lost and the witness is not told.

    A copy may take most of an hour, and the slow sweep enqueues every copy still due: a claim in the
    cache keeps a second message from making the same copy at once, and a copy whose making killed the
    worker (its message comes back) is given up after VIEWING_COPY_ATTEMPTS tries. The claim is kept
    until the first midnight at least the task's time limit away: a worker killed while making a copy
    leaves it, and the copy is tried again when a worker starts (``_release_viewing_copy_claims``), or on
    the next sweep after that midnight."""
    due = Image.objects.filter(pk=image_id, state=Image.State.CLEAN, viewing_blob="").exclude(viewing_media_type="")
    image = due.first()
    if image is None:
        return
    claim, attempts = f"intake:viewing-copy:{image.pk}", f"intake:viewing-copy-attempts:{image.pk}"
    claimed = cache.add(claim, 1, timeout=_seconds_until(_midnight_after(settings.INTAKE_VIEWING_COPY_TIME_LIMIT + 60)))
    shared_counts.say_only_the_day(claim)
    if not claimed:
        return  # being made by another worker process, or by this one under another message
    try:
        if _another_try(attempts) > VIEWING_COPY_ATTEMPTS:
            _give_up_viewing_copy(image)
            _forget(attempts)
            return
        with _plaintext_in_memory(image.clean_blob) as clean, video.viewing_copy(clean) as copy:
            actions.record_viewing_copy(image, copy)
        _forget(attempts)
    except (DatabaseError, blobs.StorageError):
        raise
    except Exception:  # noqa: BLE001 - a copy that cannot be made is given up, not retried for ever
        counters.count("viewing_copy_failed")  # for the day: a log line's time would date the video
        _give_up_viewing_copy(image)
        _forget(attempts)
    finally:
        _forget(claim)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, blobs.StorageError),
    retry_backoff=30,
    max_retries=5,
)
def describe_image(image_id: str) -> None:
    """A clean photo's preview and perceptual hash (intake.likeness); a video's from its poster frame,
    which is its preview already. A picture beyond the viewing bound, or one that does not decode, is
    described without them: reviewers download it and never see it inline."""
    try:
        image = Image.objects.filter(pk=image_id, state=Image.State.CLEAN, described=False).first()
    except ValidationError:  # not an image id at all: a message that is not ours
        return
    if image is None:
        return
    attempts = f"intake:description-attempts:{image.pk}"
    if _another_try(attempts) > DESCRIPTION_ATTEMPTS:  # decoding it stopped the worker each time
        actions.record_description(image, likeness.Description())
        _forget(attempts)
        return
    try:
        if image.is_video:
            description = _describe_poster(image)
        else:
            with _plaintext_in_memory(image.clean_blob) as clean:
                description = likeness.describe(clean, image.width, image.height)
    except FileNotFoundError:  # the clean file is gone: there is nothing to show
        description = likeness.Description()
    except MemoryError:
        description = likeness.Description()
    actions.record_description(image, description)
    _forget(attempts)


def _describe_poster(image: Image) -> likeness.Description:
    if not image.poster_blob:
        return likeness.Description()
    try:
        hash_bytes, quality = likeness.pdq(likeness.picture_of(blobs.read(image.poster_blob)))
    except (DatabaseError, blobs.StorageError, crypto.DecryptionError):
        raise
    except Exception:  # noqa: BLE001 - a poster that does not decode only means no likeness
        counters.count("poster_undecodable")  # for the day: a log line's time would date the video
        return likeness.Description()
    return likeness.Description(pdq=hash_bytes, quality=quality)


def _another_try(counter: str) -> int:
    """Count one more try of a task whose message comes back when the work kills the worker (``acks_late``),
    in the cache, until a midnight TRIES_KEPT_DAYS on; returns the count, this try included. The caller
    deletes the count once the task has succeeded or given up."""
    return shared_counts.increment(counter, until=_midnight_after(0, days=TRIES_KEPT_DAYS))


def _midnight_after(seconds: float, days: int = 0) -> float:
    """The epoch time of the first UTC midnight at least ``seconds`` from now, ``days`` more days on: a
    moment that says the day, for an expiry in the cache."""
    return (math.ceil((time.time() + seconds) / 86400) + days) * 86400


def _seconds_until(moment: float) -> int:
    """A cache timeout that ends at ``moment`` (within the second after it, since caches count whole seconds)."""
    return max(1, math.ceil(moment - time.time()))


def _give_up_viewing_copy(image: Image) -> None:
    Image.objects.filter(pk=image.pk, viewing_blob="").update(viewing_media_type="")


def _wait_for_storage(error: OSError) -> Exception:
    """The retry of a task that could not store its result: later, with backoff, and never counted
    against the file. After the task's last retry the image waits for the sweeps."""
    log.warning("the blob folder cannot be written (%s): images wait until it can", error.strerror)
    ceiling = min(STORAGE_RETRY_MAX_SECONDS, 2 ** (clean_image.request.retries + 1))
    return clean_image.retry(exc=error, countdown=random.uniform(ceiling / 2, ceiling))  # noqa: S311


@shared_task
def requeue_pending() -> int:
    """Enqueue every image still waiting (the broker may have been down when it arrived), remove
    blobs that no row refers to (left by a request that died) once they are surely two days old, and
    the sent forms whose tokens can no longer be sent (intake.sent_forms).

    Each queue's work is enqueued only when that queue is empty: a backlog is not multiplied every sweep."""
    _remove_orphan_blobs()
    sent_forms.sweep()
    pending = []
    if _queued_messages() == 0:
        pending = list(Image.objects.filter(state=Image.State.PENDING).values_list("pk", flat=True))
        for image_id in pending:
            clean_image.delay(str(image_id))
    if _queued_messages(settings.AFTER_CLEANING_QUEUE) == 0:
        copies_due = Image.objects.filter(state=Image.State.CLEAN, viewing_blob="").exclude(viewing_media_type="")
        for image_id in copies_due.values_list("pk", flat=True):
            make_viewing_copy.delay(str(image_id))
        # Clean files not yet described: their message was lost, or they were cleaned before previews existed.
        for image_id in Image.objects.filter(state=Image.State.CLEAN, described=False).values_list("pk", flat=True):
            describe_image.delay(str(image_id))
    return len(pending)


def _queued_messages(queue: str | None = None) -> int:
    """How many messages wait in ``queue``: by default the cleaning queue (settings.CELERY_TASK_QUEUES)."""
    with clean_image.app.connection_for_write() as connection:
        try:
            return connection.default_channel.queue_declare(
                queue=queue or clean_image.app.conf.task_default_queue, passive=True
            ).message_count
        except ChannelError:  # the queue does not exist yet: nothing was ever sent to it
            return 0


def _remove_orphan_blobs() -> None:
    names = set(blobs.all_names())
    if not names:
        return
    kinds = Image.BLOB_FIELDS
    referenced = Image.objects.filter(reduce(operator.or_, (Q(**{f"{kind}__in": names}) for kind in kinds)))
    known = {name for row in referenced.values_list(*kinds) for name in row}
    # File times are blurred to midnight, so a blob written just before midnight looks a day older.
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    for name in names - known:
        try:
            old = blobs.path_of(name).stat().st_mtime < two_days_ago
        except FileNotFoundError:  # deleted since it was listed: by a request, or by this worker
            continue
        if old:
            blobs.delete(name)


def requeue_waiting(waited_before: set[str]) -> set[str]:
    """One round of the quick sweep, run in the worker's main process: if the queue is empty, enqueue the
    images that wait now, and waited a round ago, with no message in this worker's hands (received,
    running, or due for a retry). Returns those that wait now, for the next round.

    Waiting two rounds in a row stands for "older than a round", and leaves the web time to hand off what
    just arrived, without the service keeping the time of any submission."""
    if _queued_messages() > 0:
        return set()
    held = {
        str(request.args[0])
        for request in worker_state.requests.copy().values()
        if request.task_name == clean_image.name and request.args
    }
    waiting = {str(pk) for pk in Image.objects.filter(state=Image.State.PENDING).values_list("pk", flat=True)}
    waiting -= held
    for image_id in waiting & waited_before:
        clean_image.delay(image_id)
    return waiting


def watch_for_waiting_images(interval: float) -> None:
    """The quick sweep, every ``interval`` seconds, for as long as the worker runs. When the broker comes
    back after an outage, or a message was lost, cleaning resumes within two rounds."""
    waited: set[str] = set()
    while True:
        time.sleep(interval)
        try:
            waited = requeue_waiting(waited)
        except Exception:  # noqa: BLE001 - the database or the broker is away: the next round tries again
            waited = set()
        finally:
            connections.close_all()  # this thread's: none stays open while the pool forks a child


def _forget(key: str) -> None:
    cache.delete(key)
    shared_counts.say_only_the_day(key)  # without Redis, the cache folder's time would be this moment's


def _release_viewing_copy_claims() -> None:
    """A worker that starts is making no copy: a claim on a copy still due was left by a worker killed
    while making it (a deploy, the time limit, memory), and is released so that its message, back in the
    queue, tries again now rather than after the claim's midnight. Another worker still making that copy
    (a second machine) would have it made twice, which wastes time and loses nothing."""
    due = Image.objects.filter(state=Image.State.CLEAN, viewing_blob="").exclude(viewing_media_type="")
    for image_id in due.values_list("pk", flat=True):
        _forget(f"intake:viewing-copy:{image_id}")


@worker_ready.connect
def _sweep_at_start(sender, **kwargs):
    try:
        _release_viewing_copy_claims()
    except Exception as error:  # noqa: BLE001 - the database or the cache may still be away
        log.warning("viewing copies' claims not released at start (%s): they end at midnight", type(error).__name__)
    finally:
        connections.close_all()
    threading.Thread(
        target=watch_for_waiting_images,
        args=(settings.INTAKE_QUICK_SWEEP_SECONDS,),
        name="intake-quick-sweep",
        daemon=True,
    ).start()
    requeue_pending.delay()


@worker_process_init.connect
def limit_worker_process(**kwargs):
    process_limits.forbid_core_dumps()
    process_limits.limit_address_space(settings.INTAKE_WORKER_MEMORY_MB)
