"""One-time setup links: how a new member, or one whose factors were reset, chooses their own password
and enrols an authenticator app. Nobody else ever knows either.

A link carries a 256-bit token; only its digest is stored. It expires after ``INTAKE_SETUP_LINK_HOURS``
and works once. Making a new link for an account cancels its older unused ones. A superuser's reset
(``start_over``) removes every factor and sends the owner through a new link.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from intake import factors
from intake.models import AuditEvent, SetupLink, token_digest
from intake.sessions import end_sessions


def issue(actor, account) -> str:
    """A new setup link token for ``account`` (``actor`` is None on the command line)."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        SetupLink.objects.filter(user=account, used_at__isnull=True).delete()
        SetupLink.objects.create(
            user=account,
            digest=token_digest(token),
            expires_at=timezone.now() + timedelta(hours=settings.INTAKE_SETUP_LINK_HOURS),
        )
        factors.audit(actor, AuditEvent.Action.CREATED_SETUP_LINK, account)
    return token


def path(token: str) -> str:
    return reverse("review:setup_link", args=[token])


def find(token: str | None) -> SetupLink | None:
    """The link for ``token`` if it can still be used: unknown, used and expired links are all None."""
    return find_by_digest(token_digest(token)) if token else None


def find_by_digest(digest: str | None) -> SetupLink | None:
    """As ``find``, from the digest of the token: what a session keeps, since session rows are stored in
    the database, where a token would be a way into the account for whoever copies the table."""
    if not digest:
        return None
    return (
        SetupLink.objects.select_related("user")
        .filter(digest=digest, used_at__isnull=True, expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )


def complete(link: SetupLink, password: str, app, code: str) -> list[str] | None:
    """Finish the setup in one go: the app is confirmed by ``code``, the password set, the link used,
    and recovery codes made (returned, to be shown once). None, and nothing changed, if the code is
    wrong or the link was used meanwhile."""
    with transaction.atomic():
        locked = SetupLink.objects.select_for_update().filter(pk=link.pk, used_at__isnull=True).first()
        if locked is None or locked.expires_at <= timezone.now():
            return None
        if not factors.confirm_app(app, code):
            return None
        account = locked.user
        account.set_password(password)
        account.save(update_fields=["password"])
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        factors.audit(account, AuditEvent.Action.USED_SETUP_LINK, account)
        return factors.new_recovery_codes(account)


def start_over(actor, account) -> str:
    """Superusers only (the callers check). Remove every factor of ``account``, make its password
    unusable, end its sessions, and return a new setup link token with which its owner starts over.
    ``actor`` is None when the server's operator does it on the command line."""
    with transaction.atomic():
        factors.remove_all(account)
        account.set_unusable_password()
        account.save(update_fields=["password"])
        end_sessions(account.pk)
        factors.audit(actor, AuditEvent.Action.RESET_FACTORS, account)
        return issue(actor, account)
