"""What the service stores. Everything a witness wrote, and every note about it, is encrypted.

Primary keys are random UUIDs: they bind each ciphertext to its row, and they say nothing about how
many testimonies came in or in which order. No model stores a client address, a user agent, a file
name, or a witness-side time finer than a day.
"""

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP

from intake import cleaning, cleaning_text, crypto
from intake.fields import EncryptedTextField


def today():
    return timezone.now().date()


class SubmissionQuerySet(models.QuerySet):
    def ready_for_review(self):
        """Submissions whose first photos have all been cleaned or refused: reviewers see nothing
        uncleaned. Photos a witness adds later do not hide a submission already in review; they are
        shown once cleaned."""
        # One subquery, not exclude() over the relation: there the two conditions need not meet in one image.
        first_pending = Image.objects.filter(state=Image.State.PENDING, message__isnull=True)
        return self.exclude(pk__in=first_pending.values("submission_id"))

    def with_unread_for(self, user):
        """Annotated with ``activity`` (see ``Submission.current_activity``) and ``unread``: whether the witness
        came back, or a photo they added later was cleaned or refused, since ``user`` last opened it.
        Subqueries, not joins: a constant number of queries for the whole queue."""
        seen = Reading.objects.filter(user=user, submission=OuterRef("pk")).values("seen_updates")[:1]
        settled = (
            Image.objects.filter(submission=OuterRef("pk"), message__isnull=False)
            .exclude(state=Image.State.PENDING)
            .order_by()
            .values("submission")
            .annotate(count=models.Count("pk"))
            .values("count")
        )
        return self.annotate(
            activity=F("witness_updates") + Coalesce(Subquery(settled), 0),
            seen_updates=Coalesce(Subquery(seen), 0),
        ).annotate(unread=GreaterThan(F("activity"), F("seen_updates")))


