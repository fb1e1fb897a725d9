"""One-time form tokens: a witness's form is acted on once, however often the browser sends it.

A reload of the page that answered a form, a second tap on its button, Back then Forward, or a retry
after the answer was lost on a bad connection all send the same form again. Each witness form that
stores something carries a hidden random token, made when the form is drawn:

    <input type="hidden" name="{{ sent_forms.FIELD }}" value="{{ token }}">   # token = new_token()

and its view does, in this order:

    token = request.POST.get(sent_forms.FIELD, "")
    seen = sent_forms.check(token)
    if seen.state == sent_forms.TOO_OLD:   # it may have been sent: show nothing of it, store nothing
    elif seen.state == sent_forms.SENT:    # sent before: store nothing; seen.kept is what claim() kept,
                                           # while it may still be shown (SHOWN_AGAIN_FOR), else None
    elif seen.state == sent_forms.MISSING: # a page drawn before tokens existed, or a forged form: store
                                           # nothing, give the form back with its text and a new token
    else:                                  # FRESH: validate, then store, and in the same transaction:
        with transaction.atomic():
            sent_forms.claim(token, keep={"receipt": receipt})   # or keep=None (a reply)
            ... the writes ...
        # claim raises AlreadySent when another request with this token got there first (two taps at
        # once): the transaction rolls back, and the view answers as for SENT (check() again).

Every page drawn with a form gets a new token (a refused form too): only a form that stored something
has a claimed token, and only its repeats are refused.

What the database holds (``SentForm``): the SHA-256 of the token, the day after which the token could
no longer be sent anyway, and what ``keep`` was given, sealed under a key derived from the token
(intake.crypto.seal_with_token). The token itself is kept nowhere on the server, so the sealed receipt
opens only for a request that carries it, and only within SHOWN_AGAIN_FOR of sending, a bound sealed
with it. The row is not linked to what the form stored. Rows whose day has passed are removed on every
check and by the worker's sweep (intake.tasks.requeue_pending).

A token names the day its form was drawn and is refused TOKEN_DAYS days later (TOO_OLD): the rows can
then go, and a form of any age is still never stored twice. Days, never times: nothing here dates a
witness's visit to finer than a day in the clear.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from intake import crypto
from intake.models import SentForm

FIELD = "sent_form"
TOKEN_BYTES = 32
# A form may be sent on the day it was drawn and this many days after: long enough for a witness who
# writes over a night, short enough that the rows that guard against repeats do not pile up.
TOKEN_DAYS = 2
# A receipt is shown again for this long after it was first shown, rounded up to a quarter hour.
SHOWN_AGAIN_FOR = timedelta(minutes=15)
QUARTER_HOUR = 15 * 60

FRESH, SENT, MISSING, TOO_OLD = "fresh", "sent", "missing", "too_old"
TOKEN_PATTERN = re.compile(r"(\d{1,6})\.([A-Za-z0-9_-]{43})")
EPOCH = date(1970, 1, 1)


class AlreadySent(Exception):
    """claim(): the form carrying this token was already acted on. Nothing must be stored."""


class Unusable(ValueError):
    """claim() was given a token that check() calls MISSING or TOO_OLD: a bug in the view."""


@dataclass(frozen=True)
class Seen:
    state: str  # FRESH, SENT, MISSING or TOO_OLD
    kept: dict[str, Any] | None = None  # SENT only: what claim() kept, while it may be shown again


def new_token() -> str:
    """A token for a form about to be drawn: the day, and 256 random bits."""
    return f"{(_today() - EPOCH).days}.{secrets.token_urlsafe(TOKEN_BYTES)}"


def check(token: str) -> Seen:
    """What a form carrying ``token`` may do. Removes the rows whose day has passed."""
    day = _drawn_on(token)
    if day is None:
        return Seen(MISSING)
    if (_today() - day).days > TOKEN_DAYS:
        return Seen(TOO_OLD)
    SentForm.objects.filter(expires_at__lte=timezone.now()).delete()
    row = SentForm.objects.filter(digest=_digest(token)).first()
    if row is None:
        return Seen(FRESH)
    if row.sealed_receipt is None:
        return Seen(SENT)
    try:
        opened = json.loads(crypto.open_with_token(bytes(row.sealed_receipt), token, _context(row.digest)))
    except crypto.DecryptionError:  # altered in the database: what it kept is lost, the repeat still refused
        return Seen(SENT)
    if timezone.now().timestamp() >= opened["until"]:
        SentForm.objects.filter(pk=row.pk).update(sealed_receipt=None)  # its time is over: it goes
        return Seen(SENT)
    return Seen(SENT, opened["kept"])


def claim(token: str, *, keep: dict[str, Any] | None = None) -> None:
    """Record that the form carrying ``token`` is acted on, keeping ``keep`` (small, JSON) to be shown
    again by check() for SHOWN_AGAIN_FOR. Call it inside the transaction that stores what the form
    brought, before its writes, so that both are committed or neither. Raises AlreadySent if the token
    was claimed before or is being claimed by a concurrent transaction, which this one then waits for.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("claim() belongs in the transaction that stores what the form brought")
    day = _drawn_on(token)
    if day is None or (_today() - day).days > TOKEN_DAYS:
        raise Unusable("a form is stored only with a token that check() calls FRESH")
    digest = _digest(token)
    sealed = None
    if keep is not None:
        until = math.ceil((timezone.now() + SHOWN_AGAIN_FOR).timestamp() / QUARTER_HOUR) * QUARTER_HOUR
        plaintext = json.dumps({"until": until, "kept": keep}).encode()
        sealed = crypto.seal_with_token(plaintext, token, _context(digest))
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction is rolled back by AlreadySent
            SentForm.objects.create(digest=digest, expires_at=_expires_at(day), sealed_receipt=sealed)
    except IntegrityError:
        raise AlreadySent from None


def sweep() -> int:
    """Remove the rows whose tokens can no longer be sent; the number removed."""
    removed, _ = SentForm.objects.filter(expires_at__lte=timezone.now()).delete()
    return removed


def _drawn_on(token: str) -> date | None:
    """The day a well-formed token was made; None for anything else, or a day still to come."""
    match = TOKEN_PATTERN.fullmatch(token or "")
    if match is None:
        return None
    day = EPOCH + timedelta(days=int(match[1]))
    return day if day <= _today() else None


def _expires_at(day: date) -> datetime:
    """The start of the first day on which a token of ``day`` is TOO_OLD."""
    return datetime.combine(day + timedelta(days=TOKEN_DAYS + 1), time(), tzinfo=UTC)


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _context(digest: str) -> bytes:
    return crypto.field_context(SentForm._meta.db_table, "sealed_receipt", digest)
