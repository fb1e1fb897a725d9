"""Counts shared by every process of the service, kept in Django's cache: the global budgets and rates
(intake.throttle, intake.floods) and the per-day refusal counters (intake.counters).

Redis increments atomically by itself. The file-based cache (a laptop, or an onion service run without
Redis) reads and rewrites a file, so the processes of one machine take turns through a lock file beside
it; without it, concurrent requests lose increments and a budget could be overrun.
"""
from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache


def increment(key: str, timeout: int) -> int:
    """Add one to ``key`` (created at zero, living ``timeout`` seconds) and return the new count.
    Cache errors reach the caller, which decides what a lost count means."""
    cache = caches["default"]
    with _shared_lock(cache):
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.set(key, 1, timeout=timeout)
            return 1


@contextlib.contextmanager
def _shared_lock(cache):
    if not isinstance(cache, FileBasedCache):
        yield
        return
    folder = Path(cache._dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / "intake-counts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
