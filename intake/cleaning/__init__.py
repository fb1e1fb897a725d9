"""The cleaning engine: takes an untrusted photo (or video), returns a file with nothing identifying left.

This package is the one interface between the rest of the service and the media formats. It knows
nothing of Django, the database or encryption: a file in, a file out. The worker (intake.tasks) and
the ``clean_images`` management command call :func:`clean_media` (or :func:`clean` with bytes).
"""

from intake.cleaning.api import (
    ACCEPTED_MEDIA_TYPES,
    OUTPUT_MEDIA_TYPES,
    Cleaned,
    clean,
    clean_media,
    extension_for,
    sniff,
)
from intake.cleaning.contract import Limits
from intake.cleaning.errors import Refused

__all__ = [
    "ACCEPTED_MEDIA_TYPES",
    "OUTPUT_MEDIA_TYPES",
    "Cleaned",
    "Limits",
    "Refused",
    "clean",
    "clean_media",
    "extension_for",
    "sniff",
]
