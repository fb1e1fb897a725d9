"""The words for the cleaning engine's codes, in the reader's language.

The database keeps codes (``Image.refusal`` with its ``refusal_params``, ``Image.removed``); this module
turns them into sentences when a page is shown, so an Arabic witness or reviewer reads Arabic. The
witness reads the same sentence as the reviewer: plain words, no file content, and enough for the
reviewer to know what happened. A code this module does not know, or numbers that do not fit its
sentence, are shown as the generic sentence, never as an error.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from intake.cleaning import labels
from intake.cleaning.reasons import Reason

COULD_NOT_CLEAN = _("The file could not be cleaned.")

#: One sentence per refusal code. A plural one agrees with the number it names (ngettext's key).
REFUSALS: dict[str, Promise] = {
    Reason.EMPTY: _("The file is empty."),
    Reason.TOO_LARGE: _("The file is larger than the %(megabytes)s MB we accept."),
    Reason.NOT_AN_IMAGE: _(
        "The file is not a photo or video in a format we accept (photos: JPEG, PNG, WebP, GIF, TIFF, HEIC or AVIF;"
        " videos: MP4, MOV, 3GP, WebM or Matroska)."
    ),
    Reason.MEDIA_NOT_IMAGE: _("The file holds media of a kind we do not accept, not a photo or a video."),
    Reason.NO_DIMENSIONS: _("The photo's file is damaged: it gives no width or height."),
    Reason.TOO_MANY_PIXELS: ngettext_lazy(
        "The photo is %(width)s × %(height)s pixels, more than the %(megapixels)s megapixel we accept.",
        "The photo is %(width)s × %(height)s pixels, more than the %(megapixels)s megapixels we accept.",
        "megapixels",
    ),
    Reason.TOO_MANY_FRAMES: ngettext_lazy(
        "The file holds %(frames)s image (frames or pages), more than the %(limit)s we accept.",
        "The file holds %(frames)s images (frames or pages), more than the %(limit)s we accept.",
        "frames",
    ),
    Reason.TOO_MANY_PIXELS_IN_ALL: ngettext_lazy(
        "The %(frames)s image in the file (frames or pages) adds up to more than %(megapixels)s megapixels.",
        "The %(frames)s images in the file (frames or pages) add up to more than %(megapixels)s megapixels.",
        "frames",
    ),
    Reason.TOO_MANY_SCANS: ngettext_lazy(
        "The photo's file is built in a way no camera uses: more than %(limit)s scan.",
        "The photo's file is built in a way no camera uses: more than %(limit)s scans.",
        "limit",
    ),
    Reason.TRUNCATED: _("The file is incomplete (%(format)s): it may not have finished copying or downloading."),
    Reason.MALFORMED: _("The file is damaged (%(format)s): it is not built the way its format requires."),
    Reason.DAMAGED: _("The picture in the file is damaged or incomplete, so it cannot be shown or cleaned."),
    Reason.TOO_LONG: ngettext_lazy(
        "The video is longer than the %(minutes)s minute we accept.",
        "The video is longer than the %(minutes)s minutes we accept.",
        "minutes",
    ),
    Reason.TOO_MANY_TRACKS: ngettext_lazy(
        "The video's file declares %(tracks)s track, more than the %(limit)s we accept.",
        "The video's file declares %(tracks)s tracks, more than the %(limit)s we accept.",
        "tracks",
    ),
    Reason.TOO_MANY_SAMPLES: _(
        "The video's file declares %(samples)s frames and sound samples, more than the %(limit)s we accept:"
        " it is damaged or built to harm."
    ),
    Reason.NO_STREAMS: _("The video's file holds neither picture nor sound."),
    Reason.UNSUPPORTED_CODEC: _("The video's picture or sound is in a format (%(format)s) we cannot keep safely."),
    Reason.CANNOT_CLEAN_SAFELY: _("The file is damaged or unusual in a way we cannot clean safely."),
    Reason.STOPPED_CLEANING: ngettext_lazy(
        "The file stopped the cleaning process %(attempts)s time.",
        "The file stopped the cleaning process %(attempts)s times.",
        "attempts",
    ),
    Reason.UPLOAD_MISSING: _("The file was lost on our side before it could be cleaned."),
    Reason.UNDECRYPTABLE: _(
        "The file could not be opened on our side. It is kept, encrypted, until an administrator can try again."
    ),
    Reason.TIME_LIMIT: _("Cleaning the file took longer than we allow."),
    Reason.MEMORY_LIMIT: _("Cleaning the file needed more memory than we allow."),
    Reason.COULD_NOT_CLEAN: COULD_NOT_CLEAN,
}

#: The size limit Pillow enforces on its own (intake.cleaning.raster) comes without the declared size.
_TOO_MANY_PIXELS_OF_UNKNOWN_SIZE = ngettext_lazy(
    "The photo has more than the %(megapixels)s megapixel we accept.",
    "The photo has more than the %(megapixels)s megapixels we accept.",
    "megapixels",
)

#: A name per kind of metadata removed, for the list under each clean photo.
KINDS: dict[str, Promise] = {
    labels.GPS: _("GPS location"),
    labels.CAMERA: _("camera make and model"),
    labels.SERIAL: _("camera or lens serial number"),
    labels.OWNER: _("owner or author name"),
    labels.MAKER_NOTES: _("maker notes"),
    labels.UNIQUE_ID: _("unique image ID"),
    labels.DATES: _("dates and times"),
    labels.SOFTWARE: _("software or device names"),
    labels.LENS: _("lens details"),
    labels.DESCRIPTION: _("description or comment"),
    labels.CAMERA_SETTINGS: _("camera settings"),
    labels.THUMBNAIL: _("embedded thumbnail or preview"),
    labels.SECONDARY_IMAGES: _("secondary images"),
    labels.DEPTH_MAP: _("depth map"),
    labels.GAIN_MAP: _("HDR gain map"),
    labels.TRAILER: _("data after the end of the image"),
    labels.XMP: _("XMP metadata"),
    labels.IPTC: _("IPTC or Photoshop data"),
    labels.CONTENT_CREDENTIALS: _("content credentials"),
    labels.TEXT: _("text chunks"),
    labels.PRIVATE: _("private or unknown data blocks"),
    labels.APPLICATION_EXTENSIONS: _("application extensions"),
    labels.COLOUR_PROFILE: _("colour profile"),
    labels.ORIENTATION: _("orientation tag (applied to the pixels)"),
    labels.UUID_BOXES: _("vendors' private boxes"),
    labels.TELEMETRY: _("data and telemetry tracks"),
    labels.SUBTITLES: _("subtitle tracks"),
    labels.TIMECODE: _("timecode track"),
    labels.COVER_ART: _("cover art and attachments"),
    labels.CHAPTERS: _("chapter titles"),
    labels.UNSUPPORTED_TRACKS: _("picture or sound tracks in a format we cannot keep (the others are kept)"),
    labels.OTHER: _("other metadata"),
}


def refusal_text(code: str, params: object = None) -> str:
    """Why a file was refused, as a sentence in the current language."""
    numbers = params if isinstance(params, dict) else {}
    sentence = REFUSALS.get(code, COULD_NOT_CLEAN)
    if code == Reason.TOO_MANY_PIXELS and not {"width", "height"} <= numbers.keys():
        sentence = _TOO_MANY_PIXELS_OF_UNKNOWN_SIZE
    try:
        return str(sentence % numbers)
    except (KeyError, TypeError, ValueError):  # numbers that do not fit the sentence: an older or damaged row
        return str(COULD_NOT_CLEAN)


def removed_labels(codes: object) -> list[str]:
    """The kinds of metadata removed, named in the current language, in the order they were stored."""
    names: list[str] = []
    for code in codes if isinstance(codes, list | tuple) else ():
        name = str(KINDS.get(code, KINDS[labels.OTHER])) if isinstance(code, str) else str(KINDS[labels.OTHER])
        if name not in names:
            names.append(name)
    return names
