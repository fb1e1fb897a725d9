"""The conversation through the receipt: a reviewer asks, the witness reads the question with their receipt,
answers and adds photos; reviewers see what is new. Tested through the pages of both sides."""

import re
import threading

import pytest
from django.db import connection
from django.urls import reverse

from intake import actions, blobs
from intake.models import AuditEvent, Image, Message, Reading, Submission
from tests.conftest import log_in

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


@pytest.fixture
def submission():
    submission = Submission.objects.create(receipt_digest="d" * 64, account="They came at dawn.")
    Image.objects.create(
        submission=submission,
        position=0,
        state=Image.State.CLEAN,
        clean_blob=blobs.write(b"GIF89a-cleaned"),
        media_type="image/gif",
        sha256="ab" * 32,
    )
    return submission


def url(submission, name="review:submission"):
    return reverse(name, args=[submission.pk])


def witness_replies(submission, text="It was the north road.", photos=0) -> Message:
    """What a witness's answer leaves behind, without the witness's pages (tested below)."""
    from intake.uploads import SealedUpload

    uploads = [SealedUpload(blob=blobs.write(b"raw photo"), size=9) for _ in range(photos)]
    return actions.reply_as_witness(submission, text=text, uploads=uploads)


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


def test_status_changes_and_notes_are_confirmed_and_keep_the_reviewer_in_place(reviewer_client, submission):
    response = reviewer_client.post(url(submission, "review:set_status"), {"status": "needs_follow_up"})
    assert response["Location"] == url(submission) + "#status"
    assert "Status set to “Needs follow-up”." in reviewer_client.get(response["Location"]).content.decode()

    response = reviewer_client.post(url(submission, "review:add_note"), {"text": "Matches the mosque."})
    assert response["Location"] == url(submission) + "#notes"
    page = reviewer_client.get(response["Location"]).content.decode()
    assert "Note added." in page
    assert "Status set to" not in page  # each confirmation is shown once


def test_the_page_has_its_sections_in_order_with_anchors(reviewer_client, submission):
    page = reviewer_client.get(url(submission)).content.decode()
    places = [page.index(f'id="{anchor}"') for anchor in ("testimony", "photos", "conversation", "status", "notes")]
    assert places == sorted(places)
    for anchor in ("conversation", "status", "notes"):
        assert f'href="#{anchor}"' in page


def test_the_queues_filters_and_page_survive_a_visit_to_a_submission(reviewer_client, submission):
    queue = reviewer_client.get(QUEUE, {"status": "new", "replied": "on", "page": "1", "evil": "x"})
    # Nothing replied yet: the filter shows nothing. Without it, the row links back with the filters.
    assert submission.reference not in queue.content.decode()
    queue = reviewer_client.get(QUEUE, {"status": "new", "page": "1", "evil": "x"}).content.decode()
    link = re.search(rf'href="([^"]*{submission.pk}[^"]*)"', queue).group(1).replace("&amp;", "&")
    assert link == url(submission) + "?queue=status%3Dnew%26page%3D1"

    page = reviewer_client.get(link).content.decode()
    assert f'href="{QUEUE}?status=new&amp;page=1"' in page
    response = reviewer_client.post(url(submission, "review:add_note"), {"text": "x", "queue": "status=new&page=1"})
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
    conversation = page[page.index('id="conversation"') : page.index('id="status"')]
    assert "Photo 2 is being cleaned." in conversation
    assert "Photo 3 was refused:" in conversation
    assert reverse("review:image", args=[clean.pk]) in conversation
    assert reviewer_client.get(reverse("review:image", args=[clean.pk])).content == b"GIF89a-later"
    assert reviewer_client.get(reverse("review:image", args=[pending.pk])).status_code == 404
    photos = page[page.index('id="photos"') : page.index('id="conversation"')]
    assert "Photo 1" in photos and "Photo 2" not in photos


# --- Positions ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_messages_get_distinct_positions(reviewer):
    submission = Submission.objects.create(receipt_digest="f" * 64, account="x")
    writers = 8
    start = threading.Barrier(writers)
    errors = []

    def write(number):
        try:
            start.wait()
            if number % 2:
                actions.send_message(reviewer, submission, f"question {number}")
            else:
                witness_replies(submission, text=f"answer {number}")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(Message.objects.values_list("position", flat=True)) == list(range(writers))
    submission.refresh_from_db()
    assert submission.witness_updates == writers // 2
