"""The conversation through the receipt: a reviewer asks, the witness reads the question with their receipt,
answers and adds photos; reviewers see what is new. Tested through the pages of both sides."""

import io
import re

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from intake import access, actions, blobs, receipts, sent_forms
from intake.models import AuditEvent, Image, Message, Reading, Submission
from intake.witness import views
from tests.conftest import BrowserClient, at_once, log_in
from tests.test_privacy import written_logs  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def url(submission, name="review:submission"):
    return reverse(name, args=[submission.pk])


def witness_replies(submission, text="It was the north road.", photos=0) -> Message:
    """What a witness's answer leaves behind, without the witness's pages (tested below)."""
    from intake.uploads import SealedUpload

    uploads = [SealedUpload(blob=blobs.write(b"raw photo"), size=9) for _ in range(photos)]
    return actions.reply_as_witness(submission, text=text, uploads=uploads, form_token=sent_forms.new_token())


# --- The reviewer asks ---------------------------------------------------------------------------


def test_a_reviewer_sends_a_message_which_is_encrypted_audited_and_confirmed(reviewer_client, reviewer, submission):
    response = reviewer_client.post(url(submission, "review:send_message"), {"text": "Which road was it?"})
    assert response.status_code == 302
    assert response["Location"] == url(submission) + "#conversation"

    message = Message.objects.get()
    assert (message.sender, message.author, message.position, message.text) == (
        Message.Sender.STAFF,
        reviewer,
        0,
        "Which road was it?",
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.SENT_MESSAGE)
    assert (event.actor, event.submission_id, event.detail) == (reviewer, submission.pk, {"message": str(message.pk)})
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM intake_message")
        stored = bytes(cursor.fetchone()[0])
    assert b"Which road" not in stored and stored[:1] == b"\x01"

    page = reviewer_client.get(response["Location"]).content.decode()
    assert "Message sent." in page
    assert "Which road was it?" in page and f"Investigator ({reviewer.username})" in page
    assert "Waiting for the witness to answer." in page


def test_an_empty_message_is_refused_on_the_page_and_sends_nothing(reviewer_client, submission):
    response = reviewer_client.post(url(submission, "review:send_message"), {"text": "  "})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SENT_MESSAGE).exists()


@pytest.mark.parametrize("actor", ["admin_user", "superuser", "outsider"])
def test_staff_without_the_reviewer_role_cannot_send_a_message(client, submission, actor, request):
    log_in(client, request.getfixturevalue(actor))
    assert client.post(url(submission, "review:send_message"), {"text": "Hello"}).status_code == 404
    assert not Message.objects.exists()


def section(page: str, anchor: str) -> str:
    """The part of the submission page from ``id="anchor"`` to the next section."""
    start = page.index(f'<section id="{anchor}"')
    return page[start : page.index("</section>", start)]


def test_status_changes_notes_and_messages_are_confirmed_where_the_reviewer_is_brought_back(
    reviewer_client, submission
):
    response = reviewer_client.post(url(submission, "review:set_status"), {"status": "needs_follow_up"})
    assert response["Location"] == url(submission) + "#triage"
    page = reviewer_client.get(response["Location"]).content.decode()
    assert "Status set to “Needs follow-up”." in section(page, "triage")
    assert page.count("Status set to") == 1

    response = reviewer_client.post(url(submission, "review:add_note"), {"text": "Matches the mosque."})
    assert response["Location"] == url(submission) + "#notes"
    page = reviewer_client.get(response["Location"]).content.decode()
    assert "Note added." in section(page, "notes")
    assert page.count("Note added.") == 1
    assert "Status set to" not in page  # each confirmation is shown once

    response = reviewer_client.post(url(submission, "review:send_message"), {"text": "Which road?"})
    page = reviewer_client.get(response["Location"]).content.decode()
    assert "Message sent." in section(page, "conversation") and page.count("Message sent.") == 1


def test_the_page_has_its_sections_in_order_with_anchors(reviewer_client, submission):
    page = reviewer_client.get(url(submission)).content.decode()
    # Triage (status, assignee, tags) first, right under the heading, whatever the photos' length.
    places = [
        page.index(f'id="{anchor}"') for anchor in ("triage", "status", "testimony", "photos", "conversation", "notes")
    ]
    assert places == sorted(places)
    for anchor in ("conversation", "notes"):
        assert f'href="#{anchor}"' in page


