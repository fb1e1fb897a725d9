"""Re-encoding many frames or pages as one APNG, one frame in memory at a time.

Used when the frames of an animation must be rewritten (an orientation or colour profile to apply,
animated AVIF) and for multi-page TIFF, whose pages become the frames. Pillow's own multi-frame
writers hold every frame at once; this one keeps only the compressed output, so memory stays at a
few times one frame whatever the frame count.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from intake.cleaning import icc, orientation, png, raster
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

#: How long each page of a multi-page document stays on screen.
PAGE_DELAY_MS = 3000
_DEFAULT_DELAY_MS = 100
_GREY = raster.DEEP_GREY | {"1", "L"}


def to_apng(
    image: Image.Image,
    turn: int = 1,
    profile: bytes = b"",
    page_delay_ms: int | None = None,
    indices: list[int] | None = None,
) -> bytes:
    """The frames of ``image`` (or those at ``indices``) as an APNG, turned and in sRGB."""
    if indices is None:
        indices = list(range(getattr(image, "n_frames", 1)))
    count = len(indices)
    sizes, modes = [], set()
    for index in indices:
        seek(image, index)
        sizes.append(image.size)
        modes.add(image.mode)
    # The pipeline checked the frames' declared sizes and count before this decode.
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
    mode = _common_mode(modes, image)
    if turn in (5, 6, 7, 8):
        width, height = height, width

    writer = _ApngWriter(count, loop=int(image.info.get("loop", 0) or 0))
    for index in indices:
        seek(image, index)
        raster.load(image)
        frame = _in_mode(image, mode)
        if profile:
            frame = icc.to_srgb(frame, profile)
        frame = orientation.apply(frame, turn)
        if frame.size != (width, height):
            canvas = Image.new(mode, (width, height), _background(mode))
            canvas.paste(frame, (0, 0))
            frame = canvas
        delay = page_delay_ms or int(image.info.get("duration") or _DEFAULT_DELAY_MS)
        writer.add(frame, delay)
        del frame
    return writer.finish()


def seek(image: Image.Image, index: int) -> None:
    try:
        image.seek(index)
        orientation.ignore_xmp_orientation(image)
    except raster.DECODE_ERRORS as error:
        raise Refused(Reason.DAMAGED) from error


def _common_mode(modes: set[str], image: Image.Image) -> str:
    if modes <= _GREY:
        return "L"
    if modes & {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info:
        return "RGBA"
    return "RGB"


def _in_mode(image: Image.Image, mode: str) -> Image.Image:
    """The frame in the mode all frames share; deeper greys scaled to 8 bits first."""
    image = raster.eight_bit_grey(image)
    return image.convert(mode) if image.mode != mode else image.copy()


def _background(mode: str) -> int | tuple[int, ...]:
    backgrounds: dict[str, int | tuple[int, ...]] = {"L": 255, "RGB": (255, 255, 255), "RGBA": (0, 0, 0, 0)}
    return backgrounds[mode]


class _ApngWriter:
    def __init__(self, frames: int, loop: int):
        self.frames = frames
        self.loop = loop
        self.sequence = 0
        self.added = 0
        self.parts: list[bytes] = []
        self.header: bytes | None = None

    def add(self, frame: Image.Image, delay_ms: int) -> None:
        encoded = io.BytesIO()
        frame.info = {}
        frame.save(encoded, "PNG")
        idat = [body for kind, body, _ in png.chunks(encoded.getvalue()) if kind == b"IDAT"]
        if self.header is None:
            self.header = next(png.chunks(encoded.getvalue()))[1]
        width, height = frame.size
        delay = max(1, min(delay_ms, 65535))
        control = struct.pack(">IIIIIHHBB", self.sequence, width, height, 0, 0, delay, 1000, 0, 0)
        self.parts.append(png.chunk(b"fcTL", control))
        self.sequence += 1
        for body in idat:
            if self.added == 0:
                self.parts.append(png.chunk(b"IDAT", body))
            else:
                self.parts.append(png.chunk(b"fdAT", struct.pack(">I", self.sequence) + body))
                self.sequence += 1
        self.added += 1

    def finish(self) -> bytes:
        assert self.header is not None
        control = struct.pack(">II", self.frames, self.loop)
        return b"".join(
            [
                png.SIGNATURE,
                png.chunk(b"IHDR", self.header),
                png.chunk(b"acTL", control),
                *self.parts,
                png.chunk(b"IEND", b""),
            ]
        )
