"""Background work: cleaning each uploaded image, and the sweep that makes sure none is forgotten."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q
from kombu.exceptions import ChannelError

from intake import actions, blobs, cleaning, crypto, process_limits
from intake.models import Image

log = logging.getLogger(__name__)

# A file that kills the worker process (it is re-delivered each time) is refused after this many tries.
MAX_ATTEMPTS = 3
UNREADABLE = "The upload could not be decrypted with the worker's keys. It is kept, encrypted, for an operator."


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
    image = Image.objects.filter(pk=image_id, state=Image.State.PENDING).first()
    if image is None:
        return
    if image.attempts >= MAX_ATTEMPTS:
        actions.record_failure(image, "The file stopped the cleaning process several times.")
        return
    try:
        data = blobs.read(image.original_blob)
    except FileNotFoundError:
        actions.record_failure(image, "The upload could not be read back from storage.")
        return
    except crypto.DecryptionError:
        # Most likely this worker runs other keys than the web process (a rotation deployed out of
        # order, a wrong INTAKE_KEYS): the upload is kept and tried again, never destroyed.
        log.error("an upload does not decrypt with this worker's keys: check that INTAKE_KEYS matches the web's")
        if clean_image.request.retries >= clean_image.max_retries:
            # Ten tries, minutes apart, have failed: let the rest of the testimony reach reviewers,
            # and keep the upload, still encrypted, for an operator to try again (docs/deployment.md).
            actions.record_failure(image, UNREADABLE, keep_original=True)
            return
        raise
    # Counted just before the part that parses the hostile file, which is what can kill the process.
    Image.objects.filter(pk=image.pk).update(attempts=F("attempts") + 1)
    try:
        cleaned = cleaning.clean(data)
    except cleaning.Refused as refusal:
        actions.record_failure(image, refusal.reason)
    except SoftTimeLimitExceeded:
        actions.record_failure(image, "Cleaning took longer than the time limit.")
    except MemoryError:
        actions.record_failure(image, "Cleaning needed more memory than allowed.")
    except Exception as error:  # noqa: BLE001 - a hostile file must not stop the queue
        # The type of error only: its message could quote the file, and an id with the log line's
        # time would say when a witness submitted.
        log.error("cleaning an image failed with %s", type(error).__name__)
        actions.record_failure(image, "The file could not be cleaned.")
    else:
        try:
            actions.record_clean(image, cleaned)
        except (DatabaseError, OSError):
            # The file was fine, storage was not: this try does not count against the file.
            Image.objects.filter(pk=image.pk).update(attempts=F("attempts") - 1)
            raise


@shared_task
def requeue_pending() -> int:
    """Enqueue every image still waiting (the broker may have been down when it arrived) and remove
    blobs that no row refers to (left by a request that died), once they are surely two days old.

    Images are enqueued only when the queue is empty: a backlog is not multiplied every sweep."""
    _remove_orphan_blobs()
    if _queued_messages() > 0:
        return 0
    pending = list(Image.objects.filter(state=Image.State.PENDING).values_list("pk", flat=True))
    for image_id in pending:
        clean_image.delay(str(image_id))
    return len(pending)


def _queued_messages() -> int:
    with clean_image.app.connection_for_write() as connection:
        queue = clean_image.app.conf.task_default_queue
        try:
            return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # the queue does not exist yet: nothing was ever sent to it
            return 0


def _remove_orphan_blobs() -> None:
    names = set(blobs.all_names())
    if not names:
        return
    referenced = Image.objects.filter(Q(original_blob__in=names) | Q(clean_blob__in=names))
    known = set(referenced.values_list("original_blob", flat=True)) | set(
        referenced.values_list("clean_blob", flat=True)
    )
    # File times are blurred to midnight, so a blob written just before midnight looks a day older.
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    for name in names - known:
        try:
            old = blobs.path_of(name).stat().st_mtime < two_days_ago
        except FileNotFoundError:  # deleted since it was listed: by a request, or by this worker
            continue
        if old:
            blobs.delete(name)


@worker_ready.connect
def _sweep_at_start(sender, **kwargs):
    requeue_pending.delay()


@worker_process_init.connect
def limit_worker_process(**kwargs):
    process_limits.forbid_core_dumps()
    process_limits.limit_address_space(settings.INTAKE_WORKER_MEMORY_MB)
