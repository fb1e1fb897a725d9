"""Every change of stored state, as one small function each: the witness's submission, the worker's
results, and what staff do. Each runs in a transaction; background work is enqueued only after commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from intake import blobs, broker, likeness, receipts, search, sent_forms
from intake.cleaning import Cleaned
from intake.cleaning.reasons import Reason
from intake.models import AuditEvent, Image, LikenessBand, Message, Note, Reading, Submission
from intake.uploads import SealedUpload

log = logging.getLogger(__name__)


# --- Witness ---------------------------------------------------------------------------------


def submit_testimony(
    *, account: str, happened_when: str, happened_where: str, uploads: list[SealedUpload], token: str
) -> str:
    """Store a testimony and its encrypted uploads; return the receipt, which is kept nowhere but sealed
    under the form's one-time ``token``, claimed in the same transaction: a form sent again stores
    nothing (raises intake.sent_forms.AlreadySent)."""
    receipt = receipts.new_receipt()
    with transaction.atomic():
        sent_forms.claim(token, keep={"receipt": receipt, "photos": len(uploads)})
        submission = Submission.objects.create(
            receipt_digest=receipts.digest(receipt),
            account=account,
            happened_when=happened_when,
            happened_where=happened_where,
        )
        search.add_words(submission, account, happened_when, happened_where)
        for position, upload in enumerate(uploads):
            if upload.blob is None:  # the form refuses these; storing one would lose the photo
                raise ValueError(f"upload {position} was not received completely")
            image = Image.objects.create(submission=submission, position=position, original_blob=upload.blob)
            transaction.on_commit(partial(enqueue_cleaning, image.pk), robust=True)
    for upload in uploads:
        upload.claimed = True  # stored: the view must not discard it
    return receipt


class ReplyRefused(Exception):
    """Why a witness's reply cannot be stored: ``CLOSED``, ``TOO_MANY_PHOTOS`` or ``TOO_MANY_MESSAGES``."""

    CLOSED = "closed"
    TOO_MANY_PHOTOS = "too_many_photos"
    TOO_MANY_MESSAGES = "too_many_messages"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def reply_as_witness(submission: Submission, *, text: str, uploads: list[SealedUpload], form_token: str) -> Message:
    """Store a witness's answer and the photos it brings, all or nothing; the photos are cleaned by the
    same worker as the first ones. ``form_token`` is the answer form's one-time token (intake.sent_forms),
    claimed in the same transaction: raises sent_forms.AlreadySent if that form was stored before. Not
    audited: the audit log names a member of staff, and its time would date the witness to the second.
    Raises ReplyRefused past the testimony's limits."""
    with transaction.atomic():
        sent_forms.claim(form_token)
        # The row lock orders concurrent writers of one conversation: positions cannot collide.
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if not locked.accepts_replies:
            raise ReplyRefused(ReplyRefused.CLOSED)
        if locked.messages.filter(sender=Message.Sender.WITNESS).count() >= settings.INTAKE_MAX_REPLIES:
            raise ReplyRefused(ReplyRefused.TOO_MANY_MESSAGES)
        photos = locked.images.count()
        if photos + len(uploads) > settings.INTAKE_MAX_IMAGES_PER_SUBMISSION:
            raise ReplyRefused(ReplyRefused.TOO_MANY_PHOTOS)
        message = Message.objects.create(
            submission=locked, sender=Message.Sender.WITNESS, position=_next_message_position(locked), text=text
        )
        search.add_words(locked, text)
        last_photo = locked.images.aggregate(last=Max("position"))["last"]
        first = 0 if last_photo is None else last_photo + 1
        for offset, upload in enumerate(uploads):
            if upload.blob is None:  # the form refuses these; storing one would lose the photo
                raise ValueError(f"upload {offset} was not received completely")
            image = Image.objects.create(
                submission=locked, message=message, position=first + offset, original_blob=upload.blob
            )
            transaction.on_commit(partial(enqueue_cleaning, image.pk), robust=True)
        Submission.objects.filter(pk=locked.pk).update(witness_updates=F("witness_updates") + 1)
    for upload in uploads:
        upload.claimed = True  # stored: the view must not discard it
    return message


def _next_message_position(locked: Submission) -> int:
    """The next place in a conversation; call with the submission's row locked."""
    last = locked.messages.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


