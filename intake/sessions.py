"""Staff sessions, stored in the database with the account they belong to, so that they can be ended
on the server: every session of one account at once (``end_sessions``)."""
from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls):
        from intake.models import StaffSession

        return StaffSession

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        session.user_id = int(user_id) if user_id is not None else None
        return session


def end_sessions(user_id: int) -> int:
    """End every session of one account, on the server. Returns how many there were."""
    from intake.models import StaffSession

    deleted, _ = StaffSession.objects.filter(user_id=user_id).delete()
    return deleted