def test_the_queues_filters_and_page_survive_a_visit_to_a_submission(reviewer_client, submission):
    queue = reviewer_client.get(QUEUE, {"status": "new", "replied": "on", "received_from": "2020-01-01", "evil": "x"})
    # Nothing replied yet: the filter shows nothing. Without it, the row links back with the filters.
    assert submission.reference not in queue.content.decode()
    queue = reviewer_client.get(QUEUE, {"status": "new", "received_from": "2020-01-01", "evil": "x"}).content.decode()
    link = re.search(rf'href="([^"]*{submission.pk}[^"]*)"', queue).group(1).replace("&amp;", "&")
    assert link == url(submission) + "?queue=status%3Dnew%26received_from%3D2020-01-01"

    page = reviewer_client.get(link).content.decode()
    assert f'href="{QUEUE}?status=new&amp;received_from=2020-01-01"' in page
    response = reviewer_client.post(
        url(submission, "review:add_note"), {"text": "x", "queue": "status=new&received_from=2020-01-01"}
    )
    assert response["Location"] == link + "#notes"


# --- What is new to a reviewer -------------------------------------------------------------------


def test_a_reply_is_marked_new_in_the_queue_until_the_reviewer_opens_the_submission(
    reviewer_client, reviewer, submission, client
):
    other = Submission.objects.create(receipt_digest="e" * 64, account="Nothing new here.")
    actions.send_message(reviewer, submission, "Which road?")
    queue = reviewer_client.get(QUEUE).content.decode()
    assert "New reply" not in queue

    witness_replies(submission)
    queue = reviewer_client.get(QUEUE).content.decode()
    row = re.search(rf"<tr>(?:(?!</tr>).)*{submission.reference}.*?</tr>", queue, re.S).group(0)
    assert "New reply" in row and queue.count("New reply") == 1
    replied = reviewer_client.get(QUEUE, {"replied": "on"}).content.decode()
    assert submission.reference in replied and other.reference not in replied

    page = reviewer_client.get(url(submission)).content.decode()
    assert "It was the north road." in page and "Witness" in page
    assert Reading.objects.get(user=reviewer, submission=submission).seen_updates == 1
    assert "New reply" not in reviewer_client.get(QUEUE).content.decode()
    assert submission.reference not in reviewer_client.get(QUEUE, {"replied": "on"}).content.decode()

    # Another reviewer has not seen it.
    from tests.conftest import _user

    log_in(client, _user("samir", "Reviewer"))
    assert "New reply" in client.get(QUEUE).content.decode()


