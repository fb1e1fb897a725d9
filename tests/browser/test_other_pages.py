"""Pages reached only off the main paths, each checked in a real browser (width, ARIA references, axe-core
WCAG 2.2 AA, a screenshot), in English and Arabic, with JavaScript on and off.

The witness's: a receipt with a wrong digit, an answer sent after the page's hour (kept, to be sent once
the receipt is typed again), an answer received before and sent again after the hour, a closed
testimony's page, and a testimony form too old to send. The staff's: changing one's password, adding an
authenticator app, the submission page as an Exporter (its export section), and a message to the
witness refused. The receipt typed on a page drawn at the answer's address (an expired page, an answer
already received) opens the testimony, with the kept answer back in its box."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import translation
from selenium.webdriver.support.wait import WebDriverWait

from intake import actions, receipts, sent_forms
from intake.models import Message, Submission
from tests.browser.conftest import log_in
from tests.staff_login import PASSWORD, enrol_app

QUESTION = "Which road did they come by? من أي طريق جاؤوا؟"
ANSWER = "The north road. الطريق الشمالي."


def _translated(message: str, language: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


@pytest.fixture
def staff(page):
    """A reviewer who may also export evidence, with an authenticator app."""
    user = User.objects.create_user("rania", password=PASSWORD)
    user.groups.set(Group.objects.filter(name__in=["Reviewer", "Exporter"]))
    return user, enrol_app(user)


@pytest.fixture
def testimony(page, staff):
    """A testimony in review with a question waiting, and its receipt."""
    receipt = receipts.new_receipt()
    submission = Submission.objects.create(
        receipt_digest=receipts.digest(receipts.normalise(receipt)),
        account="Men in masks came at dawn. رجال ملثمون جاؤوا عند الفجر.",
        status=Submission.Status.NEEDS_FOLLOW_UP,
    )
    actions.send_message(staff[0], submission, QUESTION)
    return submission, receipt


def type_receipt(page, receipt: str) -> None:
    page.find("[name=receipt]").clear()
    page.find("[name=receipt]").send_keys(receipt)
    page.submit("form#receipt")


def wrong_digit(receipt: str) -> str:
    """The receipt with its sixth digit typed wrong: the check digit tells (intake.receipts)."""
    return receipt[:5] + ("1" if receipt[5] != "1" else "2") + receipt[6:]


def field_values(page) -> list[str]:
    return page.driver.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), textarea')].map(f => f.value)"
    )


def problems(page) -> str:
    return page.find("section.problems").text


# --- The witness ------------------------------------------------------------------------------------


def test_an_answer_sent_after_the_hour_is_kept_and_a_wrong_digit_is_told(page, testimony, language):
    _submission, receipt = testimony
    page.open("/status/")
    type_receipt(page, receipt)
    assert re.search(r"/status/open/[-\w]+/$", page.driver.current_url)
    # The access cookie lasts the hour (views._open); the browser drops it then.
    page.driver.delete_cookie("access")
    page.find("form.reply [name=text]").send_keys(ANSWER)
    page.submit("form.reply")
    said = (
        "Your answer was not sent: the page was open for more than an hour. Type your receipt again to send "
        "it. What you wrote is kept below; choose your photos and videos again."
    )
    assert _translated(said, language) in problems(page)
    assert page.find("[name=draft]").get_attribute("value") == ANSWER
    assert not Message.objects.filter(sender=Message.Sender.WITNESS).exists()
    page.check("status-expired-draft")

    # One digit typed wrong is told by the check digit, before any look-up.
    page.open("/status/")
    type_receipt(page, wrong_digit(receipt))
    said = "One of the digits is wrong: check them against your receipt, and try again."
    assert _translated(said, language) in problems(page)
    page.check("status-wrong-digit")


def test_the_receipt_typed_on_the_expired_page_gives_the_answer_back(page, testimony, language):
    submission, receipt = testimony
    page.open("/status/")
    type_receipt(page, receipt)
    page.driver.delete_cookie("access")
    page.find("form.reply [name=text]").send_keys(ANSWER)
    page.submit("form.reply")
    # The language switch, and a digit typed wrong, keep the answer too.
    other = "ar" if language == "en" else "en"
    page.follow(page.find(f".language button[value='{other}']"))
    assert page.language == other and page.find("[name=draft]").get_attribute("value") == ANSWER
    page.follow(page.find(f".language button[value='{language}']"))
    type_receipt(page, wrong_digit(receipt))
    assert page.find("[name=draft]").get_attribute("value") == ANSWER
    type_receipt(page, receipt)
    assert page.find("form.reply [name=text]").get_attribute("value") == ANSWER
    page.submit("form.reply")
    assert page.find("p.warning[role=status]").text == _translated("Your answer was received. Thank you.", language)
    assert Message.objects.get(submission=submission, sender=Message.Sender.WITNESS).text == ANSWER


def test_an_answer_received_before_and_sent_again_after_the_hour_shows_nothing_of_it(page, testimony, language):
    _submission, receipt = testimony
    page.open("/status/")
    type_receipt(page, receipt)
    page.find("form.reply [name=text]").send_keys(ANSWER)
    # As if this very form had been sent and stored (its answer lost on a bad connection), and the
    # witness sends it again once the page's hour is over.
    token = page.find(f"form.reply [name={sent_forms.FIELD}]").get_attribute("value")
    with transaction.atomic():
        sent_forms.claim(token)
    page.driver.delete_cookie("access")
    page.submit("form.reply")
    said = "Your answer was received. To see your testimony again, type your receipt."
    assert page.find("p.warning[role=status]").text == _translated(said, language)
    assert ANSWER not in page.driver.page_source and set(field_values(page)) <= {""}
    assert not Message.objects.filter(sender=Message.Sender.WITNESS).exists()
    page.check("status-already-received")


def test_the_receipt_typed_on_the_already_received_page_opens_the_testimony(page, testimony):
    _submission, receipt = testimony
    page.open("/status/")
    type_receipt(page, receipt)
    token = page.find(f"form.reply [name={sent_forms.FIELD}]").get_attribute("value")
    with transaction.atomic():
        sent_forms.claim(token)
    page.driver.delete_cookie("access")
    page.submit("form.reply")
    type_receipt(page, receipt)
    assert re.search(r"/status/open/[-\w]+/$", page.driver.current_url) and page.find_all("form.reply")


def test_a_closed_testimony_takes_no_answer(page, testimony, language):
    """Rejected or archived, the witness is told the same: closed (Submission.WITNESS_STATUS_OF)."""
    submission, receipt = testimony
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ARCHIVED)
    page.open("/status/")
    type_receipt(page, receipt)
    with translation.override(language):
        assert page.find(".status strong").text == str(Submission.WitnessStatus.CLOSED.label)
    said = "Work on this testimony is finished: it takes no more answers, photos or videos."
    assert _translated(said, language) in page.find("main").text
    assert QUESTION in page.find("article.message").text
    assert not page.find_all("[name=text]") and not page.find_all("form#answer button")
    page.check("status-closed")


def test_a_testimony_form_older_than_its_days_stores_nothing_and_shows_nothing(page, clock, language):
    page.open("/")  # drawn now (by the test's clock)
    page.find("[name=account]").send_keys("MARKER-5120 They came at night.")
    clock.advance(days=sent_forms.TOKEN_DAYS + 1)
    page.submit("form.testimony")
    assert page.heading == _translated("This form is too old to send", language)
    assert "MARKER-5120" not in page.driver.page_source
    assert not Submission.objects.exists()
    page.check("sent-before-too-old")


# --- The staff --------------------------------------------------------------------------------------


def test_a_member_of_staff_changes_their_password_and_adds_an_app(page, staff, language):
    log_in(page, staff[1])
    page.open("/staff/password/")
    assert page.heading == _translated("Change your password", language)
    page.check("review-password-change")

    new = "another horse, another battery 2026"
    page.find("[name=old_password]").send_keys(PASSWORD)
    page.find("[name=new_password1]").send_keys(new)
    page.find("[name=new_password2]").send_keys(new)
    page.submit("form.narrow")  # not the header's "Log out", also in main
    assert page.driver.current_url.endswith("/staff/password/changed/")
    assert User.objects.get(username="rania").check_password(new)
    page.check("review-password-changed")

    page.open("/staff/account/app/")
    assert page.heading == _translated("Add an authenticator app", language)
    assert page.find_all("[name=code]")
    page.check("review-add-app")


def test_an_exporter_sees_the_export_and_a_message_refused_says_why(page, staff, testimony, language):
    submission, _receipt = testimony
    log_in(page, staff[1])
    page.open(f"/staff/submissions/{submission.pk}/")
    assert page.find("#export h2").text == _translated("Export as evidence", language)
    assert page.find_all("#export form button[type=submit]")
    page.check("review-submission-export")

    # Spaces only: the browser's own check lets them through, the server's refuses them.
    page.find("#conversation textarea[name=text]").send_keys("   ")
    if page.javascript:  # refused without leaving the page (intake/review.js)
        page.find("#conversation form button[type=submit]").click()
        WebDriverWait(page.driver, 10).until(
            lambda d: d.find_elements("css selector", "#reply .errors"), "the refusal was not shown"
        )
    else:
        page.submit("#conversation form")
    assert page.find("#reply .errors").text == _translated("This field is required.", language)
    assert Message.objects.filter(submission=submission).count() == 1
    page.check("review-submission-message-refused")
