"""Throttles that track no one: failed staff logins per typed account name, a global budget of failed
logins, and global rates for the witness side. Nothing here stores a client address.

INTERFACE (the login views rely on exactly this):

- ``ThrottledModelBackend``: Django's ModelBackend, refusing while the typed name (or the whole
  service) is locked, and counting each failed password against that name. A refusal is raised as a
  ``ValidationError`` carrying the message of ``refusal``, so that Django's login forms (ours and the
  admin's) show it as the form's error; a view that calls ``authenticate()`` outside a form should
  ask ``refusal`` first.
- ``refusal(username) -> str | None``: the message to show instead of checking a password or code,
  if one must be shown now; the same whether or not such an account exists.
- ``record_failure(username, user=None)``: a wrong second-factor code for that name (the backend
  counts wrong passwords itself: do not record those twice).
- ``record_success(username)``: both factors done; the name's failures are forgotten.

Per name (table ``LoginThrottle``, keyed by an HMAC of the normalised name, never the name): after
``INTAKE_LOGIN_SLOW_AFTER`` failures each further try must wait 2, 4, 8, ... seconds; at
``INTAKE_LOGIN_LOCK_AFTER`` the name is locked for ``INTAKE_LOGIN_LOCK_MINUTES``, and each failure
after that locks it again. A whole day without failures forgets them. Whoever tries too early is
refused without the password being checked: nobody is made to wait in a request thread. The counts
are exact under concurrency; the gate is not: tries that arrive together, before the first of them
is counted, are all checked (at most as many as the server has threads).

For the whole service (Django's cache): ``INTAKE_LOGIN_FAILURE_BUDGET`` failures per clock hour, after
which every try is refused until the hour ends, which bounds a spray over many names. If the cache
cannot be reached, the budget is not enforced (and that is logged): the per-name limits still hold.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from redis.exceptions import RedisError

from intake import shared_counts
from intake.models import AuditEvent, LoginThrottle

log = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
_HMAC_PURPOSE = "intake.throttle.login-name"
_GLOBAL_KEY = "intake:login-failures:{window}"
# What an unreachable cache raises: Redis's errors, or the file system's.
_CACHE_ERRORS = (RedisError, OSError)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        message = refusal(username)
        if message is not None:
            # Hash the typed password without checking it, so that a refusal costs what a check costs
            # and its timing tells nothing.
            User().set_password(password)
            raise ValidationError(message, code="throttled")
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            User().set_password(password)  # as ModelBackend does: the same time as a real check
            user = None
        else:
            if user.check_password(password) and self.user_can_authenticate(user):
                return user
        record_failure(username, user)
        return None


def refusal(username: str) -> str | None:
    if _global_failures() >= settings.INTAKE_LOGIN_FAILURE_BUDGET:
        return _(
            "There have been too many failed staff logins in the last hour, so logins are paused for "
            "everyone. Try again after the hour is over."
        )
    now = timezone.now()
    row = LoginThrottle.objects.filter(key=name_key(username), blocked_until__gt=now).first()
    if row is None:
        return None
    assert row.blocked_until is not None  # the filter blocked_until__gt matches no NULL
    remaining = (row.blocked_until - now).total_seconds()
    if row.locked:
        minutes = math.ceil(remaining / 60)
        return ngettext(
            "Too many failed logins with this name. It is locked; try again in %(minutes)d minute.",
            "Too many failed logins with this name. It is locked; try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    seconds = math.ceil(remaining)
    return ngettext(
        "Too many failed logins with this name. Wait %(seconds)d second, then try again.",
        "Too many failed logins with this name. Wait %(seconds)d seconds, then try again.",
        seconds,
    ) % {"seconds": seconds}


def record_failure(username: str, user=None) -> None:
    key = name_key(username)
    now = timezone.now()
    today = now.date()
    with transaction.atomic():
        # The increment is the transaction's first statement, a write: it takes the row lock on
        # PostgreSQL and the database's write lock on SQLite, so concurrent failures are all counted.
        recent = Q(last_failure_on__gte=today - timedelta(days=1))
        counted = LoginThrottle.objects.filter(key=key).update(
            failures=Case(When(recent, then=F("failures") + 1), default=Value(1)), last_failure_on=today
        )
        if not counted:
            try:
                with transaction.atomic():
                    LoginThrottle.objects.create(key=key, failures=1, last_failure_on=today)
            except IntegrityError:  # another request created it first
                LoginThrottle.objects.filter(key=key).update(failures=F("failures") + 1, last_failure_on=today)
        row = LoginThrottle.objects.select_for_update().get(key=key)
        wait = _wait_after(row.failures)
        row.locked = row.failures >= settings.INTAKE_LOGIN_LOCK_AFTER
        row.blocked_until = now + wait if wait else None
        row.save(update_fields=["locked", "blocked_until"])
        if row.locked:
            _record_lockout(username, user, row.failures)
        # Names nobody has failed with for a day are forgotten (the table is small).
        LoginThrottle.objects.filter(last_failure_on__lt=today - timedelta(days=1)).delete()
    _count_global_failure()


def record_success(username: str) -> None:
    LoginThrottle.objects.filter(key=name_key(username)).delete()


def name_key(username: str) -> str:
    """What the table stores for a typed name: an HMAC under SECRET_KEY, so that a copy of the
    database alone says neither which names were tried nor what was typed into the name field.
    Case and Unicode forms are folded, so that "Rania" and "rania" share one count."""
    normalised = unicodedata.normalize("NFKC", username).strip().casefold()
    return salted_hmac(_HMAC_PURPOSE, normalised, algorithm="sha256").hexdigest()


def _wait_after(failures: int) -> timedelta | None:
    lock = timedelta(minutes=settings.INTAKE_LOGIN_LOCK_MINUTES)
    if failures >= settings.INTAKE_LOGIN_LOCK_AFTER:
        return lock
    if failures < settings.INTAKE_LOGIN_SLOW_AFTER:
        return None
    return min(timedelta(seconds=2 ** (failures - settings.INTAKE_LOGIN_SLOW_AFTER + 1)), lock)


def _record_lockout(username: str, user, failures: int) -> None:
    # The same line whether or not the account exists, and without the name: people type their
    # password into the name field.
    log.warning(
        "a staff login name was locked for %d minutes after %d failed logins",
        settings.INTAKE_LOGIN_LOCK_MINUTES,
        failures,
    )
    User = get_user_model()
    if user is None:
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    if user is not None:
        AuditEvent.objects.create(
            actor=user,
            action=AuditEvent.Action.LOCKED_OUT,
            account=user.get_username(),
            detail={"failures": failures, "minutes": settings.INTAKE_LOGIN_LOCK_MINUTES},
        )


# --- The global budget ------------------------------------------------------------------------


def _global_key() -> str:
    return _GLOBAL_KEY.format(window=int(timezone.now().timestamp()) // WINDOW_SECONDS)


def _global_failures() -> int:
    try:
        return caches["default"].get(_global_key(), 0)
    except _CACHE_ERRORS:
        log.warning("the cache cannot be reached: the global budget of failed staff logins is not enforced")
        return 0


def _count_global_failure() -> None:
    try:
        window_end = (int(timezone.now().timestamp()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
        count = shared_counts.increment(_global_key(), until=window_end + 60)
    except _CACHE_ERRORS:
        log.warning("the cache cannot be reached: a failed staff login was not counted in the global budget")
        return
    if count == settings.INTAKE_LOGIN_FAILURE_BUDGET:
        log.warning("the budget of %d failed staff logins for this hour is spent: logins are paused", count)
