"""The kinds of metadata the engine reports as removed, in the order reviewers see them.

These strings reach the review screen. They name a kind of data, never a value from the file. They
are plain constants so that the translation layer can wrap them in one place.
"""

GPS = "GPS location"
CAMERA = "camera make and model"
SERIAL = "camera or lens serial number"
OWNER = "owner or author name"
MAKER_NOTES = "maker notes"
UNIQUE_ID = "unique image ID"
DATES = "dates and times"
SOFTWARE = "software or device names"
LENS = "lens details"
DESCRIPTION = "description or comment"
CAMERA_SETTINGS = "camera settings"
THUMBNAIL = "embedded thumbnail or preview"
SECONDARY_IMAGES = "secondary images"
DEPTH_MAP = "depth map"
GAIN_MAP = "HDR gain map"
TRAILER = "data after the end of the image"
XMP = "XMP metadata"
IPTC = "IPTC or Photoshop data"
CONTENT_CREDENTIALS = "content credentials"
TEXT = "text chunks"
PRIVATE = "private or unknown data blocks"
APPLICATION_EXTENSIONS = "application extensions"
COLOUR_PROFILE = "colour profile"
ORIENTATION = "orientation tag (applied to the pixels)"

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
