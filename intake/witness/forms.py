from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from intake import cleaning
from intake.uploads import SealedUpload

# Besides the engine's own media types, what browsers call some of them, judging by the file's name.
# A file whose type the browser does not know ("") is let through: the server judges it by content.
BROWSER_IMAGE_TYPES = frozenset(
    {"image/jpg", "image/pjpeg", "image/apng", "image/heic-sequence", "image/heif-sequence"}
)
NAME = "{name}"  # where photos.js puts a file's name in a message


class MultipleImageInput(forms.ClearableFileInput):
    """Carries the limits, and the messages that tell them in the page's language, for photos.js, which
    checks the chosen photos before anything is sent. Without the script the server checks them."""

    allow_multiple_selected = True
    # Fewer photos than a send may carry, when a testimony has nearly all it can take (the answer form).
    photos_left: int | None = None

    class Media:
        js = [forms.Script("intake/photos.js", defer=True)]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].update(photo_check_attributes(self.photos_left))
        return context


def photo_check_attributes(photos_left: int | None = None) -> dict[str, str]:
    """Read when the page is drawn, so that the limits are those in force and the words the witness's."""
    limit, per_file = settings.INTAKE_MAX_IMAGES, filesizeformat(settings.INTAKE_MAX_IMAGE_BYTES)
    too_many = ngettext(
        "You can send at most %(limit)d photo at once. Please choose fewer.",
        "You can send at most %(limit)d photos at once. Please choose fewer.",
        limit,
    )
    if photos_left is not None and photos_left < limit:
        limit = photos_left
        too_many = ngettext(
            "This testimony can take %(limit)d more photo. Please choose fewer.",
            "This testimony can take %(limit)d more photos. Please choose fewer.",
            limit,
        )
    return {
        "data-max-count": str(limit),
        "data-max-bytes": str(settings.INTAKE_MAX_IMAGE_BYTES),
        "data-max-total-bytes": str(settings.INTAKE_MAX_TOTAL_BYTES),
        "data-accept-types": ",".join(sorted(cleaning.ACCEPTED_MEDIA_TYPES | BROWSER_IMAGE_TYPES)),
        "data-message-too-many": too_many % {"limit": limit},
        "data-message-too-large": _("“%(name)s” is larger than %(limit)s.") % {"name": NAME, "limit": per_file},
        "data-message-empty": _("“%(name)s” is empty.") % {"name": NAME},
        "data-message-not-accepted": _(
            "“%(name)s” is not a photo in a format we accept (JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF)."
        )
        % {"name": NAME},
        "data-message-total": _("Together the files are larger than %(limit)s.")
        % {"limit": filesizeformat(settings.INTAKE_MAX_TOTAL_BYTES)},
    }


class ImagesField(forms.Field):
    """Up to INTAKE_MAX_IMAGES files, each judged by its content against the engine's allow-list."""

    widget = MultipleImageInput(attrs={"accept": "image/*"})

    def to_python(self, value) -> list[SealedUpload]:
        if not value:
            return []
        return [upload for upload in value if isinstance(upload, SealedUpload)]

    def validate(self, uploads: list[SealedUpload]) -> None:
        errors: list[str | Promise] = []
        if len(uploads) > settings.INTAKE_MAX_IMAGES:
            errors.append(
                ngettext(
                    "You chose %(count)d photo; the most you can send is %(limit)d.",
                    "You chose %(count)d photos; the most you can send is %(limit)d.",
                    len(uploads),
                )
                % {"limit": settings.INTAKE_MAX_IMAGES, "count": len(uploads)}
            )
        for number, upload in enumerate(uploads, start=1):
            if upload.too_large:
                errors.append(
                    _("File %(number)d is larger than %(limit)s.")
                    % {"number": number, "limit": filesizeformat(settings.INTAKE_MAX_IMAGE_BYTES)}
                )
            elif upload.size == 0:
                errors.append(_("File %(number)d is empty.") % {"number": number})
            elif cleaning.sniff(upload.head) not in cleaning.ACCEPTED_MEDIA_TYPES:
                errors.append(
                    _("File %(number)d is not a photo in a format we accept (JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF).")
                    % {"number": number}
                )
        if sum(upload.size for upload in uploads) > settings.INTAKE_MAX_TOTAL_BYTES:
            errors.append(
                _("Together the files are larger than %(limit)s.")
                % {"limit": filesizeformat(settings.INTAKE_MAX_TOTAL_BYTES)}
            )
        if not errors and any(upload.blob is None for upload in uploads):
            errors.append(_("A file was not received completely. Please choose your photos again."))
        if errors:
            raise forms.ValidationError(errors)


class TestimonyForm(forms.Form):
    account = forms.CharField(
        label=_("What happened?"),
        help_text=_("Write in any language, in as much detail as you can. Leave out your own name."),
        widget=forms.Textarea(attrs={"rows": 14, "dir": "auto"}),
        max_length=settings.INTAKE_MAX_ACCOUNT_CHARS,
        strip=True,
        error_messages={"required": _("Write what happened: it is the one thing a testimony needs.")},
    )
    happened_when = forms.CharField(
        label=_("When did it happen? (optional)"),
        help_text=_("A date, or as near as you can say, for example “the night of 7 March”."),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"dir": "auto", "autocomplete": "off"}),
    )
    happened_where = forms.CharField(
        label=_("Where did it happen? (optional)"),
        help_text=_("A village, town, street or landmark."),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"dir": "auto", "autocomplete": "off"}),
    )
    images = ImagesField(label=_("Photos (optional)"), required=False)


class ReceiptForm(forms.Form):
    receipt = forms.CharField(
        label=_("Your receipt"),
        help_text=_(
            "The 28 digits you were given, in order, with or without spaces: ١٢٣ or 123 both work. "
            "A receipt of eight words, given before, still works."
        ),
        max_length=200,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false", "dir": "ltr"}
        ),
    )


class ReplyForm(forms.Form):
    """A witness's answer in the conversation: words, photos, or both. The access token that says which
    testimony it answers is not a field of it (intake.access)."""

    text = forms.CharField(
        label=_("Your answer (optional)"),
        help_text=_("Answer the question, or add anything you remember. Leave out your own name."),
        required=False,
        max_length=settings.INTAKE_MAX_REPLY_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 8, "dir": "auto"}),
    )
    images = ImagesField(label=_("Photos to add (optional)"), required=False)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("text") and not data.get("images"):
            raise forms.ValidationError(_("Write an answer, or choose photos to add, or both."), code="empty")
        return data


class DraftForm(forms.Form):
    """An answer not yet sent, carried through the receipt form when the conversation page was open too
    long to send it (intake.access): given back in the answer box once the receipt is typed again."""

    draft = forms.CharField(
        label=_("Your answer, not sent yet"),
        help_text=_("Kept here while you type your receipt. Your photos must be chosen again."),
        required=False,
        max_length=settings.INTAKE_MAX_REPLY_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "dir": "auto"}),
    )
