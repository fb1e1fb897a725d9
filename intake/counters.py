"""Counts of refused requests per day, kept in the cache instead of log lines; and likewise of the
worker's failures on a witness's file.

A log line carries the time it was written, and a refused witness request (a form that expired, a body
too large, a host name not served, a busy service) would date a visit. So these refusals are only
counted, per day and per kind, and ``manage.py counters`` prints the counts: an operator still sees a
flood, and no one learns when a witness came. The worker works on a file seconds after it was uploaded,
so what goes wrong with one (a photo the cleaner fails on, a viewing copy that cannot be made) is
counted the same way. A count has no more detail than its kind, such as the type of error: the kinds
are a fixed list, which ``manage.py counters`` prints in full.

``CountRefusals`` is the logging handler that does this for Django's own loggers (``django.security.*``
and the 4xx answers of ``django.request``); everything else it is given, such as a server error, it
writes like a plain ``StreamHandler``. Refusals made by this service's own code call ``count``.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, timedelta

from django.core.cache import cache

from intake import shared_counts

# Every kind counted, with what it means (``manage.py counters`` prints them in this order).
KINDS = {
    "too_large": "bodies larger than the limits",
    "cut_off": "bodies that did not arrive whole",
    "too_slow": "bodies that arrived too slowly and were cut off",
    "busy_uploads": "bodies refused unread: too many being received at once",
    "busy_status": "receipt look-ups refused: too many at once or in the minute",
    "busy_submissions": "testimonies refused: the hourly budget was spent",
    "disk_low": "testimonies refused: the blob folder's disk was nearly full",
    "database_down": "witness requests that met a database error",
    "expired_access": "answers sent from a testimony's page after its hour: the receipt asked again",
    "csrf_failure": "forms refused by the CSRF check",
    "bad_host": "requests for a host name not served",
    "bad_request": "other requests refused as malformed or suspicious (400)",
    "not_found": "pages not found (404)",
    "other_refusal": "other refusals (4xx)",
    "image_not_cleaned": "images the cleaner failed on with an unexpected error (refused: could not be cleaned)",
    "viewing_copy_failed": "videos whose viewing copy could not be made (reviewers download the clean file)",
    "poster_undecodable": "videos whose poster frame did not decode for the likeness hash (not compared)",
}
KEEP_DAYS = 8

_SECURITY_KINDS = {
    "django.security.csrf": "csrf_failure",
    "django.security.DisallowedHost": "bad_host",
    "django.security.RequestDataTooBig": "too_large",
    "django.security.TooManyFieldsSent": "too_large",
    "django.security.TooManyFilesSent": "too_large",
}
_STATUS_KINDS = {400: "bad_request", 404: "not_found", 413: "too_large"}
_counting = threading.local()


def _key(day: date, kind: str) -> str:
    return f"counters:{day.isoformat()}:{kind}"


def today() -> date:
    return datetime.now(UTC).date()


def count(kind: str, request=None) -> None:
    """Add one to today's count of ``kind``. Marks ``request`` so that its log record is not counted again.

    Never fails the request: with the cache unreachable, the count is lost, not the witness's answer.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown counter {kind!r}")
    if request is not None:
        request.refusal_counted = True
    if getattr(_counting, "active", False):  # the cache client logging its own failure
        return
    _counting.active = True
    try:
        day = today()
        kept_until = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=KEEP_DAYS)
        shared_counts.increment(_key(day, kind), until=kept_until.timestamp())
    except Exception:  # noqa: BLE001, S110 - any cache failure: a count is worth less than the answer
        pass
    finally:
        _counting.active = False


def counts(days: int = 7) -> dict[date, dict[str, int]]:
    """The counts of the last ``days`` days, today included, newest first."""
    first = today()
    result = {}
    for offset in range(days):
        day = first - timedelta(days=offset)
        found = cache.get_many([_key(day, kind) for kind in KINDS])
        result[day] = {kind: int(found.get(_key(day, kind), 0)) for kind in KINDS}
    return result


def kind_of(record: logging.LogRecord) -> str | None:
    """The kind a log record counts as, or None if it is to be written (a server error, say)."""
    if record.name.startswith("django.security."):
        return _SECURITY_KINDS.get(record.name, "bad_request")
    status = getattr(record, "status_code", None)
    if record.name == "django.request" and isinstance(status, int) and (400 <= status < 500 or status == 503):
        return _STATUS_KINDS.get(status, "other_refusal")
    return None


class CountRefusals(logging.StreamHandler):
    """Counts refused requests instead of writing them; writes every other record it is given."""

    def emit(self, record: logging.LogRecord) -> None:
        kind = kind_of(record)
        if kind is None:
            super().emit(record)
            return
        request = getattr(record, "request", None)
        if not getattr(request, "refusal_counted", False):
            count(kind, request)
