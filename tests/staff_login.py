"""Helpers for tests of the staff door: an authenticator app that a test holds (pyotp), the two login
steps as a browser posts them, and reading what a page shows."""

from __future__ import annotations

import html
import re
import time

import pyotp
from django.urls import reverse

from intake.models import AuthenticatorApp

PASSWORD = "correct horse battery staple"


def enrol_app(user) -> pyotp.TOTP:
    """Give ``user`` a confirmed authenticator app, and return the same app as a test holds it."""
    app = AuthenticatorApp.new(user, name="phone")
    app.confirmed = True
    app.save(update_fields=["confirmed"])
    return pyotp.TOTP(app.secret)


def code_now(totp: pyotp.TOTP) -> str:
    """The code of the current 30-second step, taken far enough from the step's end that the server
    checks it within the same step. One checked in the next step is taken for a phone clock running
    behind (the device's drift), and the next step's code that a test types later is then refused."""
    left = totp.interval - time.time() % totp.interval
    if left < 5:
        time.sleep(left + 0.1)
    return totp.now()


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next 30-second step: accepted now (one step of tolerance), and not yet used by
    an earlier step of the same test, since a code is never accepted twice."""
    return totp.at(time.time() + 30)


def enter_password(client, username: str, password: str = PASSWORD, **extra):
    return client.post(reverse("review:login"), {"username": username, "password": password, **extra})


def log_in_with_code(client, username: str, totp: pyotp.TOTP, password: str = PASSWORD):
    """Both steps, as a browser without JavaScript does them. Returns the second step's response."""
    response = enter_password(client, username, password)
    assert response.status_code == 302 and response["Location"] == reverse("review:verify"), response
    return client.post(reverse("review:verify"), {"code": next_code(totp)})


def secret_shown(page: str) -> str:
    """The TOTP secret as the enrolment page shows it for typing."""
    match = re.search(r'<code dir="ltr" class="secret">([A-Z2-7 ]+)</code>', page)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def text(response) -> str:
    return html.unescape(response.content.decode())


def is_logged_in(client) -> bool:
    """Whether the client's session has both factors done, as the staff door sees it."""
    from django_otp import DEVICE_ID_SESSION_KEY

    return "_auth_user_id" in client.session and DEVICE_ID_SESSION_KEY in client.session
