"""Bounds on what the witness side can be made to spend. None of them tracks anyone.

- Slots: how many request bodies one process reads at once, and how many receipts it looks up at once
  (each look-up is an scrypt of 32 MB). Taking a slot never waits: without a free one, the witness is
  told at once that the service is busy, and no thread is held.
- Rates for the whole service, counted in the cache (Redis when there is one, else files under var/):
  receipt look-ups per minute and testimonies stored per hour (a witness's answer counts as one).
- The free-disk floor of the blob folder.
- The busy page.

A refusal here loses nothing: it comes before anything is stored, and nothing already stored is touched.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

from intake import counters, shared_counts

RETRY_AFTER_SECONDS = 60
# Why a testimony is refused before anything of it is stored (see intake.witness.views).
SUBMISSIONS_BUSY = "busy_submissions"
DISK_LOW = "disk_low"

_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


@contextlib.contextmanager
def slot(name: str, size: int):
    """Take one of ``size`` slots named ``name`` in this process, without waiting; yields whether one was free."""
    with _semaphores_lock:
        semaphore = _semaphores.setdefault((name, size), threading.BoundedSemaphore(size))
    if not semaphore.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        semaphore.release()


def _rate_key(name: str, period: int) -> str:
    return f"floods:{name}:{int(time.time() // period)}"


def take_rate(name: str, limit: int, period: int) -> bool:
    """Count one event in the current period; False if that makes more than ``limit``.

    With the cache unreachable this answers True: a guard against floods must not refuse every witness.
    """
    try:
        window_end = (int(time.time() // period) + 1) * period
        return shared_counts.increment(_rate_key(name, period), until=window_end + period) <= limit
    except Exception:  # noqa: BLE001 - any cache failure
        return True


def rate_spent(name: str, limit: int, period: int) -> bool:
    try:
        return (cache.get(_rate_key(name, period)) or 0) >= limit
    except Exception:  # noqa: BLE001 - any cache failure
        return False


def forget_rates() -> None:
    """Start the current minute's and hour's counts again from zero (the tests; an operator after a flood)."""
    cache.delete_many([_rate_key("status", 60), _rate_key("submissions", 3600)])


def status_lookup_allowed() -> bool:
    return take_rate("status", settings.INTAKE_STATUS_PER_MINUTE, 60)


def submission_refusal() -> str | None:
    """Why no testimony may be received now, or None. Asked before any upload is written."""
    if rate_spent("submissions", settings.INTAKE_SUBMISSIONS_PER_HOUR, 3600):
        return SUBMISSIONS_BUSY
    if disk_below_floor():
        return DISK_LOW
    return None


def count_submission() -> None:
    take_rate("submissions", settings.INTAKE_SUBMISSIONS_PER_HOUR, 3600)


def disk_below_floor() -> bool:
    folder = Path(settings.INTAKE_BLOB_DIR)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free < settings.INTAKE_MIN_FREE_DISK_MB * 1024 * 1024


def busy(request, kind: str, template: str = "busy.html", context: dict | None = None):
    """The answer when the service cannot take this request now: 503, try again in a minute."""
    counters.count(kind, request)
    # The busy page tells the witness to reload it, which sends the form again: its history entry stays.
    response = render(request, template, {"reload_sends_again": True, **(context or {})}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
