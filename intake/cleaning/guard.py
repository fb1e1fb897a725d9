"""Limits that keep a hostile file from exhausting memory or time, checked before any decoding.

The pipeline (api.py) calls :func:`check_input` on the file's length and :func:`check` on what the
format declares from its headers, and only then asks the format to clean: a 631-byte JPEG can
claim 12000x12000 pixels, and Pillow alone only warns between about 89 and 179 megapixels. Format
modules never call these checks themselves.

Memory bound: one frame is decoded at a time, and a frame may hold at most ``MAX_DECODE_PIXELS``
pixels (4 bytes each at most in the modes we decode to). Re-encoding keeps at most the decoded
frame, one transformed copy and the encoder's buffers, so peak memory stays under three times the
decoded size, at worst about 1.3 GB; the worker's memory limit should sit above that. JPEG files
whose compressed pixels we copy are never decoded at full size, so they may be larger.
"""

from __future__ import annotations

from PIL import Image

from intake.cleaning.contract import Declared, Limits, MiB, Outcome
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

MAX_INPUT_BYTES = Limits().photo_bytes
#: Largest frame we decode at full size (a 108-megapixel phone photo fits).
MAX_DECODE_PIXELS = 110_000_000
#: Largest JPEG whose compressed data we copy (a 200-megapixel phone photo fits).
MAX_JPEG_PIXELS = 210_000_000
MAX_FRAMES = 1000
#: Largest video picture: 8K UHD (7680x4320, 33 megapixels), which phones record, fits.
MAX_VIDEO_PIXELS = 40_000_000
#: Sum over all frames of an animation or pages of a document: bounds the time spent decoding.
MAX_TOTAL_PIXELS = 500_000_000
#: A phone writes two to six tracks (picture, sound, metadata, telemetry).
MAX_TRACKS = 64
#: Samples over all tracks: 30 minutes at 240 frames a second with 48 kHz sound is about 600,000.
MAX_SAMPLES = 5_000_000

# Defence in depth behind our own checks: Pillow refuses outright what slips past them.
Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS


def check_input(size: int, kind: str, limits: Limits) -> None:
    """The file's length in bytes, against the limit for its kind."""
    if not size:
        raise Refused(Reason.EMPTY)
    limit = limits.video_bytes if kind == "video" else limits.photo_bytes
    if size > limit:
        raise Refused(Reason.TOO_LARGE, megabytes=limit // MiB)


def check(declared: Declared, kind: str, limits: Limits) -> None:
    """What a file declares, against every limit for its kind, before anything is decoded."""
    if kind == "video":
        _check_video(declared, limits)
        return
    limit = MAX_DECODE_PIXELS if declared.decoded else MAX_JPEG_PIXELS
    _check_dimensions(declared.width, declared.height, limit)
    _check_total(declared.width * declared.height, declared.frames)


def check_result(outcome: Outcome, kind: str, limits: Limits) -> None:
    """What a file turned out to hold, for what its headers need not declare: a video written as a
    stream (a live WebM, a fragmented MP4) gives its length only as its packets are copied."""
    if kind == "video" and outcome.duration_seconds > limits.video_seconds:
        raise Refused(Reason.TOO_LONG, minutes=limits.video_seconds // 60)


def _check_video(declared: Declared, limits: Limits) -> None:
    if declared.duration_seconds > limits.video_seconds:
        raise Refused(Reason.TOO_LONG, minutes=limits.video_seconds // 60)
    if declared.tracks > MAX_TRACKS:
        raise Refused(Reason.TOO_MANY_TRACKS, tracks=declared.tracks, limit=MAX_TRACKS)
    if declared.samples > MAX_SAMPLES:
        raise Refused(Reason.TOO_MANY_SAMPLES, samples=declared.samples, limit=MAX_SAMPLES)
    if declared.width or declared.height:
        # The poster is the first frame, decoded at full size, by a decoder that keeps several frames.
        _check_dimensions(declared.width, declared.height, MAX_VIDEO_PIXELS)


def _check_dimensions(width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise Refused(Reason.NO_DIMENSIONS)
    if width * height > limit:
        raise Refused(Reason.TOO_MANY_PIXELS, width=width, height=height, megapixels=limit // 1_000_000)


def _check_total(frame_pixels: int, frames: int) -> None:
    """``frames`` frames of up to ``frame_pixels`` pixels each: few enough, and not too many in all."""
    if frames > MAX_FRAMES:
        raise Refused(Reason.TOO_MANY_FRAMES, frames=frames, limit=MAX_FRAMES)
    if frame_pixels * frames > MAX_TOTAL_PIXELS:
        raise Refused(Reason.TOO_MANY_PIXELS_IN_ALL, frames=frames, megapixels=MAX_TOTAL_PIXELS // 1_000_000)
