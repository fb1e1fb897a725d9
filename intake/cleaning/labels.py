"""The kinds of metadata the engine reports as removed, as short codes, in the order reviewers see them.

``Image.removed`` stores these codes; each is named in the reader's language when shown
(intake.cleaning_text). A code names a kind of data, never a value from the file, and keeps its meaning
once stored.
"""

GPS = "gps"
CAMERA = "camera"
SERIAL = "serial"
OWNER = "owner"
MAKER_NOTES = "maker_notes"
UNIQUE_ID = "unique_id"
DATES = "dates"
SOFTWARE = "software"
LENS = "lens"
DESCRIPTION = "description"
CAMERA_SETTINGS = "camera_settings"
THUMBNAIL = "thumbnail"
SECONDARY_IMAGES = "secondary_images"
DEPTH_MAP = "depth_map"
GAIN_MAP = "gain_map"
TRAILER = "trailer"
XMP = "xmp"
IPTC = "iptc"
CONTENT_CREDENTIALS = "content_credentials"
TEXT = "text"
PRIVATE = "private"
APPLICATION_EXTENSIONS = "application_extensions"
COLOUR_PROFILE = "colour_profile"
ORIENTATION = "orientation"  # the tag: applied to the pixels, then removed
# Videos: what a container carries beside its picture and sound.
UUID_BOXES = "uuid_boxes"  # vendors' private boxes
TELEMETRY = "telemetry"  # data tracks: GoPro GPMF, camera motion, depth, anything not picture or sound
SUBTITLES = "subtitles"  # subtitle tracks (drones write their position in them)
TIMECODE = "timecode"
COVER_ART = "cover_art"  # attached pictures and attachments
CHAPTERS = "chapters"
UNSUPPORTED_TRACKS = "unsupported_tracks"  # picture or sound in a codec we do not keep, beside others we do

#: Never found by the engine: what an older row holds for an English label migration 0008 did not know.
OTHER = "other"

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
    UUID_BOXES,
    TELEMETRY,
    SUBTITLES,
    TIMECODE,
    COVER_ART,
    CHAPTERS,
    UNSUPPORTED_TRACKS,
)


def in_order(found: set[str]) -> tuple[str, ...]:
    return tuple(label for label in ORDER if label in found)
