"""The staff door in a real browser, as a new reviewer meets it: the setup link printed by
``createstaff``, a password and an authenticator app enrolled from the key shown as text (the QR code is
there too), the recovery codes, the queue; then log out, and back in with password and code. With
JavaScript on and off, in English and Arabic, every page at phone width and axe-clean."""

import io
import re
import time

import pyotp
import pytest
from django.core.management import call_command
from django.utils import translation

from intake.models import AuditEvent, Submission
from tests.staff_login import code_now

PASSWORD = "a long passphrase of her own"


def _translated(message: str, language: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


@pytest.fixture
def setup_path(page) -> str:
    """A new reviewer's setup link, as the operator is given it."""
    out = io.StringIO()
    call_command("createstaff", "nadia", "--reviewer", stdout=out)
    return re.search(r"https?://\S+?(/staff/setup/\S+/)", out.getvalue()).group(1)


def test_a_new_reviewer_sets_up_two_factors_and_logs_in_with_both(page, setup_path, language):
    # Something in the queue, with the longest status there is.
    Submission.objects.create(
        receipt_digest="d" * 64, account="They came at dawn.", status=Submission.Status.NEEDS_FOLLOW_UP
    )
    page.open(setup_path)
    assert page.driver.current_url.endswith("/staff/setup/")  # the token left the address bar
    assert page.direction == ("rtl" if language == "ar" else "ltr")
    qr = page.find(".qr svg")
    assert qr.is_displayed() and qr.size["width"] >= 150
    page.resize(320)
    # Whole at 320 px: its modules are drawn inside it, not cut off by a box narrower than they are.
    assert page.driver.execute_script(
        "const box = arguments[0].getBoundingClientRect(), drawn = arguments[0].querySelector('path')"
        ".getBoundingClientRect(); return drawn.left >= box.left - 1 && drawn.right <= box.right + 1",
        qr,
    )
    secret = page.find("code.secret").text.replace(" ", "")
    assert page.find("code.secret").get_attribute("dir") == "ltr"
    app = pyotp.TOTP(secret)
    page.check("staff-setup")

    page.find("[name=new_password1]").send_keys(PASSWORD)
    page.find("[name=new_password2]").send_keys(PASSWORD)
    page.find("[name=code]").send_keys(code_now(app))
    page.submit("main form")
    codes = [item.text for item in page.find_all("ol.recovery-codes li")]
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9A-Z-]{19}", code) for code in codes), codes
    page.check("staff-recovery-codes")

    page.follow(page.find_all("main a")[-1])  # "I have kept them: continue"
    assert page.find(".staff-nav .who").text == "nadia"  # logged in by the setup
    page.open(setup_path)
    assert page.heading == _translated("This setup link cannot be used", language)  # it worked once
    page.check("staff-setup-used")

    page.open("/staff/account/")
    # The one staff page with script: it offers a passkey where script runs, and says why not elsewhere.
    if page.javascript:
        assert page.find("#passkey-register-button").is_displayed()
    else:
        assert _translated("Adding a passkey needs JavaScript.", language) in page.find("main").text
    page.check("staff-account")

    page.open("/staff/")
    assert page.heading == _translated("Review queue", language)
    page.check("staff-queue")
    page.open("/staff/?received_from=yesterday")
    assert page.find(".filters .errors").is_displayed()
    page.check("staff-queue-bad-filter")

    page.submit("form[action='/staff/logout/']")
    page.open("/staff/")
    assert page.driver.current_url.split("?")[0].endswith("/staff/login/")
    page.check("staff-login")
    page.find("[name=username]").send_keys("nadia")
    page.find("[name=password]").send_keys(PASSWORD)
    page.submit("main form")

    assert page.driver.current_url.endswith("/staff/login/verify/")
    page.check("staff-verify")
    page.find("[name=code]").send_keys("000000" if app.now() != "000000" else "111111")
    page.submit("main form")
    assert page.find("main [role=alert]").is_displayed()
    page.check("staff-verify-wrong-code")
    # A code is accepted once: the next step's, which the one step of tolerance lets in now.
    page.find("[name=code]").clear()
    page.find("[name=code]").send_keys(app.at(time.time() + 30))
    page.submit("main form")
    assert page.heading == _translated("Review queue", language)
    assert page.find(".staff-nav .who").text == "nadia"
    logins = AuditEvent.objects.filter(actor_name="nadia", action=AuditEvent.Action.LOGGED_IN)
    assert [event.detail.get("factor") for event in logins] == ["authenticator_app"] * 2
