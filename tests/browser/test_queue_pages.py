"""A reviewer works through the queue in a real browser: the queue, with its filters, bulk form and
checkboxes, and a submission's page with its triage panel pass axe at phone and desktop width, in English
and Arabic, with JavaScript on and off; a status set on the submission page keeps the reviewer on the
page they had (with JavaScript, the page is not loaded again)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, User
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from intake.models import Submission, Tag
from tests.browser.conftest import log_in
from tests.staff_login import PASSWORD, enrol_app

DESKTOP = 1280


@pytest.fixture
def reviewer(page):
    user = User.objects.create_user("rania", password=PASSWORD)
    user.groups.set(Group.objects.filter(name="Reviewer"))
    return enrol_app(user)


@pytest.fixture
def queue_rows(page, reviewer) -> list[Submission]:
    north = Tag.objects.create(name="north road")
    Tag.objects.create(name="الجسر")
    rows = []
    for number in range(6):
        submission = Submission.objects.create(
            receipt_digest=f"{number:064d}",
            account="They came at dawn. جاؤوا عند الفجر.",
            received_on=datetime.date(2026, 5, 1) - datetime.timedelta(days=number),
            assignee=User.objects.get(username="rania") if number % 2 else None,
            status="in_review" if number % 3 else "new",
        )
        if number % 2 == 0:
            submission.tags.add(north)
        rows.append(submission)
    return rows


def at_desktop(page, name: str) -> None:
    from tests.browser.conftest import PHONE, axe

    page.resize(DESKTOP)
    axe(page.driver)
    page.screenshot(f"{name}-desktop")
    page.resize(PHONE[0])


def test_the_queue_is_accessible_at_phone_and_desktop_width(page, reviewer, queue_rows):
    log_in(page, reviewer)
    page.open("/staff/")
    assert len(page.find_all("table.queue tbody tr")) == len(queue_rows)
    assert page.find_all("input[type=checkbox][name=ids][form=bulk]")
    page.check("review-queue")
    at_desktop(page, "review-queue")


def test_the_submission_page_keeps_the_reviewer_where_they_were(page, reviewer, queue_rows, request):
    submission = queue_rows[0]
    log_in(page, reviewer)
    page.open("/staff/?assigned=&status=in_review")
    page.open(f"/staff/submissions/{submission.pk}/")
    page.check("review-submission-triage")
    at_desktop(page, "review-submission-triage")

    page.driver.execute_script("window.samePage = true;")
    Select(page.find("#status select")).select_by_value("verified")
    page.find("#status button").click()
    WebDriverWait(page.driver, 10).until(
        lambda d: d.find_elements("css selector", "#triage [role=status]"), "no confirmation in the triage panel"
    )
    assert page.find("#status select").get_attribute("value") == "verified"
    # With JavaScript the page stayed (only the panel changed); without, the server brought it back there.
    stayed = page.driver.execute_script("return window.samePage === true")
    assert stayed == (request.node.callspec.params["driver"] == "js-on")
    submission.refresh_from_db()
    assert submission.status == "verified"
    # The queue's filters are still there, on the way back.
    assert page.find("main p a").get_attribute("href").endswith("?assigned=&status=in_review")
    page.check("review-submission-after-status")


def test_a_message_sent_to_the_witness_shows_in_the_conversation_at_once(page, reviewer, queue_rows, request):
    submission = queue_rows[0]
    log_in(page, reviewer)
    page.open(f"/staff/submissions/{submission.pk}/")
    page.driver.execute_script("window.samePage = true;")
    script_on = request.node.callspec.params["driver"] == "js-on"
    for text in ("Which road did they take?", "And at what hour?"):
        page.find("#reply textarea").send_keys(text)
        if script_on:  # the page stays: wait for the message to be added to it
            page.find("#reply button[type=submit]").click()
            WebDriverWait(page.driver, 10).until(
                lambda d, text=text: text in d.find_element("css selector", "#messages").text, f"{text!r} not shown"
            )
        else:  # a new page comes: wait for it, not for nodes of the old one
            page.submit("#reply form")
            assert text in page.find("#messages").text
    messages = page.find_all("#messages article.message")
    assert [m.text.splitlines()[-1] for m in messages] == ["Which road did they take?", "And at what hour?"]
    assert not page.find_all("#no-messages")
    # The confirmation is next to the form, where focus goes.
    focused = page.driver.execute_script("return document.activeElement.closest('#conversation-said') !== null")
    stayed = page.driver.execute_script("return window.samePage === true")
    assert stayed == script_on
    assert focused or not stayed
    page.check("review-submission-after-message")


@pytest.mark.parametrize("driver", ["js-on"], indirect=True)  # without the script, an ordinary form
def test_a_change_whose_answer_is_lost_is_not_sent_again(page, reviewer, queue_rows):
    from intake.models import Note

    submission = queue_rows[0]
    log_in(page, reviewer)
    page.open(f"/staff/submissions/{submission.pk}/")
    # The request reaches the server, but its answer never comes back.
    page.driver.execute_script(
        "const real = window.fetch;"
        "window.fetch = (url, options) => real(url, options).then(() => { throw new TypeError('lost'); });"
    )
    page.find("#notes textarea").send_keys("Seen on two other accounts.")
    page.find("#notes button[type=submit]").click()
    WebDriverWait(page.driver, 10).until(
        lambda d: d.find_elements("css selector", "#notes .messages-error"), "no word that the answer was lost"
    )
    assert Note.objects.filter(submission=submission).count() == 1  # stored once, never sent again
    assert page.driver.execute_script("return document.activeElement.classList.contains('messages-error')")


@pytest.mark.parametrize("driver", ["js-on"], indirect=True)  # without the script, the page is sent whole
def test_a_message_being_written_survives_a_change_of_status(page, reviewer, queue_rows):
    submission = queue_rows[0]
    log_in(page, reviewer)
    page.open(f"/staff/submissions/{submission.pk}/")
    page.find("#reply textarea").send_keys("Where exactly was the checkpoint?")
    Select(page.find("#status select")).select_by_value("verified")
    page.find("#status button").click()
    WebDriverWait(page.driver, 10).until(
        lambda d: d.find_elements("css selector", "#triage [role=status]"), "no confirmation in the triage panel"
    )
    assert page.find("#reply textarea").get_attribute("value") == "Where exactly was the checkpoint?"
