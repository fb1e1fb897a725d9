"""Limits that keep a hostile file from exhausting memory or time, checked before any decoding.

Every format module reads the dimensions and frame count a file *declares* from its headers and
calls these checks before a single pixel is decoded: a 631-byte JPEG can claim 12000x12000 pixels,
and Pillow alone only warns between about 89 and 179 megapixels.

Memory bound: one frame is decoded at a time, and a frame may hold at most ``MAX_DECODE_PIXELS``
pixels (4 bytes each at most in the modes we decode to). Re-encoding keeps at most the decoded
frame, one transformed copy and the encoder's buffers, so peak memory stays under three times the
decoded size, at worst about 1.3 GB; the worker's memory limit should sit above that. JPEG files
whose pixels we keep are only decoded at 1/8 scale to check them, so they may be larger.
"""

from __future__ import annotations

from PIL import Image

from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

MAX_INPUT_BYTES = 200 * 1024 * 1024
#: Largest frame we decode at full size (a 108-megapixel phone photo fits).
MAX_DECODE_PIXELS = 110_000_000
#: Largest JPEG whose compressed data we keep (a 200-megapixel phone photo fits).
MAX_JPEG_PIXELS = 210_000_000
MAX_FRAMES = 1000
#: Sum over all frames of an animation or pages of a document: bounds the time spent decoding.
MAX_TOTAL_PIXELS = 500_000_000

# Defence in depth behind our own checks: Pillow refuses outright what slips past them.
Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS


def check_input_size(data: bytes) -> None:
    if len(data) > MAX_INPUT_BYTES:
        raise Refused(Reason.TOO_LARGE, megabytes=MAX_INPUT_BYTES // (1024 * 1024))
    if not data:
        raise Refused(Reason.EMPTY)


def check_dimensions(width: int, height: int, limit: int = MAX_DECODE_PIXELS) -> None:
    if width <= 0 or height <= 0:
        raise Refused(Reason.NO_DIMENSIONS)
    if width * height > limit:
        raise Refused(Reason.TOO_MANY_PIXELS, width=width, height=height, megapixels=limit // 1_000_000)


def check_frames(width: int, height: int, frames: int) -> None:
    check_dimensions(width, height)
    check_total(width * height, frames)


def check_total(frame_pixels: int, frames: int) -> None:
    """``frames`` frames of up to ``frame_pixels`` pixels each: few enough, and not too many in all."""
    if frames > MAX_FRAMES:
        raise Refused(Reason.TOO_MANY_FRAMES, frames=frames, limit=MAX_FRAMES)
    if frame_pixels * frames > MAX_TOTAL_PIXELS:
        raise Refused(Reason.TOO_MANY_PIXELS_IN_ALL, frames=frames, megapixels=MAX_TOTAL_PIXELS // 1_000_000)
