"""Staff sessions, stored in the database with the account they belong to, so that they can be ended
on the server: every session of one account at once (``end_sessions``), after too long idle or too
long in all (``staff_session_limits``), and by the member or a superuser (``end_sessions_of``).

The database keeps a digest of each session key, never the key itself: a copy of the table (or a
backup of it) opens no session.

A staff session carries when it began and when it was last used. Both limits are checked on every
staff request, and the row's own expiry date is the earlier of the two, so an abandoned session is
dead in the database too, not only in the browser. The witness side has no session and gets none:
the checks run only on staff pages, and only when a session cookie came with the request.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone

from intake.middleware import is_staff_path

STARTED = "intake_started"
LAST_SEEN = "intake_seen"
# The last-seen time is written at most this often, not on every request.
SEEN_RESOLUTION = 60


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls):
        from intake.models import StaffSession

        return StaffSession

    def _get_session_from_db(self):
        try:
            return self.model.objects.get(session_key=stored_key(self.session_key), expire_date__gt=timezone.now())
        except (self.model.DoesNotExist, SuspiciousOperation):
            self._session_key = None
            return None

    def exists(self, session_key):
        return self.model.objects.filter(session_key=stored_key(session_key)).exists()

    def delete(self, session_key=None):
        session_key = session_key or self.session_key
        if session_key:
            self.model.objects.filter(session_key=stored_key(session_key)).delete()

    def load(self):
        key = self.session_key
        data = super().load()
        if not data and key:
            # Presented after it expired (idle or too old): gone from the database, not only unused.
            self.model.objects.filter(session_key=stored_key(key), expire_date__lte=timezone.now()).delete()
        return data

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        session.session_key = stored_key(session.session_key)
        user_id = data.get(SESSION_KEY)
        session.user_id = int(user_id) if user_id is not None else None
        if STARTED in data and LAST_SEEN in data:
            session.expire_date = min(
                session.expire_date,
                _moment(data[STARTED]) + timedelta(seconds=settings.SESSION_COOKIE_AGE),
                _moment(data[LAST_SEEN]) + timedelta(minutes=settings.INTAKE_STAFF_IDLE_MINUTES),
            )
        return session


def stored_key(session_key: str | None) -> str:
    """What the database keeps of a session key (the column holds 40 characters: 160 bits of SHA-256)."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:40]


def end_sessions(user_id: int) -> int:
    """End every session of one account, on the server. Returns how many there were."""
    from intake.models import StaffSession

    deleted, _ = StaffSession.objects.filter(user_id=user_id).delete()
    return deleted


def end_sessions_of(account, actor, detail: dict | None = None) -> int:
    """End every session of ``account`` at the request of ``actor`` (the member, or a superuser),
    and write it to the audit log."""
    from intake.models import AuditEvent

    with transaction.atomic():
        ended = end_sessions(account.pk)
        AuditEvent.objects.create(
            actor=actor,
            action=AuditEvent.Action.ENDED_SESSIONS,
            account=account.get_username(),
            detail={"sessions": ended, **(detail or {})},
        )
    return ended


def mark_start(sender, request, user, **kwargs) -> None:
    """At login (the password step): when the session began, for the absolute limit."""
    if request is not None and hasattr(request, "session"):
        now = _now()
        request.session[STARTED] = now
        request.session[LAST_SEEN] = now


def staff_session_limits(get_response):
    """End a staff session that has been idle too long, has lasted too long in all, or belongs to an
    account that can no longer log in (deactivated, deleted, or whose password changed): the last is
    a second line behind the signals of intake.signals, for changes made where no signal fires."""

    def middleware(request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and is_staff_path(request.path_info):
            session = request.session
            if SESSION_KEY in session and not _still_valid(request, session):
                session.flush()
                request.user = AnonymousUser()
        return get_response(request)

    return middleware


def _still_valid(request, session) -> bool:
    now = _now()
    started, seen = session.get(STARTED), session.get(LAST_SEEN)
    if started is None or seen is None:
        return False
    if now - started > settings.SESSION_COOKIE_AGE or now - seen > settings.INTAKE_STAFF_IDLE_MINUTES * 60:
        return False
    # Django answers "anonymous" for an inactive or deleted account, and for a session made under an
    # older password; such a session is deleted, so that a reactivated account does not revive it.
    if not request.user.is_authenticated:
        return False
    if now - seen >= SEEN_RESOLUTION:
        session[LAST_SEEN] = now
    return True


def _now() -> int:
    return int(timezone.now().timestamp())


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