def test_the_unread_mark_costs_no_query_per_row(reviewer_client, reviewer, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_queue():
        with CaptureQueriesContext(connection) as captured:
            assert reviewer_client.get(QUEUE).status_code == 200
        return len(captured)

    first = Submission.objects.create(receipt_digest="1" * 64, account="x")
    witness_replies(first)
    one_row = queries_for_queue()
    for number in range(2, 12):
        witness_replies(Submission.objects.create(receipt_digest=f"{number:064d}", account="x"))
    assert reviewer_client.get(QUEUE).content.decode().count("New reply") == 11
    assert queries_for_queue() == one_row


def test_the_conversation_shows_the_photos_a_reply_brought(reviewer_client, reviewer, submission):
    actions.send_message(reviewer, submission, "Do you have the original?")
    message = witness_replies(submission, text="", photos=3)
    pending, refused, clean = message.images.order_by("position")
    assert [pending.position, refused.position, clean.position] == [1, 2, 3]
    Image.objects.filter(pk=refused.pk).update(state=Image.State.FAILED, refusal="empty")
    Image.objects.filter(pk=clean.pk).update(
        state=Image.State.CLEAN, clean_blob=blobs.write(b"GIF89a-later"), media_type="image/gif"
    )
    # Photos still being cleaned do not hide a submission already in review.
    page = reviewer_client.get(url(submission)).content.decode()
    conversation = page[page.index('id="conversation"') : page.index('id="notes"')]
    assert "File 2 is being cleaned." in conversation
    assert "File 3 was refused:" in conversation
    assert reverse("review:image", args=[clean.pk]) in conversation
    assert reviewer_client.get(reverse("review:image", args=[clean.pk])).content == b"GIF89a-later"
    assert reviewer_client.get(reverse("review:image", args=[pending.pk])).status_code == 404
    photos = page[page.index('id="photos"') : page.index('id="conversation"')]
    assert "Photo 1" in photos and "Photo 2" not in photos


def queue_row(page: str, submission) -> str:
    return re.search(rf"<tr>(?:(?!</tr>).)*{submission.reference}.*?</tr>", page, re.S).group(0)


@pytest.mark.parametrize("outcome", ["cleaned", "refused"])
def test_a_later_photo_is_new_again_once_cleaned_or_refused_after_the_reviewer_looked(
    reviewer_client, reviewer, submission, outcome
):
    from intake.cleaning.api import Cleaned
    from intake.cleaning.reasons import Reason

    actions.send_message(reviewer, submission, "Do you have a photo of the road?")
    message = witness_replies(submission, text="This one.", photos=1)
    assert "New reply" in queue_row(reviewer_client.get(QUEUE).content.decode(), submission)
    # The reviewer opens it while the photo is still being cleaned: the mark goes.
    assert "File 2 is being cleaned." in reviewer_client.get(url(submission)).content.decode()
    assert "New reply" not in reviewer_client.get(QUEUE).content.decode()
    assert submission.reference not in reviewer_client.get(QUEUE, {"replied": "on"}).content.decode()

    # The worker finishes it, writing the image row only: the submission is new again.
    photo = message.images.get()
    if outcome == "cleaned":
        actions.record_clean(photo, Cleaned(io.BytesIO(b"GIF89a-road"), 11, "image/gif", "gif", (), "cd" * 32))
    else:
        actions.record_failure(photo, Reason.EMPTY)
    assert "New reply" in queue_row(reviewer_client.get(QUEUE).content.decode(), submission)
    assert submission.reference in reviewer_client.get(QUEUE, {"replied": "on"}).content.decode()

    page = reviewer_client.get(url(submission)).content.decode()
    assert "File 2 is being cleaned." not in page
    assert Reading.objects.get(user=reviewer, submission=submission).seen_updates == 2  # the reply, the photo
    assert "New reply" not in reviewer_client.get(QUEUE).content.decode()
    assert submission.reference not in reviewer_client.get(QUEUE, {"replied": "on"}).content.decode()


def test_neither_a_first_photo_nor_a_later_one_still_pending_makes_anything_new(reviewer_client, submission):
    message = witness_replies(submission, photos=1)
    reviewer_client.get(url(submission))
    # A photo of the first sending, cleaned now (they are cleaned before the queue shows the submission).
    Image.objects.create(submission=submission, position=2, state=Image.State.CLEAN)
    assert message.images.get().state == Image.State.PENDING
    assert "New reply" not in reviewer_client.get(QUEUE).content.decode()


@pytest.mark.parametrize("status", [Submission.Status.REJECTED, Submission.Status.ARCHIVED])
def test_a_closed_testimony_shows_no_message_form_and_takes_no_message(reviewer_client, submission, status):
    Submission.objects.filter(pk=submission.pk).update(status=status)
    closed = "This testimony is closed: the witness cannot answer. Change its status to write to them."
    conversation = section(reviewer_client.get(url(submission)).content.decode(), "conversation")
    assert closed in conversation
    assert reverse("review:send_message", args=[submission.pk]) not in conversation and "<textarea" not in conversation

    # A page left open from before still posts the form: nothing is sent, and the reviewer is told why.
    response = reviewer_client.post(url(submission, "review:send_message"), {"text": "Which road?"})
    assert response.status_code == 302 and response["Location"] == url(submission) + "#conversation"
    assert not Message.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SENT_MESSAGE).exists()
    page = reviewer_client.get(response["Location"]).content.decode()
    assert section(page, "conversation").count(closed) == 2  # the refusal, then the note in the form's place
    assert "Message sent." not in page

    # Reopened, the form is back.
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.NEEDS_FOLLOW_UP)
    conversation = section(reviewer_client.get(url(submission)).content.decode(), "conversation")
    assert closed not in conversation and "<textarea" in conversation


def test_a_message_to_a_testimony_closed_meanwhile_is_refused(reviewer, submission):
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.REJECTED)
    with pytest.raises(actions.TestimonyClosed):
        actions.send_message(reviewer, submission, "Which road?")  # ``submission`` still says "new"
    assert not Message.objects.exists()


# --- Positions ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_messages_get_distinct_positions(reviewer):
    submission = Submission.objects.create(receipt_digest="f" * 64, account="x")
    writers = 8

    def write(number):
        if number % 2:
            actions.send_message(reviewer, submission, f"question {number}")
        else:
            witness_replies(submission, text=f"answer {number}")

    assert at_once(writers, write) == []
    assert sorted(Message.objects.values_list("position", flat=True)) == list(range(writers))
    submission.refresh_from_db()
    assert submission.witness_updates == writers // 2


# --- The witness reads and answers ------------------------------------------------------------------

STATUS = reverse("witness:status")
# The answer's address on a page opened at some visit (views._see_other). The test client sends every
# cookie to every address, so posting here stands for posting from any page; ``answer`` uses its page's.
REPLY = reverse("witness:reply", args=["a-visit"])


@pytest.fixture
def receipt() -> str:
    return receipts.new_receipt()


@pytest.fixture
def testimony(receipt):
    """A testimony whose receipt the witness holds, with one photo cleaned."""
    submission = Submission.objects.create(
        receipt_digest=receipts.digest(receipts.normalise(receipt)), account="They came at dawn."
    )
    Image.objects.create(submission=submission, position=0, state=Image.State.CLEAN, clean_blob=blobs.write(b"GIF89a"))
    return submission


def open_testimony(client, receipt, **extra):
    response = client.post(STATUS, {"receipt": receipt, **extra})
    assert response.status_code == 200
    return response