def find_by_receipt(text: str) -> Submission | None:
    receipt = receipts.normalise(text)
    if not isinstance(receipt, str):  # not a receipt, or one whose check digit fails
        return None
    return Submission.objects.filter(receipt_digest=receipts.digest(receipt)).first()


# --- Worker ----------------------------------------------------------------------------------


def enqueue_cleaning(image_id) -> None:
    """Hand an image to the worker, without waiting for the broker (intake.broker.hand_off). If the
    broker is down or frozen the image stays pending; the worker's sweeps (intake.tasks) find it again,
    so nothing accepted is lost, and the witness's receipt never waits for the broker.

    A broker outage is not logged here: a log line written as a witness submits would record when
    they did. The worker reports the outage, and the pending images are counted (docs/deployment.md).
    """
    broker.hand_off(str(image_id))


def record_clean(image: Image, cleaned: Cleaned) -> None:
    """Store the clean file (and a video's poster) and mark the image clean; the original goes. A video
    browsers cannot play as it is gets a viewing copy made next, by its own task."""
    cleaned.file.seek(0)
    clean_blob = blobs.write_from(cleaned.file)
    try:
        poster_blob = blobs.write(cleaned.poster) if cleaned.poster else ""
    except BaseException:
        blobs.delete(clean_blob)
        raise
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk, state=Image.State.PENDING).first()
        if locked is None:  # another worker finished first
            blobs.delete(clean_blob)
            blobs.delete(poster_blob)
            return
        original = locked.original_blob
        locked.state = Image.State.CLEAN
        locked.clean_blob = clean_blob
        locked.poster_blob = poster_blob
        locked.media_type = cleaned.media_type
        # The digest sealed, and as a keyed token that finds the same file elsewhere (intake.likeness):
        # in plain, a copy of the database and the original photo would confirm it was submitted.
        locked.sealed_sha256 = likeness.sealed_digest(locked.pk, cleaned.sha256)
        locked.sha256_token = likeness.digest_token(cleaned.sha256)
        locked.removed = list(cleaned.removed)
        locked.size = cleaned.size
        locked.width = cleaned.width or None
        locked.height = cleaned.height or None
        locked.duration_ms = round(cleaned.duration_seconds * 1000) if cleaned.duration_seconds else None
        # A copy to watch is due (its type set, its blob not yet): made by its own task, found again by
        # the worker's sweep if that task's message is lost.
        locked.viewing_media_type = "" if cleaned.playable else VIEWING_MEDIA_TYPE
        locked.original_blob = ""
        locked.save(update_fields=[*RECORDED_CLEAN])
        transaction.on_commit(lambda: blobs.delete(original))
        transaction.on_commit(partial(enqueue_description, image.pk), robust=True)
        if not cleaned.playable:
            transaction.on_commit(partial(enqueue_viewing_copy, image.pk), robust=True)


RECORDED_CLEAN = (
    "state",
    "clean_blob",
    "poster_blob",
    "media_type",
    "sealed_sha256",
    "sha256_token",
    "removed",
    "size",
    "width",
    "height",
    "duration_ms",
    "viewing_media_type",
    "original_blob",
)
VIEWING_MEDIA_TYPE = "video/mp4"


def enqueue_viewing_copy(image_id) -> None:
    current_app.send_task("intake.tasks.make_viewing_copy", args=[str(image_id)])


def enqueue_description(image_id) -> None:
    current_app.send_task("intake.tasks.describe_image", args=[str(image_id)])


def record_description(image: Image, description: likeness.Description) -> None:
    """Store what the worker worked out of a clean file (intake.likeness): its preview, and its perceptual
    hash sealed with its keyed bands. A hash of too little detail to match on gets no bands."""
    preview_blob = blobs.write(description.preview) if description.preview else ""
    with transaction.atomic():
        due = Image.objects.select_for_update().filter(pk=image.pk, state=Image.State.CLEAN, described=False)
        locked = due.first()
        if locked is None:  # described by another worker, or the image is gone
            blobs.delete(preview_blob)
            return
        locked.preview_blob = preview_blob
        locked.described = True
        if description.pdq is not None:
            locked.sealed_likeness = likeness.seal(locked.pk, description.pdq, description.quality)
            if description.quality >= likeness.MIN_QUALITY:
                LikenessBand.objects.bulk_create(
                    LikenessBand(image=locked, token=token) for token in sorted(likeness.band_tokens(description.pdq))
                )
        locked.save(update_fields=["preview_blob", "described", "sealed_likeness"])


