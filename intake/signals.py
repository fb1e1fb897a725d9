"""What must follow a change to an account, however it was made (the admin, a management command, a
model saved in a shell): sessions end when an account is deactivated or deleted, loses a role, gets a
new password, or loses a second factor; and the role groups cannot be deleted or renamed.

Connected in ``IntakeConfig.ready``. What no signal sees: ``QuerySet.update()``, raw SQL, and rows
of the account-group link table deleted directly (``User.groups.through.objects...delete()``). Behind
them, ``intake.sessions.staff_session_limits`` ends on its next use any session of an account that
is inactive, deleted, or has another password; a role or factor taken away that way is not caught.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import signals
from django_otp.models import Device

from intake.access import ADMIN, EXPORTER, REVIEWER
from intake.sessions import end_sessions, mark_start

# The groups access checks rest on (intake.access). Losing any group, a role or not, ends the member's
# sessions (_end_sessions_of_members); these are also kept from being deleted or renamed.
ROLES = (REVIEWER, ADMIN, EXPORTER)


class RoleGroupIsProtected(PermissionDenied):
    """The role groups are what access checks rest on: deleting one would silently strip every
    member of the role, renaming it would give its rights to whoever next gets a group of that name."""


def connect() -> None:
    User = get_user_model()
    signals.pre_save.connect(_remember_stored, sender=User, dispatch_uid="intake-user-before")
    signals.post_save.connect(_end_sessions_after_change, sender=User, dispatch_uid="intake-user-after")
    signals.post_delete.connect(_end_sessions_of_owner, sender=User, dispatch_uid="intake-user-deleted")
    # A role taken away from either side: user.groups.remove/clear/set, group.user_set.remove/clear/set.
    signals.m2m_changed.connect(_end_sessions_of_members, sender=User.groups.through, dispatch_uid="intake-role-lost")
    # Deleting a group takes it from all its members (its link rows go without a signal).
    signals.pre_delete.connect(_before_group_deleted, sender=Group, dispatch_uid="intake-group-delete")
    signals.pre_save.connect(_protect_role_name, sender=Group, dispatch_uid="intake-group-rename")
    # Every kind of second factor (authenticator app, passkey, recovery codes): one receiver each.
    for model in apps.get_models():
        if issubclass(model, Device):
            signals.post_delete.connect(
                _end_sessions_of_owner_of, sender=model, dispatch_uid=f"intake-factor-{model._meta.label}"
            )
    auth_signals.user_logged_in.connect(mark_start, dispatch_uid="intake-session-start")


# A new password, or the loss of any of these flags, ends every session of the account.
WATCHED = ("password", "is_active", "is_staff", "is_superuser")


def _remember_stored(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    instance._intake_stored = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and not set(WATCHED) & set(update_fields):
        return
    instance._intake_stored = sender._default_manager.filter(pk=instance.pk).values(*WATCHED).first()


def _end_sessions_after_change(sender, instance, created=False, raw=False, **kwargs) -> None:
    stored = getattr(instance, "_intake_stored", None)
    instance._intake_stored = None
    if created or raw or stored is None:
        return
    lost_a_right = any(stored[flag] and not getattr(instance, flag) for flag in WATCHED[1:])
    if stored["password"] != instance.password or lost_a_right:
        # The member's own password page keeps its session: Django makes it anew under a new key
        # (update_session_auth_hash), after this.
        end_sessions(instance.pk)


def _end_sessions_of_owner(sender, instance, **kwargs) -> None:
    end_sessions(instance.pk)


def _end_sessions_of_members(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    # Not reversed: ``instance`` is an account and ``pk_set`` groups. Reversed: a group, and accounts.
    if action == "pre_clear" and reverse:
        instance._intake_members = list(instance.user_set.values_list("pk", flat=True))
    elif action == "post_remove":
        for user_id in pk_set if reverse else [instance.pk]:
            end_sessions(user_id)
    elif action == "post_clear":
        for user_id in getattr(instance, "_intake_members", []) if reverse else [instance.pk]:
            end_sessions(user_id)


def _end_sessions_of_owner_of(sender, instance, **kwargs) -> None:
    end_sessions(instance.user_id)


def _before_group_deleted(sender, instance, **kwargs) -> None:
    if instance.name in ROLES:
        raise RoleGroupIsProtected(f"The role group {instance.name} cannot be deleted.")
    for user_id in instance.user_set.values_list("pk", flat=True):
        end_sessions(user_id)


def _protect_role_name(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("name", flat=True).first()
    if stored in ROLES and stored != instance.name:
        raise RoleGroupIsProtected(f"The role group {stored} cannot be renamed.")