def access_in(response) -> str:
    """The access token that typing the receipt gave the browser: a cookie, never a field of the page."""
    return response.see_other.cookies[views.ACCESS_COOKIE].value


def forge_access(client, token: str) -> None:
    client.cookies[views.ACCESS_COOKIE] = token


def reply_fields(response) -> dict[str, str]:
    """The hidden fields of the answer form, as the browser sends them: the access and one-time tokens."""
    form = re.search(r'<form[^>]*id="answer".*?</form>', response.content.decode(), re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def answer(client, page, text="It was the north road.", images=(), **fields):
    """Send the answer form of ``page``: what the witness's browser posts when they press Send."""
    return client.post(reply_url(page), {**reply_fields(page), "text": text, "images": list(images), **fields})


def reply_url(page) -> str:
    """Where the page's answer form is sent: the answer address of the page's own visit."""
    return re.search(r'<form method="post" action="([^"]+)"[^>]*id="answer"', page.content.decode()).group(1)


VISIT = r"/status/open/([-\w]+)/"


def send_testimony(client, account="Another testimony."):
    """The testimony form, drawn and sent as a browser does, with whatever hidden fields it carries."""
    submit = reverse("witness:submit")
    form = re.search(r"<form[^>]*testimony.*?</form>", client.get(submit).content.decode(), re.S).group(0)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return client.post(submit, {**hidden, "account": account})


def upload(data: bytes, name="IMG_20260308_0712.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, "image/jpeg")


def test_the_witness_reads_the_question_with_the_day_only_and_is_told_it_waits(client, testimony, receipt, reviewer):
    testimony.status = Submission.Status.NEEDS_FOLLOW_UP
    testimony.save(update_fields=["status"])
    actions.send_message(reviewer, testimony, "Which road did they come by?")
    page = open_testimony(client, receipt).content.decode()
    assert "Which road did they come by?" in page
    assert "<strong>We have a question for you</strong>" in page
    assert "Being reviewed" not in page  # "Needs follow-up" with a question waiting says so
    assert "Investigator" in page and reviewer.username not in page
    assert not re.search(r"\d{1,2}:\d{2}", page)  # a day, never a time
    # The page carries neither the receipt nor the token that stands for it.
    assert receipt not in page and receipt.replace(" ", "") not in page.replace(" ", "")
    token = access_in(open_testimony(client, receipt))
    assert access.submission_for_witness(token) == testimony and token not in page


def test_the_receipt_opens_the_page_by_a_bare_redirect_and_a_cookie_for_that_page_and_the_hour(
    client, receipt, testimony
):
    """What stays in the history is the testimony page's address, never the receipt it was opened with."""
    page = open_testimony(client, receipt)
    redirect = page.see_other
    assert redirect.status_code == 303 and re.fullmatch(VISIT, redirect["Location"])
    assert redirect.content == b""
    cookie = redirect.cookies[views.ACCESS_COOKIE]
    assert cookie["path"] == redirect["Location"] and reply_url(page).startswith(cookie["path"])
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["secure"]
    # A session cookie, dropped when the browser starts again, not one with an age that outlives a closed
    # browser: the server holds it to its hour.
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    # Each opening has an address of its own, so two tabs keep two cookies.
    assert open_testimony(client, receipt).see_other["Location"] != redirect["Location"]
    # The receipt form's own address never opens the testimony, even if the cookie were sent there.
    assert "They came at dawn." not in client.get(STATUS).content.decode()
    assert 'name="receipt"' in client.get(STATUS).content.decode()


def test_a_received_answer_is_said_once_on_the_pages_own_address(client, receipt, testimony):
    opened = open_testimony(client, receipt)
    page = answer(client, opened, text="The north road.")
    assert page.see_other.status_code == 303 and page.see_other["Location"] == opened.see_other["Location"]
    assert page.see_other.content == b""
    assert "Your answer was received." in page.content.decode() and "The north road." in page.content.decode()
    again = client.get(page.see_other["Location"])  # a reload
    assert "Your answer was received." not in again.content.decode()
    assert Message.objects.count() == 1


def test_an_old_secret_key_in_the_fallbacks_forges_no_access(settings, testimony):
    from django.core.signing import TimestampSigner

    settings.SECRET_KEY_FALLBACKS = ["an old secret, rotated out"]
    forged = TimestampSigner(key="an old secret, rotated out", salt="intake.witness.access").sign(
        testimony.receipt_digest
    )
    assert access.submission_for_witness(forged) is None


def test_once_answered_the_question_no_longer_waits(client, testimony, receipt, reviewer):
    actions.send_message(reviewer, testimony, "Which road?")
    answered = answer(client, open_testimony(client, receipt)).content.decode()
    assert "We have a question for you" not in answered
    assert "<strong>Received</strong>" in answered


def test_the_witness_is_told_how_many_photos_arrived_and_why_each_refused_one_was(client, testimony, receipt):
    Image.objects.create(submission=testimony, position=1, original_blob=blobs.write(b"raw"))
    Image.objects.create(
        submission=testimony,
        position=2,
        state=Image.State.FAILED,
        refusal="too_large",
        refusal_params={"megabytes": 20},
    )
    refused = Image.objects.get(position=2)
    page = open_testimony(client, receipt).content.decode()
    counts = dict(re.findall(r"<li>([^<]+): <strong>(\d+)</strong>", page))
    assert counts == {
        "Photos and videos received": "3",
        "Cleaned, ready for investigators": "1",
        "Being cleaned": "1",
        "Refused": "1",
    }
    assert f"File 3: {refused.refusal_text}" in page
    assert "File 1:" not in page and "File 2:" not in page

    # In the witness's language: the reason is the one shown in Arabic.
    from django.utils import translation

    arabic = client.post(STATUS, {"receipt": receipt}, HTTP_ACCEPT_LANGUAGE="ar")
    with translation.override("ar"):
        in_arabic = str(refused.refusal_text)
    assert 'lang="ar"' in arabic.content.decode() and in_arabic in arabic.content.decode()


def test_an_answer_is_stored_encrypted_counted_as_new_and_never_put_back_in_a_form_field(client, testimony, receipt):
    page = open_testimony(client, receipt)
    response = answer(client, page, text="It was the north road, near the mill.")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your answer was received." in body
    # Shown in the conversation, never as the value of a field that a reload or Back would send again.
    assert re.search(r"<textarea[^>]*>\s*</textarea>", body)
    assert "near the mill." in body.split("<textarea")[0]

    message = Message.objects.get()
    assert (message.sender, message.author, message.position, message.text) == (
        Message.Sender.WITNESS,
        None,
        0,
        "It was the north road, near the mill.",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM intake_message")
        assert b"north road" not in bytes(cursor.fetchone()[0])
    testimony.refresh_from_db()
    assert testimony.witness_updates == 1
    # Nothing of the witness's visit is audited, and no session is made.
    assert not AuditEvent.objects.exists()
    assert "sessionid" not in response.cookies and "no-store" in response["Cache-Control"]


def test_an_answer_sent_again_is_stored_once_and_never_given_back_in_a_field(client, testimony, receipt, monkeypatch):
    """A reload of the page that said "received", a second tap, Back then Forward: the same form again."""
    page = open_testimony(client, receipt)
    first = answer(client, page, text="Only once, please.")
    again = answer(client, page, text="Only once, please.")
    assert "Your answer was received." in again.content.decode()
    assert not re.search(r"<textarea[^>]*>\s*Only once", again.content.decode())
    assert Message.objects.count() == 1
    testimony.refresh_from_db()
    assert testimony.witness_updates == 1

    # Even after the page's hour: nothing stored, and the text is not put back in the receipt form.
    import time

    from django.core import signing

    later = time.time() + access.WITNESS_ACCESS_SECONDS + 1
    monkeypatch.setattr(signing.time, "time", lambda: later)
    late = answer(client, page, text="Only once, please.")
    assert "Your answer was received. To see your testimony again, type your receipt." in late.content.decode()
    assert "Only once" not in late.content.decode()
    assert Message.objects.count() == 1
    # The page that said "received" carries a new form token, for the next answer.
    assert reply_fields(first)[sent_forms.FIELD] != reply_fields(page)[sent_forms.FIELD]


def test_a_refused_answer_keeps_its_form_token_so_its_first_page_cannot_send_it_twice(client, testimony, receipt):
    first = open_testimony(client, receipt)
    refused = answer(client, first, text="")
    assert "Write an answer, or choose photos or videos to add, or both." in refused.content.decode()
    assert reply_fields(refused)[sent_forms.FIELD] == reply_fields(first)[sent_forms.FIELD]
    answer(client, refused, text="Corrected.")
    assert "Your answer was received." in answer(client, first, text="Corrected.").content.decode()
    assert Message.objects.count() == 1


def test_two_sends_of_one_form_at_once_store_it_once(client, testimony, receipt, monkeypatch):
    page = open_testimony(client, receipt)
    fields = reply_fields(page)
    witness_replies_with = actions.reply_as_witness
    # The second request looked before the first one claimed the token: its claim is what refuses it.
    witness_replies_with(testimony, text="first", uploads=[], form_token=fields[sent_forms.FIELD])
    monkeypatch.setattr(sent_forms, "check", lambda token: sent_forms.Seen(sent_forms.FRESH))
    response = answer(client, page, text="second")
    assert "Your answer was received." in response.content.decode()
    assert [message.text for message in Message.objects.all()] == ["first"]


def test_an_answer_without_its_form_token_is_not_stored_and_given_back(client, testimony, receipt):
    fields = reply_fields(open_testimony(client, receipt))
    del fields[sent_forms.FIELD]
    response = client.post(REPLY, {**fields, "text": "From an old page."})
    assert response.status_code == 400
    assert "From an old page." in response.content.decode()
    assert not Message.objects.exists()
    assert "Your answer was received." in answer(client, response, text="From an old page.").content.decode()


def test_an_answer_whose_cookie_is_gone_asks_for_the_receipt_and_keeps_the_text(testimony, receipt):
    """The browser was closed and opened again: its CSRF cookie is gone, and the answer is refused."""

    strict = BrowserClient(enforce_csrf_checks=True)
    page = strict.post(STATUS, {"receipt": receipt, "csrfmiddlewaretoken": csrf_of(strict)})
    assert page.status_code == 200
    del strict.cookies[settings.CSRF_COOKIE_NAME]
    ours = {"HTTP_ORIGIN": "http://testserver"}
    response = strict.post(REPLY, {**reply_fields(page), "text": "Written before the browser closed."}, **ours)
    assert response.status_code == 403 and "Written before the browser closed." in response.content.decode()
    assert 'name="receipt"' in response.content.decode() and not Message.objects.exists()
    # From another site, nothing written is given back.
    elsewhere = strict.post(REPLY, {**reply_fields(page), "text": "Written before the browser closed."})
    assert elsewhere.status_code == 403 and "Written before the browser closed." not in elsewhere.content.decode()


def csrf_of(client) -> str:
    page = client.get(STATUS).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_language_switch_keeps_the_answer_typed_and_sends_nothing(client, testimony, receipt, reviewer):
    actions.send_message(reviewer, testimony, "Which road?")
    page = open_testimony(client, receipt)
    # The buttons name the answer form, the one element with that id.
    assert 'form="answer" name="language" value="ar"' in page.content.decode()
    assert page.content.decode().count('id="answer"') == 1 and re.search(
        r'<form[^>]*id="answer"', page.content.decode()
    )
    fields = reply_fields(page)
    switched = client.post(REPLY, {**fields, "text": "Typed, not sent.", "language": "ar"})
    body = switched.content.decode()
    assert switched.status_code == 200 and 'lang="ar"' in body
    assert re.search(r'<textarea name="text"[^>]*>\s*Typed, not sent.</textarea>', body)
    assert "Which road?" in body  # still the conversation
    assert not Message.objects.filter(sender=Message.Sender.WITNESS).exists()
    # The same form still sends the answer once, in the new language.
    assert reply_fields(switched)[sent_forms.FIELD] == fields[sent_forms.FIELD]
    assert switched.cookies["django_language"].value == "ar"
    answer(client, switched, text="Typed, not sent.")
    assert [message.text for message in Message.objects.filter(sender=Message.Sender.WITNESS)] == ["Typed, not sent."]


def test_the_language_switch_on_the_receipt_form_keeps_the_receipt_and_the_answer_and_looks_nothing_up(client):
    page = client.get(STATUS).content.decode()
    assert 'form="receipt" name="language" value="ar"' in page
    switched = client.post(STATUS, {"receipt": "1234 5678", "draft": "Kept answer.", "language": "ar"})
    body = switched.content.decode()
    assert 'lang="ar"' in body and 'value="1234 5678"' in body
    assert re.search(r'<textarea name="draft"[^>]*>\s*Kept answer.</textarea>', body)
    assert "No testimony matches" not in body


def test_the_answer_address_opened_directly_leads_to_the_receipt_form(client):
    response = client.get(REPLY, follow=True)
    assert response.redirect_chain == [(reverse("witness:testimony", args=["a-visit"]), 302), (STATUS, 302)]


def test_added_photos_continue_the_numbering_and_go_to_the_same_worker(
    client, testimony, receipt, photo, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(actions, "enqueue_cleaning", enqueued.append)
    page = open_testimony(client, receipt)
    with django_capture_on_commit_callbacks(execute=True):
        response = answer(client, page, text="", images=[upload(photo), upload(photo, "b.jpg")])
    assert "Your answer was received." in response.content.decode()
    message = Message.objects.get()
    added = list(message.images.order_by("position"))
    assert [image.position for image in added] == [1, 2]
    assert all(image.state == Image.State.PENDING and blobs.exists(image.original_blob) for image in added)
    assert enqueued == [image.pk for image in added]
    assert message.text == ""
    # The witness is told they are being cleaned.
    assert "Being cleaned: <strong>2</strong>" in response.content.decode()
    assert "Photos and videos added: 2, 3" in response.content.decode()


def test_an_answer_with_neither_words_nor_photos_is_refused(client, testimony, receipt):
    response = answer(client, open_testimony(client, receipt), text="   ")
    assert (
        '<a href="#id_text">Write an answer, or choose photos or videos to add, or both.</a>'
        in response.content.decode()
    )
    assert not Message.objects.exists()


def test_photos_past_the_testimonys_limit_are_refused_with_the_limit_stated(
    client, settings, testimony, receipt, photo
):
    settings.INTAKE_MAX_IMAGES_PER_SUBMISSION = 2
    page = open_testimony(client, receipt)
    assert "A testimony can have 2 files in all; you can add 1 more." in page.content.decode()
    # The check before sending (photos.js) is told the same: one more, not the ten of a send.
    assert 'data-max-count="1"' in page.content.decode()
    assert "This testimony can take 1 more file. Please choose fewer." in page.content.decode()
    response = answer(client, page, text="Two more.", images=[upload(photo), upload(photo)])
    body = response.content.decode()
    assert "A testimony can have at most 2 files in all." in body
    assert "Two more." in body  # the text is kept
    assert not Message.objects.exists()
    assert blobs.all_names() == [testimony.images.get().clean_blob]  # the uploads were not kept
    assert "Your answer was received." in answer(client, page, images=[upload(photo)]).content.decode()


def test_answers_past_the_testimonys_limit_are_refused(client, settings, testimony, receipt):
    settings.INTAKE_MAX_REPLIES = 2
    page = open_testimony(client, receipt)
    for number in range(2):
        page = answer(client, page, text=f"answer {number}")
        assert "Your answer was received." in page.content.decode()
    response = answer(client, page, text="a third")
    assert "This testimony has had as many answers as it can take." in response.content.decode()
    assert Message.objects.count() == 2


def test_a_closed_testimony_takes_no_answer_and_says_so(client, testimony, receipt, photo):
    page = open_testimony(client, receipt)
    testimony.status = Submission.Status.ARCHIVED
    testimony.save(update_fields=["status"])
    response = answer(client, page, text="One more thing.", images=[upload(photo)])
    body = response.content.decode()
    assert "Work on this testimony is finished: it takes no more answers, photos or videos." in body
    assert not Message.objects.exists()
    assert blobs.all_names() == [testimony.images.get().clean_blob]
    closed = open_testimony(client, receipt).content.decode()
    assert 'name="text"' not in closed and 'name="images"' not in closed


def test_sending_the_page_does_not_renew_its_hour(client, testimony, receipt, monkeypatch):
    """A page left open, on a seized phone say, cannot be kept alive by answering or switching language
    every 59 minutes: only the receipt starts a new hour."""
    import time

    from django.core import signing

    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - access.WITNESS_ACCESS_SECONDS + 60)
    page = open_testimony(client, receipt)
    monkeypatch.setattr(signing.time, "time", lambda: now)
    page = answer(client, page, text="Sent in the page's last minute.")
    assert "Your answer was received." in page.content.decode()
    page = client.post(REPLY, {**reply_fields(page), "language": "ar"})  # a switch, sending nothing
    assert page.status_code == 200
    monkeypatch.setattr(signing.time, "time", lambda: now + 61)
    late = answer(client, page, text="Sent past the hour.")
    assert late.status_code == 400 and 'name="receipt"' in late.content.decode()  # (now in Arabic)
    assert [message.text for message in Message.objects.all()] == ["Sent in the page's last minute."]


def test_an_expired_page_asks_for_the_receipt_again_and_gives_the_answer_back(client, testimony, receipt, monkeypatch):
    import time

    from django.core import signing

    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - access.WITNESS_ACCESS_SECONDS - 1)
    page = open_testimony(client, receipt)
    monkeypatch.setattr(signing.time, "time", lambda: now)
    response = answer(client, page, text="Typed for a long time.")
    assert response.status_code == 400
    body = response.content.decode()
    assert "the page was open for more than an hour" in body
    assert re.search(r'<a href="#id_receipt">Your answer was not sent: the page was open', body)
    # Drawn at the answer's address, its receipt form posts to the receipt's own.
    assert f'<form method="post" action="{STATUS}" id="receipt"' in body
    assert re.search(r'<textarea name="draft"[^>]*>\s*Typed for a long time.</textarea>', body)
    assert not Message.objects.exists()

    # The receipt again, and the answer is back in its box, ready to send.
    again = open_testimony(client, receipt, draft="Typed for a long time.").content.decode()
    assert re.search(r'<textarea name="text"[^>]*>\s*Typed for a long time.</textarea>', again)


@pytest.mark.parametrize("forgery", ["altered", "other_key", "empty"])
def test_a_forged_token_opens_nothing_and_gives_the_answer_back(client, testimony, receipt, forgery):
    from django.core.signing import TimestampSigner

    other = Submission.objects.create(receipt_digest="9" * 64, account="someone else's")
    token = access_in(open_testimony(client, receipt))
    forged = {
        "altered": token.replace(testimony.receipt_digest, other.receipt_digest),
        # Signed with SECRET_KEY, which a copy of the settings gives away: not the key the tokens need.
        "other_key": TimestampSigner(salt="intake.witness.access").sign(other.receipt_digest),
        "empty": "",
    }[forgery]
    forge_access(client, forged)
    response = client.post(REPLY, {"text": "Not for them."})
    assert response.status_code == 400
    assert "Not for them." in response.content.decode()
    assert not Message.objects.exists()


# --- Received like a testimony ---------------------------------------------------------------------------


def test_an_answer_is_received_like_a_testimony(rf):
    from intake import body_guard

    request = rf.post(REPLY, {"text": "x"})
    assert body_guard.is_testimony(request)
    assert body_guard.takes_upload_slot(request, 100)
    assert not body_guard.is_testimony(rf.post(STATUS, {"receipt": "x"}))


def test_an_answer_too_large_is_read_no_further_than_its_text_which_comes_back(client, settings, testimony, receipt):
    from tests.test_floods import MB, EndlessBody, form_head, post_stream

    open_testimony(client, receipt)
    head = form_head().replace(b'name="account"', b'name="text"')
    body = EndlessBody(head, 2000 * MB)
    response = post_stream(client, REPLY, body, 2000 * MB)
    assert response.status_code == 413
    page = response.content.decode()
    assert "Your answer was not received" in page and "Men in masks took my neighbours" in page
    assert body.taken <= settings.INTAKE_MAX_FIELDS_BYTES
    assert not Message.objects.exists()
    assert blobs.all_names() == [testimony.images.get().clean_blob]


def test_an_answer_counts_in_the_hourly_budget_and_is_refused_once_it_is_spent(
    client, settings, testimony, receipt, photo
):
    settings.INTAKE_SUBMISSIONS_PER_HOUR = 2
    page = open_testimony(client, receipt)
    page = answer(client, page, text="first")
    assert "Your answer was received." in page.content.decode()
    assert "Keep this receipt secret" in send_testimony(client).content.decode()
    for images in ([], [upload(photo)]):
        response = answer(client, page, text="over the budget", images=images)
        assert response.status_code == 503 and response["Retry-After"]
        assert "over the budget" in response.content.decode()
    assert Message.objects.count() == 1
    assert blobs.all_names() == [testimony.images.get().clean_blob]


def test_below_the_disk_floor_an_answer_with_photos_is_refused_and_nothing_written(
    client, settings, testimony, receipt, photo
):
    import shutil

    from tests.conftest import ROOT

    page = open_testimony(client, receipt)
    settings.INTAKE_MIN_FREE_DISK_MB = shutil.disk_usage(ROOT).free // (1024 * 1024) + 1024
    response = answer(client, page, text="kept", images=[upload(photo)])
    assert response.status_code == 503 and "kept" in response.content.decode()
    assert not Message.objects.exists()
    assert blobs.all_names() == [testimony.images.get().clean_blob]


def test_an_answer_cut_off_in_its_photo_stores_nothing(client, testimony, receipt, photo):
    import io

    from tests.test_floods import BOUNDARY, MULTIPART

    open_testimony(client, receipt)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="text"\r\n\r\nThe mill.\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="images"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    whole = head + photo + f"\r\n--{BOUNDARY}--\r\n".encode()
    sent = whole[: len(head) + len(photo) // 2]
    response = client.generic(
        "POST", REPLY, b"x", content_type=MULTIPART, CONTENT_LENGTH=str(len(whole)), **{"wsgi.input": io.BytesIO(sent)}
    )
    assert response.status_code == 400
    assert "did not arrive whole" in response.content.decode() and "The mill." in response.content.decode()
    assert not Message.objects.exists()
    assert blobs.all_names() == [testimony.images.get().clean_blob]


def test_nothing_a_witness_does_in_the_conversation_writes_a_log_line(
    client,
    testimony,
    receipt,
    written_logs,  # noqa: F811 - the fixture
):
    """Its time would say when they came: refusals are counted per day, never written."""
    from tests.test_privacy import count_of

    before = count_of("expired_access")
    page = open_testimony(client, receipt)
    page = answer(client, page, text="An answer.")
    assert client.post(REPLY, {"text": "no form token"}).status_code == 400
    assert "Write an answer" in answer(client, page, text="").content.decode()
    forge_access(client, "forged")
    assert client.post(REPLY, {"text": "x"}).status_code == 400
    assert written_logs.getvalue() == ""
    assert count_of("expired_access") == before + 1


def test_an_answer_sent_to_the_address_pages_had_before_asks_for_the_receipt_and_keeps_the_text(client):
    """A page drawn before each page had an address of its own, sent after the upgrade."""
    response = client.post(reverse("witness:reply_from_before"), {"text": "Typed on an old page."})
    assert response.status_code == 400
    body = response.content.decode()
    assert re.search(r'<textarea name="draft"[^>]*>\s*Typed on an old page.</textarea>', body)
    assert f'<form method="post" action="{STATUS}" id="receipt"' in body
    assert not Message.objects.exists()