def record_viewing_copy(image: Image, copy) -> None:
    """Store a copy of a clean video that browsers can play; the clean file stays what it was."""
    copy.seek(0)
    viewing_blob = blobs.write_from(copy)
    size = copy.tell()
    with transaction.atomic():
        due = Image.objects.select_for_update().filter(pk=image.pk, state=Image.State.CLEAN, viewing_blob="")
        locked = due.exclude(viewing_media_type="").first()
        if locked is None:  # made by another worker, or the image is gone
            blobs.delete(viewing_blob)
            return
        locked.viewing_blob = viewing_blob
        locked.viewing_size = size
        locked.save(update_fields=["viewing_blob", "viewing_size"])


def record_failure(image: Image, code: Reason, params: dict | None = None, keep_original: bool = False) -> None:
    """Mark an image refused, so that the rest of its submission reaches reviewers. ``code`` says why
    and ``params`` hold the numbers its sentence needs; the words are chosen when it is shown.

    The original goes: it could still identify the witness, and nobody may see it. Only an upload the
    worker could not decrypt is kept (``keep_original``), still encrypted, to be tried again.
    """
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk, state=Image.State.PENDING).first()
        if locked is None:
            return
        original = locked.original_blob
        locked.state = Image.State.FAILED
        locked.refusal = code
        locked.refusal_params = params or {}
        if not keep_original:
            locked.original_blob = ""
            transaction.on_commit(lambda: blobs.delete(original))
        locked.save(update_fields=["state", "refusal", "refusal_params", "original_blob"])


# --- Staff -----------------------------------------------------------------------------------


def record_view(user, submission: Submission) -> None:
    AuditEvent.objects.create(actor=user, action=AuditEvent.Action.VIEWED, submission_id=submission.pk)


#: A player's later ranges of a file within this time of its recorded view are the same viewing.
VIEW_RECORDED_FOR = timedelta(minutes=10)


def image_view_recorded_recently(user, image: Image) -> bool:
    return AuditEvent.objects.filter(
        actor=user,
        action=AuditEvent.Action.VIEWED_IMAGE,
        submission_id=image.submission_id,
        detail__image=image.position + 1,
        at__gte=timezone.now() - VIEW_RECORDED_FOR,
    ).exists()


def record_image_view(user, image: Image) -> None:
    AuditEvent.objects.create(
        actor=user,
        action=AuditEvent.Action.VIEWED_IMAGE,
        submission_id=image.submission_id,
        # Which file, by its number and id; never its digest, which with the photo would confirm it was sent.
        detail={"image": image.position + 1, "image_id": str(image.pk)},
    )


def change_status(user, submission: Submission, status: str) -> None:
    if status == submission.status:
        return
    with transaction.atomic():
        previous = submission.status
        submission.status = status
        submission.save(update_fields=["status"])
        AuditEvent.objects.create(
            actor=user,
            action=AuditEvent.Action.CHANGED_STATUS,
            submission_id=submission.pk,
            detail={"from": previous, "to": status},
        )


def assign(user, submission: Submission, assignee) -> bool:
    """Give ``submission`` to ``assignee`` (a reviewer, or None for nobody); False if it already was."""
    if submission.assignee_id == (assignee.pk if assignee else None):
        return False
    with transaction.atomic():
        submission.assignee = assignee
        submission.save(update_fields=["assignee"])
        AuditEvent.objects.create(
            actor=user,
            action=AuditEvent.Action.ASSIGNED,
            submission_id=submission.pk,
            detail={"to": assignee.get_username() if assignee else None},
        )
    return True


def set_tags(user, submission: Submission, tags) -> bool:
    """Make ``submission``'s tags exactly ``tags``; False if they already were."""
    return change_tags(user, submission, add=set(tags), remove=set(submission.tags.all()) - set(tags))


