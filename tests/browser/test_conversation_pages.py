"""The conversation through the receipt in a real browser: the witness reads a question and answers with
a photo; a reviewer reads the conversation and writes back. At phone width, in English and Arabic,
with JavaScript on and off."""

import io
import re

import pytest
from django.contrib.auth.models import Group, User
from django.utils import translation
from PIL import Image as PILImage
from selenium.webdriver.support.wait import WebDriverWait

from intake import actions, blobs, receipts, sent_forms
from intake.models import Image, Message, Submission
from tests.browser.conftest import _click_and_wait_for_next_page, log_in
from tests.browser.test_forms_keep_nothing import focus_is_on_the_problems, reload
from tests.conftest import camera_jpeg
from tests.staff_login import PASSWORD, enrol_app

QUESTION = "Which road did they come by? من أي طريق جاؤوا؟"
ANSWER = "The north road, past the mill. الطريق الشمالي، بعد الطاحونة."


def _translated(message: str, language: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def png(colour=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (640, 420), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def reviewer(page):
    user = User.objects.create_user("rania", password=PASSWORD)
    user.groups.set(Group.objects.filter(name="Reviewer"))
    return user, enrol_app(user)


@pytest.fixture
def conversation(page, reviewer):
    """A testimony in review with a question, an answer that brought three photos (one cleaned, one
    being cleaned, one refused), and a second question still waiting."""
    receipt = receipts.new_receipt()
    submission = Submission.objects.create(
        receipt_digest=receipts.digest(receipts.normalise(receipt)),
        account="Men in masks took my neighbours at night. رجال ملثمون أخذوا جيراننا ليلاً.",
        status=Submission.Status.NEEDS_FOLLOW_UP,
    )
    Image.objects.create(
        submission=submission,
        position=0,
        state=Image.State.CLEAN,
        clean_blob=blobs.write(png()),
        media_type="image/png",
        removed=["gps"],
    )
    user, _app = reviewer
    actions.send_message(user, submission, "Do you have another photo of the checkpoint?")
    from intake.uploads import SealedUpload

    uploads = [SealedUpload(blob=blobs.write(b"raw"), size=3) for _ in range(3)]
    answer = actions.reply_as_witness(
        submission, text="Yes, two more. نعم، صورتان.", uploads=uploads, form_token=sent_forms.new_token()
    )
    clean, pending, refused = answer.images.order_by("position")
    Image.objects.filter(pk=clean.pk).update(
        state=Image.State.CLEAN,
        clean_blob=blobs.write(png((200, 60, 30))),
        media_type="image/png",
        # What the worker makes of it next (intake.likeness): the preview the page shows.
        preview_blob=blobs.write(camera_jpeg(size=(160, 120))),
        described=True,
    )
    Image.objects.filter(pk=refused.pk).update(
        state=Image.State.FAILED, refusal="too_large", refusal_params={"megabytes": 20}
    )
    actions.send_message(user, submission, QUESTION)
    return submission, receipt


def open_with_receipt(page, receipt):
    page.open("/status/")
    page.find("[name=receipt]").send_keys(receipt)
    page.submit()


def fields_filled(page) -> str:
    """What every field of the page holds, hidden ones too."""
    return page.driver.execute_script(
        "return [...document.querySelectorAll('input, textarea, select')].map(f => f.value).join('\\n')"
    )


def answers_typed(page) -> str:
    return page.driver.execute_script("return [...document.querySelectorAll('textarea')].map(t => t.value).join('')")


def test_the_witness_reads_the_question_and_answers_with_a_photo(page, conversation, language, tmp_path):
    submission, receipt = conversation
    open_with_receipt(page, receipt)
    assert page.find(".status strong").text == _translated("We have a question for you", language)
    assert QUESTION in page.find_all("article.message")[-1].text
    refused = Image.objects.get(submission=submission, state=Image.State.FAILED)
    with translation.override(language):
        reason = refused.refusal_text
    assert page.find("ul.refused li").text == f"{_translated('File %(number)s:', language) % {'number': 4}} {reason}"
    page.check("conversation")

    photo = tmp_path / "IMG_20260308_071200.jpg"
    photo.write_bytes(camera_jpeg())
    page.find("[name=text]").send_keys(ANSWER)
    page.find("[name=images]").send_keys(str(photo))
    page.submit("form.reply")
    assert re.search(r"/status/open/[-\w]+/$", page.driver.current_url)
    assert page.find("p.warning[role=status]").text == _translated("Your answer was received. Thank you.", language)
    assert answers_typed(page) == ""
    assert ANSWER in page.find_all("article.message")[-1].text
    message = Message.objects.filter(submission=submission).order_by("position").last()
    assert message.text == ANSWER and message.images.count() == 1
    page.check("conversation-answered")

    # A reload stores nothing twice. Back leads to the testimony's page as the receipt opened it (the
    # answer's address was only a redirect): the answer is there as sent, and in no field.
    reload(page)
    assert Message.objects.filter(submission=submission, sender=Message.Sender.WITNESS).count() == 2
    page.driver.execute_script("document.leftBehind = true")
    page.driver.back()
    WebDriverWait(page.driver, 20).until(
        lambda d: d.execute_script("return !document.leftBehind && document.readyState === 'complete'")
    )
    assert re.search(r"/status/open/[-\w]+/$", page.driver.current_url)
    assert page.heading == _translated("Your testimony", language) and page.find_all("form.reply")
    assert not page.find_all("p.warning[role=status]")  # no "received" notice
    assert ANSWER in page.find_all("article.message")[-1].text
    assert ANSWER not in fields_filled(page) and answers_typed(page) == ""

    # The language switch keeps what is typed, and the page. (Tried after Back: without JavaScript a
    # switched page's history entry is the form it was sent, docs/threat-model.md, and Back to it would
    # bring the browser's question whether to send it again.)
    other = "ar" if language == "en" else "en"
    more = "And the east road. والطريق الشرقي."
    page.find("[name=text]").send_keys(more)
    _click_and_wait_for_next_page(page.driver, page.find(f".language button[value='{other}']"))
    assert page.language == other and page.find("[name=text]").get_attribute("value") == more
    assert ANSWER in page.find_all("article.message")[-1].text
    page.check("conversation-switched")


def test_a_refused_answer_puts_focus_on_its_problems(page, conversation):
    _submission, receipt = conversation
    open_with_receipt(page, receipt)
    page.submit("form.reply")
    assert focus_is_on_the_problems(page)
    page.check("conversation-refused")


def test_a_reviewer_reads_the_conversation_and_writes_back(page, conversation, reviewer, language, request):
    submission, _receipt = conversation
    _user, app = reviewer
    log_in(page, app)
    assert page.find("strong.unread").text == _translated("New reply", language)
    page.check("review-queue-new-reply")

    page.follow(page.find(f"a[href^='/staff/submissions/{submission.pk}/']"))
    messages = page.find_all("#conversation article.message")
    assert len(messages) == 3 and QUESTION in messages[-1].text
    assert len(page.find_all("#conversation img")) == 1
    page.check("review-submission")

    page.find("#conversation textarea[name=text]").send_keys("Thank you. شكراً.")
    if request.node.callspec.params["driver"] == "js-on":  # sent without leaving the page (intake/review.js)
        page.find("#conversation form button[type=submit]").click()
        WebDriverWait(page.driver, 10).until(
            lambda d: d.find_elements("css selector", "#conversation p[role=status]"), "no confirmation"
        )
    else:  # the server brings the reviewer back to the conversation
        page.submit("#conversation form")
        assert page.driver.current_url.endswith("#conversation")
    sent = "Message sent. The witness will see it when they come back with their receipt."
    assert page.find("#conversation p[role=status]").text == _translated(sent, language)
    assert "Thank you. شكراً." in page.find_all("#conversation article.message")[-1].text
    page.check("review-submission-sent")
