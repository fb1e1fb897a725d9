"""The kinds of metadata the engine reports as removed, in the order reviewers see them.

These strings reach the review screen. They name a kind of data, never a value from the file. They
are plain constants so that the translation layer can wrap them in one place.
"""


def gettext_noop(message: str) -> str:
    """Marks a label for Django's `makemessages` without importing Django; the review page translates it."""
    return message


GPS = gettext_noop("GPS location")
CAMERA = gettext_noop("camera make and model")
SERIAL = gettext_noop("camera or lens serial number")
OWNER = gettext_noop("owner or author name")
MAKER_NOTES = gettext_noop("maker notes")
UNIQUE_ID = gettext_noop("unique image ID")
DATES = gettext_noop("dates and times")
SOFTWARE = gettext_noop("software or device names")
LENS = gettext_noop("lens details")
DESCRIPTION = gettext_noop("description or comment")
CAMERA_SETTINGS = gettext_noop("camera settings")
THUMBNAIL = gettext_noop("embedded thumbnail or preview")
SECONDARY_IMAGES = gettext_noop("secondary images")
DEPTH_MAP = gettext_noop("depth map")
GAIN_MAP = gettext_noop("HDR gain map")
TRAILER = gettext_noop("data after the end of the image")
XMP = gettext_noop("XMP metadata")
IPTC = gettext_noop("IPTC or Photoshop data")
CONTENT_CREDENTIALS = gettext_noop("content credentials")
TEXT = gettext_noop("text chunks")
PRIVATE = gettext_noop("private or unknown data blocks")
APPLICATION_EXTENSIONS = gettext_noop("application extensions")
COLOUR_PROFILE = gettext_noop("colour profile")
ORIENTATION = gettext_noop("orientation tag (applied to the pixels)")

ORDER: tuple[str, ...] = (
    GPS,
    CAMERA,
    SERIAL,
    OWNER,
    MAKER_NOTES,
    UNIQUE_ID,
    DATES,
    SOFTWARE,
    LENS,
    DESCRIPTION,
    CAMERA_SETTINGS,
    THUMBNAIL,
    SECONDARY_IMAGES,
    DEPTH_MAP,
    GAIN_MAP,
    TRAILER,
    XMP,
    IPTC,
    CONTENT_CREDENTIALS,
    TEXT,
    PRIVATE,
    APPLICATION_EXTENSIONS,
    COLOUR_PROFILE,
    ORIENTATION,
)


def in_order(found: set[str]) -> tuple[str, ...]:
    return tuple(label for label in ORDER if label in found)
