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
    # Chromium names an .mkv file "video/matroska" (libmagic: "video/x-matroska").
    | {"video/matroska", "audio/matroska"}
)
NAME = "{name}"  # where photos.js puts a file's name in a message
# Each list is isolated (U+2068 … U+2069), so that in a right-to-left sentence it reads as one left-to-right run
# and its commas and the brackets around it stay where they belong.
PHOTO_FORMATS = "\u2068JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF\u2069"
VIDEO_FORMATS = "\u2068MP4, MOV, 3GP, WebM, MKV\u2069"


def accepted_types() -> str:
    """What the file input offers to choose (``accept``) and photos.js lets through: every type the
    engine accepts by content, photos and videos, and the other names browsers give some of them."""
    return ",".join(sorted(cleaning.ACCEPTED_MEDIA_TYPES | BROWSER_IMAGE_TYPES))


def video_minutes() -> int:
    return settings.INTAKE_MAX_VIDEO_SECONDS // 60


class MultipleImageInput(forms.ClearableFileInput):
    """Carries the limits, and the messages that tell them in the page's language, for photos.js, which
    checks the chosen photos and videos before anything is sent. Without the script the server checks
    them."""

    allow_multiple_selected = True
    # Fewer files than a send may carry, when a testimony has nearly all it can take (the answer form).
    photos_left: int | None = None

    class Media:
        js = [forms.Script("intake/photos.js", defer=True)]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["accept"] = accepted_types()
        context["widget"]["attrs"].update(photo_check_attributes(self.photos_left))
        return context


def limits_text(photos_left: int | None = None, per_submission: int | None = None) -> str:
    """The limits as the form states them beside its file input, in plain words."""
    text = ngettext(
        "Up to %(count)d photo or video at a time.",
        "Up to %(count)d photos and videos at a time.",
        settings.INTAKE_MAX_IMAGES,
    ) % {"count": settings.INTAKE_MAX_IMAGES}
    text += " " + _("Photos (%(formats)s): each at most %(size)s.") % {
        "formats": PHOTO_FORMATS,
        "size": filesizeformat(settings.INTAKE_MAX_IMAGE_BYTES),
    }
    text += " " + ngettext(
        "Videos (%(formats)s): each at most %(size)s and %(minutes)d minute long.",
        "Videos (%(formats)s): each at most %(size)s and %(minutes)d minutes long.",
        video_minutes(),
    ) % {"formats": VIDEO_FORMATS, "size": filesizeformat(settings.INTAKE_MAX_VIDEO_BYTES), "minutes": video_minutes()}
    text += " " + _("All together at most %(total)s.") % {"total": filesizeformat(settings.INTAKE_MAX_TOTAL_BYTES)}
    if per_submission is not None and photos_left is not None:
        text += " " + _("A testimony can have %(limit)d files in all; you can add %(left)d more.") % {
            "limit": per_submission,
            "left": photos_left,
        }
    return text


def photo_check_attributes(photos_left: int | None = None) -> dict[str, str]:
    """Read when the page is drawn, so that the limits are those in force and the words the witness's."""
    limit = settings.INTAKE_MAX_IMAGES
    too_many = ngettext(
        "You can send at most %(limit)d file at once. Please choose fewer.",
        "You can send at most %(limit)d files at once. Please choose fewer.",
        limit,
    )
    if photos_left is not None and photos_left < limit:
        limit = photos_left
        too_many = ngettext(
            "This testimony can take %(limit)d more file. Please choose fewer.",
            "This testimony can take %(limit)d more files. Please choose fewer.",
            limit,
        )
    return {
        "data-max-count": str(limit),
        "data-max-bytes": str(settings.INTAKE_MAX_IMAGE_BYTES),
        "data-max-video-bytes": str(settings.INTAKE_MAX_VIDEO_BYTES),
        "data-max-total-bytes": str(settings.INTAKE_MAX_TOTAL_BYTES),
        "data-accept-types": accepted_types(),
        "data-problems-heading": str(_("There is a problem")),
        "data-message-too-many": too_many % {"limit": limit},
        "data-message-too-large": _("“%(name)s” is larger than %(limit)s, the most for a photo.")
        % {"name": NAME, "limit": filesizeformat(settings.INTAKE_MAX_IMAGE_BYTES)},
        "data-message-video-too-large": _("“%(name)s” is larger than %(limit)s, the most for a video.")
        % {"name": NAME, "limit": filesizeformat(settings.INTAKE_MAX_VIDEO_BYTES)},
        "data-message-empty": _("“%(name)s” is empty.") % {"name": NAME},
        "data-message-not-accepted": _("“%(name)s” is not a photo or video in a format we accept (%(formats)s).")
        % {"name": NAME, "formats": f"{PHOTO_FORMATS}, {VIDEO_FORMATS}"},
        "data-message-total": _("Together the files are larger than %(limit)s.")
        % {"limit": filesizeformat(settings.INTAKE_MAX_TOTAL_BYTES)},
    }


