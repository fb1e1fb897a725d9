from django import forms
from django.utils.translation import gettext_lazy as _

from intake.models import Submission


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Submission.Status.choices)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "dir": "auto"}),
    )


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All open"))] + list(Submission.Status.choices), required=False
    )
