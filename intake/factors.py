"""Second factors: authenticator apps (TOTP), passkeys and security keys (WebAuthn), and recovery codes.

How a second step is checked and a login completed, and how factors are added and removed. Every
change is audited. A member always keeps at least one authenticator app, the factor that works
without JavaScript; passkeys come on top, and recovery codes are the way back in when the phone is lost.
"""

from __future__ import annotations

import django_otp
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp_webauthn.models import WebAuthnCredential

from intake import actions, throttle
from intake.models import AuditEvent, AuthenticatorApp, RecoveryCodes

# How factors are named in the audit log (codes), and to people (words).
AUTHENTICATOR_APP = "authenticator_app"
PASSKEY = "passkey"
RECOVERY_CODE = "recovery_code"
RECOVERY_CODES = "recovery_codes"
LABELS = {
    AUTHENTICATOR_APP: _("Authenticator app"),
    PASSKEY: _("Passkey or security key"),
    RECOVERY_CODE: _("Recovery code"),
    RECOVERY_CODES: _("Recovery codes"),
}


def apps_of(user):
    return AuthenticatorApp.objects.filter(user=user, confirmed=True).order_by("created_at")


def passkeys_of(user):
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at")


def has_factor(user) -> bool:
    """Whether the account can do a second step at all. One without a factor must use a setup link."""
    return apps_of(user).exists() or passkeys_of(user).exists()


def recovery_codes_left(user) -> int:
    device = RecoveryCodes.objects.filter(user=user).first()
    return device.codes.count() if device else 0


def kind_of(device) -> str:
    if isinstance(device, AuthenticatorApp):
        return AUTHENTICATOR_APP
    if isinstance(device, WebAuthnCredential):
        return PASSKEY
    return RECOVERY_CODE


# --- The second step -----------------------------------------------------------------------------


def check_app_code(user, code: str) -> AuthenticatorApp | None:
    """The member's authenticator app that shows ``code`` now, if any. A code works once."""
    with transaction.atomic():
        for app in apps_of(user).select_for_update():
            if app.verify_token(code):
                return app
    return None


def use_recovery_code(user, code: str) -> RecoveryCodes | None:
    with transaction.atomic():
        device = RecoveryCodes.objects.select_for_update().filter(user=user).first()
        if device is None or not device.verify_token(code):
            return None
        audit(user, AuditEvent.Action.USED_RECOVERY_CODE, user, {"left": device.codes.count()})
    return device


def complete_login(request, device) -> None:
    """Both factors are done: the session is verified, under a new key, and the login audited."""
    django_otp.login(request, device)
    request.session.cycle_key()
    throttle.record_success(request.user.get_username())
    actions.record_login(request.user, kind_of(device))


# --- A member's own factors ----------------------------------------------------------------------


def start_app(user) -> AuthenticatorApp:
    """An authenticator app waiting for its first code, with a fresh secret: whoever saw the page
    before (a link scanner that opened a setup link, say) does not know it."""
    app = AuthenticatorApp.objects.filter(user=user, confirmed=False).first()
    if app is None:
        return AuthenticatorApp.new(user)
    # The waiting row is given a new secret rather than replaced: deleting a device ends its owner's
    # sessions (intake.signals), and a device that was never confirmed is no reason to.
    app.secret = AuthenticatorApp.new_secret()
    app.last_t, app.drift = -1, 0
    app.save(update_fields=["secret", "last_t", "drift"])
    return app


def waiting_app(user, app_id) -> AuthenticatorApp | None:
    if not app_id:
        return None
    return AuthenticatorApp.objects.filter(user=user, confirmed=False, pk=app_id).first()


def confirm_app(app: AuthenticatorApp, code: str) -> bool:
    """Enrol a waiting authenticator app once it shows a current code: proof the member has it."""
    with transaction.atomic():
        locked = AuthenticatorApp.objects.select_for_update().filter(pk=app.pk, confirmed=False).first()
        if locked is None or not locked.verify_token(code):
            return False
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        audit(locked.user, AuditEvent.Action.ENROLLED_FACTOR, locked.user, {"factor": AUTHENTICATOR_APP})
    app.refresh_from_db()
    return True


def record_passkey(device: WebAuthnCredential) -> None:
    audit(device.user, AuditEvent.Action.ENROLLED_FACTOR, device.user, {"factor": PASSKEY})


def new_recovery_codes(user) -> list[str]:
    """New recovery codes for ``user``, replacing any old ones. They are shown once and stored as digests."""
    with transaction.atomic():
        device = RecoveryCodes.objects.select_for_update().filter(user=user).first()
        if device is None:
            device = RecoveryCodes.objects.create(user=user, name="recovery codes", confirmed=True)
        codes = device.replace_codes()
        audit(user, AuditEvent.Action.ENROLLED_FACTOR, user, {"factor": RECOVERY_CODES})
    return codes


def remove_factor(user, device) -> bool:
    """Remove one of ``user``'s own authenticator apps or passkeys. The last authenticator app stays:
    it is the factor that works anywhere, without JavaScript."""
    kind = kind_of(device)
    if kind == RECOVERY_CODE or device.user_id != user.pk:
        return False
    with transaction.atomic():
        apps = list(apps_of(user).select_for_update())
        if kind == AUTHENTICATOR_APP and not any(app.pk != device.pk for app in apps):
            return False
        device.delete()
        audit(user, AuditEvent.Action.REMOVED_FACTOR, user, {"factor": kind})
    return True


def remove_all(account) -> None:
    """Every factor of ``account`` goes (a superuser's reset: intake.setup_links.start_over)."""
    AuthenticatorApp.objects.filter(user=account).delete()
    WebAuthnCredential.objects.filter(user=account).delete()
    RecoveryCodes.objects.filter(user=account).delete()


def audit(actor, action: str, account, detail: dict | None = None) -> None:
    detail = dict(detail or {})
    if actor is None:
        # No account stands behind a management command: the event is the account's own, marked as such.
        actor, detail["by"] = account, "manage.py"
    actions.record_account_change(actor, action, account, detail)