class Tag(models.Model):
    """A label the organisation defines (a place, an incident, a language) and reviewers put on
    submissions. Its name is the organisation's word, not the witness's, and is stored as it is."""

    name = models.CharField(_("name"), max_length=60, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class Submission(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        IN_REVIEW = "in_review", _("In review")
        NEEDS_FOLLOW_UP = "needs_follow_up", _("Needs follow-up")
        VERIFIED = "verified", _("Verified")
        REJECTED = "rejected", _("Rejected")
        ARCHIVED = "archived", _("Archived")

    class WitnessStatus(models.TextChoices):
        """What the witness is told: coarse on purpose, so a seized receipt tells little."""

        RECEIVED = "received", _("Received")
        BEING_REVIEWED = "being_reviewed", _("Being reviewed")
        # Whatever the reviewers' status, while the last message is theirs (and it is not closed).
        QUESTION = "question", _("We have a question for you")
        CLOSED = "closed", pgettext_lazy("testimony status", "Closed")

    WITNESS_STATUS_OF = {
        Status.NEW: WitnessStatus.RECEIVED,
        Status.IN_REVIEW: WitnessStatus.BEING_REVIEWED,
        Status.NEEDS_FOLLOW_UP: WitnessStatus.BEING_REVIEWED,
        Status.VERIFIED: WitnessStatus.BEING_REVIEWED,
        Status.REJECTED: WitnessStatus.CLOSED,
        Status.ARCHIVED: WitnessStatus.CLOSED,
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    receipt_digest = models.CharField(max_length=64, unique=True, editable=False)
    account = EncryptedTextField()
    happened_when = EncryptedTextField(blank=True, default="")
    happened_where = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    # A day, never a time: a time of day could be matched against network records of the witness.
    received_on = models.DateField(default=today, editable=False, db_index=True)
    # How many times the witness has come back with a reply or more photos. With the photos added
    # later that are cleaned or refused, it makes ``activity``: each reviewer's Reading says how much
    # of it they have seen. (The worker, which may update images only, never touches this row.)
    witness_updates = models.PositiveIntegerField(default=0, editable=False)
    # Triage (intake.review): who is working on it, and the organisation's labels.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="submissions")

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-received_on"]
        # The queue's order, read from where a page stopped (intake.review.views, migration 0011).
        indexes = [
            models.Index(
                fields=["-received_on", "id"],
                name="submission_open_order",
                condition=~models.Q(status__in=["rejected", "archived"]),
            ),
            models.Index(fields=["status", "-received_on", "id"], name="submission_status_order"),
        ]

    def __str__(self):
        return self.reference

    @property
    def reference(self) -> str:
        """A short name for staff to speak of a submission; not the receipt, and no secret."""
        return self.id.hex[:8].upper()

    @property
    def witness_status(self) -> "Submission.WitnessStatus":
        status = self.WITNESS_STATUS_OF[self.Status(self.status)]
        if status != self.WitnessStatus.CLOSED and self.question_waiting:
            return self.WitnessStatus.QUESTION
        return status

    @property
    def question_waiting(self) -> bool:
        """Whether the last message of the conversation is an investigator's, still to be answered."""
        last = self.messages.order_by("-position").values_list("sender", flat=True).first()
        return last == Message.Sender.STAFF

    @property
    def accepts_replies(self) -> bool:
        return self.WITNESS_STATUS_OF[self.Status(self.status)] != self.WitnessStatus.CLOSED

    def current_activity(self) -> int:
        """Its ``activity``, read now, what reviewers are shown as new when it grows: the witness's
        comings back, plus the photos they added later that are no longer being cleaned (a photo is
        shown once cleaned, so its cleaning is news too). ``SubmissionQuerySet.with_unread_for``
        computes the same in SQL."""
        settled = self.images.filter(message__isnull=False).exclude(state=Image.State.PENDING)
        return self.witness_updates + settled.count()


class Image(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Being cleaned")
        CLEAN = "clean", _("Clean")
        FAILED = "failed", _("Refused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="images")
    # The witness's later message that brought this photo; None for the photos sent with the testimony.
    message = models.ForeignKey("Message", null=True, blank=True, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    # Names of encrypted blobs (intake.blobs). The original is destroyed once it has been cleaned.
    original_blob = models.CharField(max_length=64, blank=True)
    clean_blob = models.CharField(max_length=64, blank=True)
    media_type = models.CharField(max_length=40, blank=True)
    removed = models.JSONField(default=list, blank=True)
    # Why the worker refused the file: a code (intake.cleaning.reasons), and the numbers its sentence needs.
    refusal = models.CharField(max_length=40, blank=True)
    refusal_params = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What the cleaned file shows, for the reviewer's page: the picture's size as displayed (turns applied),
    # and a video's length. The clean file's size in bytes answers HTTP range requests.
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    # A video's poster frame (JPEG), and, when browsers cannot play the clean file as it is (HEVC, a
    # container they do not open), a copy to watch. The clean file stays the evidence: what "download" gives.
    poster_blob = models.CharField(max_length=64, blank=True)
    viewing_blob = models.CharField(max_length=64, blank=True)
    viewing_media_type = models.CharField(max_length=40, blank=True)
    viewing_size = models.PositiveBigIntegerField(null=True, blank=True)
    # What the worker works out after cleaning (intake.likeness): a preview small enough to show inline
    # (empty when none can be made: a picture not decoded, or beyond the viewing bound), the clean file's
    # SHA-256 sealed with the file keys and as a keyed token, and its perceptual hash sealed, with keyed
    # bands of it (LikenessBand) to find near-identical photos. ``described`` once that is done.
    preview_blob = models.CharField(max_length=64, blank=True)
    described = models.BooleanField(default=False, db_index=True)
    sealed_sha256 = models.BinaryField(null=True, blank=True)
    sha256_token = models.CharField(max_length=32, blank=True, db_index=True)
    sealed_likeness = models.BinaryField(null=True, blank=True)

    # Every column naming a blob of this image: what the worker's sweep must not take for an orphan.
    BLOB_FIELDS = ("original_blob", "clean_blob", "poster_blob", "viewing_blob", "preview_blob")

    class Meta:
        ordering = ["submission_id", "position"]  # by id: no join, so the worker needs no other table
        constraints = [models.UniqueConstraint(fields=["submission", "position"], name="image_position_unique")]
        indexes = [models.Index(fields=["submission", "state"], name="image_submission_state")]  # the queue's counts

    def __str__(self):
        return f"{self.submission.reference}-{self.position + 1}"

    @property
    def refusal_text(self) -> str:
        """Why the worker refused the file, in the current language; empty unless it was refused."""
        if self.state != self.State.FAILED and not self.refusal:
            return ""
        return cleaning_text.refusal_text(self.refusal, self.refusal_params)

    @property
    def removed_labels(self) -> list[str]:
        """The kinds of metadata removed from the file, in the current language."""
        return cleaning_text.removed_labels(self.removed)

    @property
    def is_video(self) -> bool:
        return self.media_type.startswith("video/")

    @property
    def clean_sha256(self) -> str:
        """The clean file's SHA-256 in hex, opened from its sealed copy; "" before it is cleaned."""
        if not self.sealed_sha256:
            return ""
        context = crypto.field_context("intake_image", "sealed_sha256", self.pk)
        return crypto.open_bytes(bytes(self.sealed_sha256), context).decode()

    @property
    def shown_sha256(self) -> str:
        """``clean_sha256`` for a page: a digest that does not open (damaged, or moved from another row)
        is said to be so, and the rest of the page still shows."""
        try:
            return self.clean_sha256
        except crypto.DecryptionError:
            return str(_("unreadable: the recorded digest is damaged"))

    @property
    def too_large_to_show(self) -> bool:
        """Whether the picture is beyond the viewing bound (``INTAKE_PREVIEW_MAX_PIXELS``): no preview is
        made of it and it is never shown inline, only downloaded."""
        return bool(self.width and self.height and self.width * self.height > settings.INTAKE_PREVIEW_MAX_PIXELS)

    @property
    def preview_size(self) -> tuple[int, int] | None:
        """The preview's width and height, worked out as the worker scales it, so the page keeps its room."""
        if not self.width or not self.height:
            return None
        bound = settings.INTAKE_PREVIEW_PIXELS
        long, short = max(self.width, self.height), min(self.width, self.height)
        if long <= bound:
            return self.width, self.height
        scaled = max(1, round(short * bound / long))
        return (bound, scaled) if self.width >= self.height else (scaled, bound)

    @property
    def extension(self) -> str:
        """The clean file's extension, as the engine names its type ("bin" for a file not cleaned)."""
        return cleaning.extension_for(self.media_type) if self.media_type in cleaning.OUTPUT_MEDIA_TYPES else "bin"


class LikenessBand(models.Model):
    """One keyed band of an image's perceptual hash (intake.likeness). Two photos whose hashes differ in
    few bits share at least one band; the full hashes, sealed, then say how near they are."""

    # A random key, like every row here: a counter would say in which order photos were described.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="bands")
    token = models.CharField(max_length=32, db_index=True)

    def __str__(self):
        return f"band of {self.image_id}"


class IndexedWord(models.Model):
    """A word of a submission's text (account, place, conversation, notes) in the blind index
    (intake.search): a keyed token, never the word. Each word once per submission."""

    # A random key: a counter would say in which order testimonies arrived and their words were written.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "submission"], name="indexed_word_unique")]

    def __str__(self):
        return f"word of {self.submission_id}"


class Note(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.submission.reference} note {self.created_at:%Y-%m-%d %H:%M}"


class Message(models.Model):
    """One message of the conversation between reviewers and the witness, through the receipt.

    Dated by the day only, like the submission: a witness's time of day could be matched against
    network records. Its place in the conversation is ``position``. The reviewer who wrote one is also
    in the audit log, with the time.
    """

    class Sender(models.TextChoices):
        STAFF = "staff", _("Investigator")
        WITNESS = "witness", _("Witness")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    text = EncryptedTextField(blank=True, default="")  # a witness may send photos without words
    sent_on = models.DateField(default=today, editable=False)

    class Meta:
        ordering = ["submission_id", "position"]
        constraints = [models.UniqueConstraint(fields=["submission", "position"], name="message_position_unique")]

    def __str__(self):
        return f"{self.submission.reference} message {self.position + 1}"


class Reading(models.Model):
    """How much of a submission's ``activity`` one reviewer has seen: what makes a reply unread."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="readings")
    seen_updates = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "submission"], name="reading_unique")]

    def __str__(self):
        return f"{self.user} read {self.submission.reference} to {self.seen_updates}"


class SentForm(models.Model):
    """A witness form already acted on, known by the digest of the one-time token it carried, so that
    sending it again (a reload, a second tap, Back then Forward) stores nothing twice. Not linked to
    what it stored. Removed once expired."""

    digest = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)
    # The receipt of a testimony, sealed under a key derived from the token, which only the witness's
    # page holds: a retry after a lost answer shows the same receipt.
    sealed_receipt = models.BinaryField(null=True, blank=True)

    def __str__(self):
        return f"sent form {self.digest[:8]}"


class AuditLogIsAppendOnly(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit events cannot be changed")

    def delete(self):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One thing a member of staff did: with a submission, an account, or by logging in or out. The
    chain of custody. Append-only.

    On PostgreSQL the database enforces this too: a trigger refuses UPDATE and DELETE (migration 0003),
    and the web's role may only read and insert (``manage.py grantroles``), so neither a bug in this
    code nor a shell on the web server can rewrite the record.
    """

    class Action(models.TextChoices):
        VIEWED = "viewed", _("Viewed the submission")
        VIEWED_IMAGE = "viewed_image", _("Viewed an image")
        CHANGED_STATUS = "changed_status", _("Changed the status")
        ADDED_NOTE = "added_note", _("Added a note")
        SENT_MESSAGE = "sent_message", _("Sent a message to the witness")
        CREATED_ACCOUNT = "created_account", _("Created an account")
        CHANGED_ACCOUNT = "changed_account", _("Changed an account")
        CHANGED_ROLES = "changed_roles", _("Changed an account's roles")
        SET_PASSWORD = "set_password", _("Set an account's password")
        CHANGED_OWN_PASSWORD = "changed_own_password", _("Changed their own password")
        LOGGED_IN = "logged_in", _("Logged in")
        LOGGED_OUT = "logged_out", _("Logged out")
        CREATED_SETUP_LINK = "created_setup_link", _("Made a setup link")
        USED_SETUP_LINK = "used_setup_link", _("Completed account setup")
        ENROLLED_FACTOR = "enrolled_factor", _("Enrolled a second factor")
        REMOVED_FACTOR = "removed_factor", _("Removed a second factor")
        RESET_FACTORS = "reset_factors", _("Reset an account's second factors")
        USED_RECOVERY_CODE = "used_recovery_code", _("Used a recovery code")
        LOCKED_OUT = "locked_out", _("Was locked out after failed logins")
        ENDED_SESSIONS = "ended_sessions", _("Ended sessions")
        REFUSED = "refused", _("Was refused a page")
        DELETED_ACCOUNT = "deleted_account", _("Deleted an account")
        DELETED_GROUP = "deleted_group", _("Deleted a group")
        ASSIGNED = "assigned", _("Assigned the submission")
        CHANGED_TAGS = "changed_tags", _("Changed the tags")
        EXPORTED = "exported", _("Exported as evidence")

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The name as it was when the event was written: renaming an account does not rewrite history.
    actor_name = models.CharField(max_length=150, editable=False)
    action = models.CharField(max_length=30, choices=Action.choices)
    # Not foreign keys: the record must outlive what it speaks of.
    submission_id = models.UUIDField(db_index=True, null=True, blank=True)
    account = models.CharField(max_length=150, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit events cannot be changed")
        self.actor_name = self.actor.get_username()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")


# --- The staff door ----------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """Digest of a high-entropy secret handed to a person (a setup link, a recovery code). The secrets
    carry at least 80 random bits, so a plain hash is as good as a slow one, and lets them be found."""
    return hashlib.sha256(token.encode()).hexdigest()


class SetupLink(models.Model):
    """A one-time link with which a member of staff chooses their own password and enrols a second
    factor. Only its digest is stored; it expires, and works once."""

    digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="setup_links")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"setup link for {self.user}"


class RecoveryCodes(Device):
    """A member's one-time recovery codes, a django-otp device. Each code is stored as a digest and
    is deleted when it is used."""

    COUNT = 10
    # Crockford's base32: no I, L, O or U, so a code copied by hand cannot be misread; 16 symbols are 80 bits.
    ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    LENGTH = 16

    class Meta:
        verbose_name = _("recovery codes")
        verbose_name_plural = _("recovery codes")

    @classmethod
    def normalise(cls, typed: str) -> str | None:
        """The code as stored (digested), from what a person typed: any case, with or without the
        dashes and spaces, with O for 0 and I or L for 1. None if it cannot be a code."""
        code = "".join(typed.split()).replace("-", "").upper().translate(str.maketrans("OIL", "011"))
        if len(code) != cls.LENGTH or any(symbol not in cls.ALPHABET for symbol in code):
            return None
        return code

    def replace_codes(self) -> list[str]:
        """Forget every code of this device and make new ones; returns them, to be shown once."""
        codes = ["".join(secrets.choice(self.ALPHABET) for _ in range(self.LENGTH)) for _ in range(self.COUNT)]
        self.codes.all().delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(device=self, digest=token_digest(code)) for code in codes)
        return ["-".join(code[i : i + 4] for i in range(0, self.LENGTH, 4)) for code in codes]

    def verify_token(self, token) -> bool:
        code = self.normalise(str(token))
        if code is None:
            return False
        digest = token_digest(code)
        # Compare with every code of the device, in constant time, rather than look the digest up.
        match = None
        for stored in self.codes.all():
            if hmac.compare_digest(stored.digest, digest):
                match = stored
        if match is None:
            return False
        deleted, _ = RecoveryCode.objects.filter(pk=match.pk).delete()
        return deleted == 1  # a second request with the same code, at the same moment, finds it gone


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodes, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64, editable=False)

    def __str__(self):
        return "recovery code"


def random_id() -> int:
    return secrets.randbits(62) + 1


class AuthenticatorApp(TimestampMixin, Device):
    """TOTP (RFC 6238) in any authenticator app, a django-otp device.

    Ours rather than django-otp's TOTP device, which stores the secret in clear: this one keeps it
    encrypted with the field keys and bound to its row, so a copy of the database without the keys
    gives nobody a second factor. A code is never accepted twice (``last_t``).
    """

    STEP = 30
    DIGITS = 6
    TOLERANCE = 1  # one step either side: a phone's clock may be off by half a minute

    # Known before saving, as the encrypted secret needs; a number, as django-otp's device ids must be.
    id = models.BigIntegerField(primary_key=True, default=random_id, editable=False)
    secret = EncryptedTextField()  # base32, as the app is given it
    last_t = models.BigIntegerField(default=-1)
    drift = models.SmallIntegerField(default=0)

    class Meta:
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")

    @classmethod
    def new(cls, user, name: str = "") -> "AuthenticatorApp":
        """An unconfirmed app with a fresh secret."""
        return cls.objects.create(user=user, name=name, secret=cls.new_secret(), confirmed=False)

    @staticmethod
    def new_secret() -> str:
        return base64.b32encode(secrets.token_bytes(20)).decode()  # 160 bits, as RFC 4226 recommends

    def verify_token(self, token) -> bool:
        """Whether ``token`` is a current code. Call with the row locked (select_for_update), so that
        two requests cannot both use one code."""
        typed = "".join(str(token).split())
        if len(typed) != self.DIGITS or not typed.isdigit():
            return False
        totp = TOTP(base64.b32decode(self.secret), self.STEP, 0, self.DIGITS, self.drift)
        totp.time = time.time()
        if not totp.verify(int(typed), self.TOLERANCE, self.last_t + 1):
            return False
        self.last_t = totp.t()
        self.drift = totp.drift
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["last_t", "drift", "last_used_at"])
        return True

    def config_url(self, issuer: str) -> str:
        """The otpauth:// address that an authenticator app reads from the QR code."""
        label = quote(f"{issuer}:{self.user.get_username()}")
        query = urlencode(
            {"secret": self.secret, "issuer": issuer, "algorithm": "SHA1", "digits": self.DIGITS, "period": self.STEP},
            quote_via=quote,
        )
        return f"otpauth://totp/{label}?{query}"


class StaffSession(AbstractBaseSession):
    """Django's database session, plus the account it belongs to, so that every session of an
    account can be ended on the server (intake.sessions)."""

    user_id = models.IntegerField(null=True, blank=True, db_index=True)

    @classmethod
    def get_session_store_class(cls):
        from intake.sessions import SessionStore

        return SessionStore


class LoginThrottle(models.Model):
    """Failed logins for one typed account name, whether or not such an account exists. Keyed by an
    HMAC of the name, so the table holds neither names nor client addresses (intake.throttle)."""

    key = models.CharField(max_length=64, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)
    locked = models.BooleanField(default=False)
    last_failure_on = models.DateField(default=today)

    def __str__(self):
        return f"{self.key[:8]}: {self.failures} failures"
