"""Passkeys and security keys in a real browser (Chromium's virtual authenticator): registered from the
account page and used at the second step, by django-otp-webauthn's own scripts under our CSP. With
JavaScript off, the same pages say a passkey needs it and the authenticator app still works."""

import time

import pytest
from django.contrib.auth.models import Group, User
from django_otp_webauthn.models import WebAuthnCredential
from selenium.webdriver.support.wait import WebDriverWait

from tests.staff_login import PASSWORD, code_now, enrol_app


@pytest.fixture
def member(page):
    user = User.objects.create_user("rania", password=PASSWORD)
    user.groups.set(Group.objects.filter(name="Reviewer"))
    return user, enrol_app(user)


@pytest.fixture
def authenticator(page):
    """A security key plugged into the browser, which answers by itself."""
    page.driver.execute_cdp_cmd("WebAuthn.enable", {})
    found = page.driver.execute_cdp_cmd(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield found["authenticatorId"]
    page.driver.execute_cdp_cmd("WebAuthn.removeVirtualAuthenticator", found)


def log_in_with_password(page):
    page.open("/staff/login/")
    page.find("[name=username]").send_keys("rania")
    page.find("[name=password]").send_keys(PASSWORD)
    page.submit("main form")
    assert page.driver.current_url.endswith("/staff/login/verify/")


def log_in(page, app, step=0):
    log_in_with_password(page)
    page.find("[name=code]").send_keys(code_now(app) if step == 0 else app.at(time.time() + 30 * step))
    page.submit("main form")


def test_a_member_adds_a_security_key_and_logs_in_with_it(page, member, authenticator):
    user, app = member
    log_in(page, app)
    page.open("/staff/account/")
    page.check("staff-account")
    if not page.javascript:
        assert page.find("noscript") is not None and not page.find_all("#passkey-register-button")
        page.submit("form[action='/staff/logout/']")
        log_in_with_password(page)
        assert not page.find_all("#passkey-verification-button")
        page.find("[name=code]").send_keys(app.at(time.time() + 30))
        page.submit("main form")
        assert page.driver.current_url.endswith("/staff/")
        return

    page.find("#passkey-register-button").click()
    WebDriverWait(page.driver, 20).until(
        lambda d: (
            d.find_element("id", "passkey-register-status-message").get_attribute("data-status-enum") == "success"
        ),
        "the key was not registered",
    )
    assert WebAuthnCredential.objects.filter(user=user).count() == 1

    page.submit("form[action='/staff/logout/']")
    log_in_with_password(page)
    page.check("staff-verify-passkey")
    button = page.find("#passkey-verification-button")
    page.follow(button)
    assert page.driver.current_url.endswith("/staff/")
    assert page.find(".staff-nav .who").text == "rania"
