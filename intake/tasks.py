"""Background work: cleaning each uploaded image, and the sweep that makes sure none is forgotten."""
from __future__ import annotations

import logging
import resource
from datetime import UTC, datetime, timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q

from intake import actions, blobs, cleaning, crypto
from intake.models import Image

log = logging.getLogger(__name__)

# A file that kills the worker process (it is re-delivered each time) is refused after this many tries.
MAX_ATTEMPTS = 3


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, OSError),
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
    Image.objects.filter(pk=image.pk).update(attempts=F("attempts") + 1)
    try:
        data = blobs.read(image.original_blob)
    except (crypto.DecryptionError, FileNotFoundError):
        actions.record_failure(image, "The upload could not be read back from storage.")
        return
    try:
        cleaned = cleaning.clean(data)
    except cleaning.Refused as refusal:
        actions.record_failure(image, refusal.reason)
    except SoftTimeLimitExceeded:
        actions.record_failure(image, "Cleaning took longer than the time limit.")
    except MemoryError:
        actions.record_failure(image, "Cleaning needed more memory than allowed.")
    except Exception as error:  # noqa: BLE001 - a hostile file must not stop the queue
        # The type of error only: its message could quote the file.
        log.error("cleaning image %s failed with %s", image.pk, type(error).__name__)
        actions.record_failure(image, "The file could not be cleaned.")
    else:
        actions.record_clean(image, cleaned)


@shared_task
def requeue_pending() -> int:
    """Enqueue every image still waiting (the broker may have been down when it arrived) and remove
    blobs that no row refers to (left by a request that died), once they are a day old."""
    pending = list(Image.objects.filter(state=Image.State.PENDING).values_list("pk", flat=True))
    for image_id in pending:
        clean_image.delay(str(image_id))
    _remove_orphan_blobs()
    return len(pending)


def _remove_orphan_blobs() -> None:
    names = set(blobs.all_names())
    if not names:
        return
    referenced = Image.objects.filter(Q(original_blob__in=names) | Q(clean_blob__in=names))
    known = set(referenced.values_list("original_blob", flat=True)) | set(
        referenced.values_list("clean_blob", flat=True)
    )
    day_ago = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    for name in names - known:
        if blobs.path_of(name).stat().st_mtime < day_ago:
            blobs.delete(name)


@worker_ready.connect
def _sweep_at_start(sender, **kwargs):
    requeue_pending.delay()


@worker_process_init.connect
def _limit_memory(**kwargs):
    limit = settings.INTAKE_WORKER_MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
