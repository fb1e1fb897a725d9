"""Enrolling an authenticator app, on the setup page and on the account page: the secret as a QR code
drawn on the server (inline SVG, so it needs no script and no ``data:`` image under our CSP) and as
text grouped for typing, and the form for the first code, which proves the app has it."""

import segno
from django import forms
from django.conf import settings
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from intake import factors

# The session remembers which waiting app the page shows, so that reloading keeps the same secret.
WAITING_APP = "enrol_waiting_app"


WRONG_FIRST_CODE = _(
    "That code is not right. Check that the app shows an entry for this account, and type the code it shows now."
)


def first_code_field() -> forms.CharField:
    return forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "dir": "ltr", "size": 8}
        ),
    )


class FirstCodeForm(forms.Form):
    code = first_code_field()


def waiting_app(request, user):
    """The app this page enrols: the one it showed before, or a new one."""
    app = factors.waiting_app(user, request.session.get(WAITING_APP))
    if app is None:
        app = factors.start_app(user)
        request.session[WAITING_APP] = str(app.pk)
    return app


def forget_waiting_app(request) -> None:
    request.session.pop(WAITING_APP, None)


def app_context(app) -> dict:
    address = app.config_url(settings.INTAKE_TOTP_ISSUER)
    svg = segno.make(address, error="m").svg_inline(
        scale=5,
        dark="#000",
        light="#fff",
        title=gettext("QR code for your authenticator app"),
        omitsize=True,  # a viewBox, no fixed size: the stylesheet fits it to a 320 px phone
    )
    secret = app.secret
    return {
        # segno writes only the modules and the title, which it escapes: nothing anyone typed.
        "qr_svg": mark_safe(svg),  # noqa: S308
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "otpauth_address": address,
    }
