"""What the service stores. Everything a witness wrote, and every note about it, is encrypted.

Primary keys are random UUIDs: they bind each ciphertext to its row, and they say nothing about how
many testimonies came in or in which order. No model stores a client address, a user agent, a file
name, or a witness-side time finer than a day.
"""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from intake.fields import EncryptedTextField


def today():
    return timezone.now().date()


class SubmissionQuerySet(models.QuerySet):
    def ready_for_review(self):
        """Submissions whose images have all been cleaned or refused: reviewers see nothing uncleaned."""
        return self.exclude(images__state=Image.State.PENDING)


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

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-received_on"]

    def __str__(self):
        return self.reference

    @property
    def reference(self) -> str:
        """A short name for staff to speak of a submission; not the receipt, and no secret."""
        return self.id.hex[:8].upper()

    @property
    def witness_status(self) -> "Submission.WitnessStatus":
        return self.WITNESS_STATUS_OF[self.Status(self.status)]


class Image(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Being cleaned")
        CLEAN = "clean", _("Clean")
        FAILED = "failed", _("Refused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    # Names of encrypted blobs (intake.blobs). The original is destroyed once it has been cleaned.
    original_blob = models.CharField(max_length=64, blank=True)
    clean_blob = models.CharField(max_length=64, blank=True)
    media_type = models.CharField(max_length=40, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    removed = models.JSONField(default=list, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["submission_id", "position"]  # by id: no join, so the worker needs no other table
        constraints = [models.UniqueConstraint(fields=["submission", "position"], name="image_position_unique")]

    def __str__(self):
        return f"{self.submission.reference}-{self.position + 1}"

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}.get(
            self.media_type, "bin"
        )


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
        CREATED_ACCOUNT = "created_account", _("Created an account")
        CHANGED_ACCOUNT = "changed_account", _("Changed an account")
        CHANGED_ROLES = "changed_roles", _("Changed an account's roles")
        SET_PASSWORD = "set_password", _("Set an account's password")
        CHANGED_OWN_PASSWORD = "changed_own_password", _("Changed their own password")
        LOGGED_IN = "logged_in", _("Logged in")
        LOGGED_OUT = "logged_out", _("Logged out")

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