def change_tags(user, submission: Submission, *, add=(), remove=()) -> bool:
    """Put the tags ``add`` on ``submission`` and take ``remove`` off; audited with the names of those
    that changed. False, and no record, if none did."""
    with transaction.atomic():
        have = set(submission.tags.all())
        added = sorted((tag for tag in add if tag not in have), key=lambda tag: tag.name)
        removed = sorted((tag for tag in remove if tag in have and tag not in add), key=lambda tag: tag.name)
        if not added and not removed:
            return False
        submission.tags.add(*added)
        submission.tags.remove(*removed)
        AuditEvent.objects.create(
            actor=user,
            action=AuditEvent.Action.CHANGED_TAGS,
            submission_id=submission.pk,
            detail={"added": [tag.name for tag in added], "removed": [tag.name for tag in removed]},
        )
    return True


def bulk_change(
    user, submission_ids, *, status: str = "", assignee=None, unassign=False, add_tag=None, remove_tag=None
) -> int:
    """The same change to many submissions from the queue: each one changed is audited on its own, as
    if changed on its page. Only submissions ready for review are touched; ids of others are ignored.
    Returns how many submissions changed."""
    changed = 0
    with transaction.atomic():
        submissions = (
            Submission.objects.ready_for_review()
            .filter(pk__in=list(submission_ids))
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        for submission in submissions:
            results = []
            if status:
                before = submission.status
                change_status(user, submission, status)
                results.append(before != status)
            if assignee is not None or unassign:
                results.append(assign(user, submission, None if unassign else assignee))
            if add_tag is not None or remove_tag is not None:
                add = [add_tag] if add_tag is not None else []
                remove = [remove_tag] if remove_tag is not None else []
                results.append(change_tags(user, submission, add=add, remove=remove))
            changed += any(results)
    return changed


def add_note(user, submission: Submission, text: str) -> Note:
    with transaction.atomic():
        note = Note.objects.create(submission=submission, author=user, text=text)
        search.add_words(submission, text)
        AuditEvent.objects.create(
            actor=user, action=AuditEvent.Action.ADDED_NOTE, submission_id=submission.pk, detail={"note": str(note.pk)}
        )
    return note


class TestimonyClosed(Exception):
    """A reviewer wrote to a closed testimony (rejected or archived): its witness could not answer."""


def send_message(user, submission: Submission, text: str) -> Message:
    """A reviewer's message to the witness, who reads it with their receipt. Raises TestimonyClosed if
    the testimony no longer takes answers: the witness would read a question they cannot answer."""
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if not locked.accepts_replies:
            raise TestimonyClosed
        message = Message.objects.create(
            submission=locked,
            sender=Message.Sender.STAFF,
            author=user,
            position=_next_message_position(locked),
            text=text,
        )
        search.add_words(locked, text)
        AuditEvent.objects.create(
            actor=user,
            action=AuditEvent.Action.SENT_MESSAGE,
            submission_id=submission.pk,
            detail={"message": str(message.pk)},
        )
    return message


def mark_read(user, submission: Submission) -> None:
    """Everything the witness had sent when ``submission`` was loaded, and every photo they added later
    that is cleaned or refused by now, is seen by ``user`` (``Submission.current_activity``). Call it before
    the page's photos are read: one cleaned in between is then shown and still marked new, never the
    reverse."""
    Reading.objects.update_or_create(
        user=user, submission=submission, defaults={"seen_updates": submission.current_activity()}
    )


def record_account_change(user, action: str, account, detail: dict | None = None) -> None:
    AuditEvent.objects.create(actor=user, action=action, account=account.get_username(), detail=detail or {})


def record_login(user, factor: str) -> None:
    """Both factors done (intake.factors.complete_login); ``factor`` says which second one."""
    AuditEvent.objects.create(actor=user, action=AuditEvent.Action.LOGGED_IN, detail={"factor": factor})


def record_logout(sender, request, user, **kwargs) -> None:
    # Only a logged-in session, one with both factors, logs out; a password alone never logged in.
    is_verified = getattr(user, "is_verified", None)
    if user is not None and is_verified is not None and is_verified():
        AuditEvent.objects.create(actor=user, action=AuditEvent.Action.LOGGED_OUT)


def record_failed_login(sender, credentials, request=None, **kwargs) -> None:
    # Logged, not audited: anyone can fail a login, and the audit log can never be pruned. Without the
    # name typed: people type their password into the wrong field.
    log.warning("a staff login failed")
