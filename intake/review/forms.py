"""The reviewer's forms: a submission's triage (status, assignee, tags), notes and messages, the queue's
filters and its bulk actions."""

import datetime
import re
import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from intake import access, search
from intake.models import Submission, Tag


def reviewers():
    """Who a submission may be given to: active members of the Reviewer group."""
    return get_user_model().objects.filter(is_active=True, groups__name=access.REVIEWER).order_by("username")


class ReviewerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_username()


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Change the status to"), choices=Submission.Status.choices)


class AssignForm(forms.Form):
    assignee = ReviewerChoiceField(
        label=_("Assigned to"), queryset=reviewers(), required=False, empty_label=_("Nobody")
    )


class TagsForm(forms.Form):
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags"), queryset=Tag.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "dir": "auto"}),
    )


class MessageForm(forms.Form):
    text = forms.CharField(
        label=_("Message to the witness"),
        help_text=_(
            "The witness reads it when they come back with their receipt, perhaps days later. They see "
            "“Investigator” and the day, not your name."
        ),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4, "dir": "auto"}),
    )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All open"))] + list(Submission.Status.choices), required=False
    )
    reference = forms.RegexField(
        label=_("Reference"),
        regex=r"^\s*[0-9a-fA-F]{1,8}\s*$",
        required=False,
        max_length=20,
        error_messages={"invalid": _("A reference is up to eight letters and digits, such as 6110FC70.")},
        widget=forms.TextInput(attrs={"size": 10, "autocomplete": "off", "dir": "ltr"}),
    )
    received_from = forms.DateField(
        label=_("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    replied = forms.BooleanField(label=_("Witness replied"), required=False)
    assigned = forms.ChoiceField(
        label=_("Assigned"),
        choices=[("", _("Anyone or nobody")), ("me", _("To me")), ("nobody", _("To nobody"))],
        required=False,
    )
    tag = forms.ModelChoiceField(label=_("Tag"), queryset=Tag.objects.all(), required=False, empty_label=_("Any"))
    q = forms.CharField(
        label=_("Words"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "dir": "auto", "aria-describedby": "q-help"}
        ),
    )
    # Where a page starts or ends (intake.review.views.Cursor): opaque to the reviewer, kept in the address.
    after = forms.RegexField(regex=r"^[01]\.[0-9]{8}\.[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)
    before = forms.RegexField(regex=r"^[01]\.[0-9]{8}\.[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)

    # What the queue's address may carry back from a submission page: the filters and the page.
    KEPT = ("status", "reference", "received_from", "received_to", "replied", "assigned", "tag", "q", "after", "before")

    @classmethod
    def kept_query(cls, query) -> str:
        """The queue's own parameters of ``query`` (a QueryDict), encoded again; anything else dropped."""
        kept = query.copy()
        for name in [name for name in kept if name not in cls.KEPT]:
            del kept[name]
        return kept.urlencode()

    def narrows(self) -> bool:
        """Whether a filter is set (a place in the queue alone is not one): the filters then show open."""
        return any(self.data.get(name) for name in self.KEPT if name not in ("after", "before"))

    def searches(self) -> bool:
        """Whether the queue is narrowed by words (intake.search), which changes how it is best read."""
        return self.is_valid() and bool(search.query_words(self.cleaned_data.get("q") or ""))

    def filter(self, submissions, user):
        """``submissions`` (annotated with ``unread``) narrowed to what the form asks for; open ones only
        unless a status is chosen. ``user`` is who "me" is.

        A reference finds its submission whatever its status. A filter refused (a tag since deleted, a
        search too long) is left out and said so by the form; the others still apply."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        reference = (data.get("reference") or "").strip().lower()
        if reference:
            return submissions.filter(id__startswith=reference)
        status = data.get("status")
        submissions = submissions.filter(status=status) if status else submissions.filter(OPEN)
        if data.get("received_from"):
            submissions = submissions.filter(received_on__gte=data["received_from"])
        if data.get("received_to"):
            submissions = submissions.filter(received_on__lte=data["received_to"])
        if data.get("replied"):
            submissions = submissions.filter(unread=True)
        if data.get("assigned") == "me":
            submissions = submissions.filter(assignee=user)
        elif data.get("assigned") == "nobody":
            submissions = submissions.filter(assignee__isnull=True)
        if data.get("tag"):
            submissions = submissions.filter(tags=data["tag"])
        if (data.get("q") or "").strip():
            submissions = search.submissions_matching(submissions, data["q"])
        return submissions

    def cursor(self) -> tuple[str, "Cursor | None"]:
        """Which way the page goes from where (``"after"`` or ``"before"``), from the address."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        before = Cursor.parse(data.get("before") or "")
        if before is not None:
            return "before", before
        # No place, or one that is not a place (an impossible day): the first page.
        return "after", Cursor.parse(data.get("after") or "")


class Cursor:
    """A place in the queue's order: the part (0 new to the reviewer, 1 seen), the day received and the
    id, written as ``part.YYYYMMDD.hex``. It says nothing the row itself does not show."""

    FORMAT = re.compile(r"^([01])\.([0-9]{8})\.([0-9a-f]{32})$")

    def __init__(self, part: int, day: datetime.date, pk):
        self.part, self.day, self.pk = part, day, pk

    @classmethod
    def parse(cls, text: str) -> "Cursor | None":
        match = cls.FORMAT.match(text or "")
        if match is None:
            return None
        try:
            day = datetime.datetime.strptime(match[2], "%Y%m%d").date()
        except ValueError:
            return None
        return cls(int(match[1]), day, uuid.UUID(match[3]))

    def __str__(self):
        return f"{self.part}.{self.day:%Y%m%d}.{self.pk.hex}"


MAX_BULK = 500


class BulkForm(forms.Form):
    """One change to every checked submission of the queue."""

    # The checked rows; checkboxes of the queue's table (their form attribute names this form).
    ids = forms.Field(widget=forms.MultipleHiddenInput, error_messages={"required": _("Check some submissions first.")})
    status = forms.ChoiceField(
        label=_("Set the status to"), choices=[("", _("(unchanged)"))] + list(Submission.Status.choices), required=False
    )
    assignee = forms.ChoiceField(label=_("Assign to"), required=False)
    add_tag = forms.ModelChoiceField(
        label=_("Add the tag"), queryset=Tag.objects.all(), required=False, empty_label=_("(none)")
    )
    remove_tag = forms.ModelChoiceField(
        label=_("Remove the tag"), queryset=Tag.objects.all(), required=False, empty_label=_("(none)")
    )

    NOBODY = "nobody"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        people = [(str(user.pk), user.get_username()) for user in reviewers()]
        self.fields["assignee"].choices = [("", _("(unchanged)")), (self.NOBODY, _("Nobody"))] + people

    def clean_ids(self):
        import uuid

        ids = []
        for value in self.cleaned_data["ids"][:MAX_BULK]:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue  # not a submission: ignored, like one that is gone
        return ids

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        if value in ("", self.NOBODY):
            return value
        user = reviewers().filter(pk=value).first() if value.isdigit() else None
        if user is None:
            raise forms.ValidationError(_("Choose a reviewer from the list."))
        return user

    def clean(self):
        data = super().clean()
        if not any(data.get(name) for name in ("status", "assignee", "add_tag", "remove_tag")):
            raise forms.ValidationError(_("Choose what to change."))
        return data


CLOSED = [Submission.Status.REJECTED, Submission.Status.ARCHIVED]
# The queue's default: what is not closed. The same condition as its partial index (migration 0011).
OPEN = ~Q(status__in=CLOSED)
