from django import forms
from django.utils.translation import gettext_lazy as _

from intake.models import Submission


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Change the status to"), choices=Submission.Status.choices)


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

    # What the queue's address may carry back from a submission page: the filters and the page.
    KEPT = ("status", "reference", "received_from", "received_to", "replied", "page")

    @classmethod
    def kept_query(cls, query) -> str:
        """The queue's own parameters of ``query`` (a QueryDict), encoded again; anything else dropped."""
        kept = query.copy()
        for name in [name for name in kept if name not in cls.KEPT]:
            del kept[name]
        return kept.urlencode()

    def filter(self, submissions):
        """``submissions`` (annotated with ``unread``) narrowed to what the form asks for; open ones only
        unless a status is chosen.

        A reference finds its submission whatever its status."""
        data = self.cleaned_data if self.is_valid() else {}
        reference = (data.get("reference") or "").strip().lower()
        if reference:
            return submissions.filter(id__startswith=reference)
        status = data.get("status")
        submissions = submissions.filter(status=status) if status else submissions.exclude(status__in=CLOSED)
        if data.get("received_from"):
            submissions = submissions.filter(received_on__gte=data["received_from"])
        if data.get("received_to"):
            submissions = submissions.filter(received_on__lte=data["received_to"])
        if data.get("replied"):
            submissions = submissions.filter(unread=True)
        return submissions


CLOSED = [Submission.Status.REJECTED, Submission.Status.ARCHIVED]