class ImagesField(forms.Field):
    """Up to INTAKE_MAX_IMAGES photos and videos, each judged by its content against the engine's
    allow-list, and its size against its kind's limit (intake.uploads)."""

    widget = MultipleImageInput()

    def to_python(self, value) -> list[SealedUpload]:
        if not value:
            return []
        return [upload for upload in value if isinstance(upload, SealedUpload)]

    def validate(self, uploads: list[SealedUpload]) -> None:
        errors: list[str | Promise] = []
        if len(uploads) > settings.INTAKE_MAX_IMAGES:
            errors.append(
                ngettext(
                    "You chose %(count)d file; the most you can send is %(limit)d.",
                    "You chose %(count)d files; the most you can send is %(limit)d.",
                    len(uploads),
                )
                % {"limit": settings.INTAKE_MAX_IMAGES, "count": len(uploads)}
            )
        for number, upload in enumerate(uploads, start=1):
            if upload.too_large and upload.kind == "video":
                errors.append(
                    _("File %(number)d is larger than %(limit)s, the most for a video.")
                    % {"number": number, "limit": filesizeformat(settings.INTAKE_MAX_VIDEO_BYTES)}
                )
            elif upload.too_large:
                errors.append(
                    _("File %(number)d is larger than %(limit)s, the most for a photo.")
                    % {"number": number, "limit": filesizeformat(settings.INTAKE_MAX_IMAGE_BYTES)}
                )
            elif upload.size == 0:
                errors.append(_("File %(number)d is empty.") % {"number": number})
            elif cleaning.sniff(upload.head) not in cleaning.ACCEPTED_MEDIA_TYPES:
                errors.append(
                    _("File %(number)d is not a photo or video in a format we accept (%(formats)s).")
                    % {"number": number, "formats": f"{PHOTO_FORMATS}, {VIDEO_FORMATS}"}
                )
        if sum(upload.size for upload in uploads) > settings.INTAKE_MAX_TOTAL_BYTES:
            errors.append(
                _("Together the files are larger than %(limit)s.")
                % {"limit": filesizeformat(settings.INTAKE_MAX_TOTAL_BYTES)}
            )
        if not errors and any(upload.blob is None for upload in uploads):
            errors.append(_("A file was not received completely. Please choose your photos and videos again."))
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
    images = ImagesField(label=_("Photos and videos (optional)"), required=False)


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
    images = ImagesField(label=_("Photos and videos to add (optional)"), required=False)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("text") and not data.get("images"):
            raise forms.ValidationError(_("Write an answer, or choose photos or videos to add, or both."), code="empty")
        return data


class DraftForm(forms.Form):
    """An answer not yet sent, carried through the receipt form when the conversation page was open too
    long to send it (intake.access): given back in the answer box once the receipt is typed again."""

    draft = forms.CharField(
        label=_("Your answer, not sent yet"),
        help_text=_("Kept here while you type your receipt. Your photos and videos must be chosen again."),
        required=False,
        max_length=settings.INTAKE_MAX_REPLY_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "dir": "auto"}),
    )
