"""Every reason a file can be refused, as a stable code: what ``Image.refusal`` holds.

A code is stored, never a sentence: the sentence is chosen when it is shown, in the reader's language
(intake.cleaning_text), so an Arabic reviewer or witness reads Arabic. A code keeps its meaning once it
has been stored. The numbers a sentence needs travel beside it (``Refused.params``, ``Image.refusal_params``),
never anything read from the file but its format and the sizes it declares.
"""

from enum import StrEnum


class Reason(StrEnum):
    # The engine's own (intake.cleaning): what is wrong with the file.
    EMPTY = "empty"
    TOO_LARGE = "too_large"  # megabytes: the limit
    NOT_AN_IMAGE = "not_an_image"
    MEDIA_NOT_IMAGE = "media_not_image"  # a HEIF-family container holding no picture: a video, most often
    NO_DIMENSIONS = "no_dimensions"
    TOO_MANY_PIXELS = "too_many_pixels"  # megapixels: the limit; width and height when declared
    TOO_MANY_FRAMES = "too_many_frames"  # frames, limit
    TOO_MANY_PIXELS_IN_ALL = "too_many_pixels_in_all"  # frames, megapixels: the limit over all frames
    TOO_MANY_SCANS = "too_many_scans"  # limit
    TRUNCATED = "truncated"  # format: "JPEG", "PNG", "GIF", "WebP"
    MALFORMED = "malformed"  # format: "JPEG", "PNG", "GIF", "WebP", "TIFF"
    DAMAGED = "damaged"
    # Videos: what their headers declare, held against the limits before anything is decoded.
    TOO_LONG = "too_long"  # minutes: the limit
    TOO_MANY_TRACKS = "too_many_tracks"  # tracks, limit
    TOO_MANY_SAMPLES = "too_many_samples"  # samples, limit
    NO_STREAMS = "no_streams"  # a video file holding neither picture nor sound
    UNSUPPORTED_CODEC = "unsupported_codec"  # format: a kind of picture or sound we cannot keep safely
    CANNOT_CLEAN_SAFELY = "cannot_clean_safely"

    # The worker's (intake.tasks): what happened to the file on our side.
    STOPPED_CLEANING = "stopped_cleaning"  # attempts
    UPLOAD_MISSING = "upload_missing"
    UNDECRYPTABLE = "undecryptable"  # the upload is kept, encrypted, for an operator
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    # Anything else: an unexpected error, and (migration 0008) an older English reason not recognised.
    COULD_NOT_CLEAN = "could_not_clean"
