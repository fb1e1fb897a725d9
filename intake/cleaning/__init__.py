"""The cleaning engine: takes the bytes of an untrusted image, returns bytes with nothing identifying left.

This package is the one interface between the rest of the service and the image formats. It knows
nothing of Django, the database or encryption: bytes in, bytes out. The worker (intake.tasks) and the
``clean_images`` management command both call :func:`clean`.
"""

from intake.cleaning.api import ACCEPTED_MEDIA_TYPES, Cleaned, Refused, clean, sniff

__all__ = ["ACCEPTED_MEDIA_TYPES", "Cleaned", "Refused", "clean", "sniff"]
