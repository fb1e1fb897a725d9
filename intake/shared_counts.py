"""Counts shared by every process of the service, kept in Django's cache: the global budgets and rates
(intake.throttle, intake.floods) and the per-day refusal counters (intake.counters).

Redis increments atomically by itself. The file-based cache (a laptop, or an onion service run without
Redis) reads and rewrites a file, so the processes of one machine take turns through a lock file beside
it; without it, concurrent requests lose increments and a budget could be overrun.

A count's expiry is a moment its caller derives from the count's window (the end of the hour, say),
never from the first event: an expiry set when the first testimony of the hour arrived would keep that
time, to the second, in Redis. For the same reason the file cache's count files, and their folder, are
given midnight times once written: their modification time would be the time of the last count.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache


def increment(key: str, until: float) -> int:
    """Add one to ``key`` (created at zero, kept until the epoch time ``until``) and return the new
    count. Cache errors reach the caller, which decides what a lost count means."""
    cache = caches["default"]
    timeout = max(60, int(until - time.time()))
    with _shared_lock(cache) as locked:
        if locked:
            # Django's incr on this cache would also reset the expiry to the default five minutes.
            count = (cache.get(key) or 0) + 1
            cache.set(key, count, timeout=timeout)
            say_only_the_day(key)
            return count
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)  # Redis keeps the expiry that add set
        except ValueError:  # expired between the two calls
            cache.set(key, 1, timeout=timeout)
            return 1


@contextlib.contextmanager
def _shared_lock(cache):
    if not isinstance(cache, FileBasedCache):
        yield False
        return
    folder = Path(cache._dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(folder / "intake-counts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def say_only_the_day(key: str) -> None:
    """With the file cache, set the times of ``key``'s file (if any) and of the cache folder to today's
    midnight (UTC), after anything wrote or removed it; with Redis, nothing. The cache reads its expiry
    from inside the file, never from these times."""
    cache = caches["default"]
    if not isinstance(cache, FileBasedCache):
        return
    files: Any = cache  # its paths are missing from its stubs
    midnight = time.time() // 86400 * 86400
    for path in (files._key_to_file(key), files._dir):
        with contextlib.suppress(OSError):  # a count is worth less than the answer it belongs to
            os.utime(path, (midnight, midnight))
