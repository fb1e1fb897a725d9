"""PNG and APNG: keep the chunks needed to render, drop every other one; the pixel data is untouched.

A PNG is a signature and a list of chunks (length, type, data, CRC). Text (tEXt, zTXt, iTXt: where
XMP, software names, dates and comments live), eXIf, tIME, private chunks and anything after IEND
go. Pixels are re-encoded only when an eXIf orientation or a non-sRGB colour profile must be
applied to them.

The chunks we keep are cut to what a decoder reads, since any byte it skips could carry an
identifier: a chunk longer than its fixed length is cut to it (one too short is dropped, as
decoders ignore it), a second copy of a chunk read once is dropped, IEND is emptied, and palette
entries no pixel can point to go. A malformed IHDR, PLTE or animation chunk (acTL, fcTL, or frames
other than the acTL count) is refused instead: the frame count and size declared before the first
image data are what the pipeline checked against its limits. Still copied as is: bytes after the
end of the zlib stream in IDAT or fdAT, and palette entries no pixel uses, since finding either
means decoding.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from intake.cleaning import animation, exif, icc, labels, orientation, raster
from intake.cleaning.contract import Declared, Outcome, contents, photo
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Chunks that change how the image is drawn: pixels, palette, transparency, colour, animation.
_RENDERING = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"cICP",
        b"mDCV",
        b"cLLI",
        b"sBIT",
        b"bKGD",
        b"acTL",
        b"fcTL",
        b"fdAT",
    }
)
#: Ancillary chunks that neither render nor identify anyone: dropped without a word.
_SILENT = frozenset({b"pHYs", b"sPLT", b"hIST", b"oFFs", b"pCAL", b"sCAL", b"sTER"})
#: Lengths the spec fixes; decoders read no further.
_FIXED_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"cICP": 4, b"cLLI": 8, b"mDCV": 24}
#: Lengths by colour type: 0 grey, 2 truecolour, 3 palette, 4 grey with alpha, 6 truecolour with alpha.
_SBIT_LENGTH = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_BKGD_LENGTH = {0: 2, 2: 6, 3: 1, 4: 2, 6: 6}
#: One transparent colour; a palette image has one alpha value per palette entry instead.
_TRNS_LENGTH = {0: 2, 2: 6}
_PALETTE = 3
#: Chunks decoders read once: a second copy is dropped.
_ONCE = frozenset({b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP", b"mDCV", b"cLLI", b"sBIT", b"bKGD"})
#: Chunks that shape everything after them: a second copy is refused, as decoders differ on which counts.
_UNIQUE = frozenset({b"IHDR", b"PLTE", b"acTL"})
_TEXT_KINDS = {
    b"XML:com.adobe.xmp": labels.XMP,
    b"Raw profile type exif": labels.CAMERA_SETTINGS,
    b"Raw profile type APP1": labels.CAMERA_SETTINGS,
    b"Raw profile type iptc": labels.IPTC,
    b"Raw profile type 8bim": labels.IPTC,
    b"Raw profile type xmp": labels.XMP,
    b"Author": labels.OWNER,
    b"Copyright": labels.OWNER,
    b"Software": labels.SOFTWARE,
    b"Creation Time": labels.DATES,
    b"date:create": labels.DATES,
    b"date:modify": labels.DATES,
    b"date:timestamp": labels.DATES,
    b"Comment": labels.DESCRIPTION,
    b"Description": labels.DESCRIPTION,
    b"Title": labels.DESCRIPTION,
}
_MAX_PROFILE_BYTES = 4 * 1024 * 1024


def chunks(data: bytes, start: int = 8) -> Iterator[tuple[bytes, bytes, int]]:
    """(type, data, end offset) of each chunk up to and including IEND, checking lengths and CRCs."""
    pos, end = start, len(data)
    while True:
        if pos + 8 > end:
            raise Refused(Reason.TRUNCATED, format="PNG")
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            raise Refused(Reason.TRUNCATED, format="PNG")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(kind + body) != crc:
            raise Refused(Reason.DAMAGED)
        pos += 12 + length
        yield kind, body, pos
        if kind == b"IEND":
            return


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


class _Png:
    name = "PNG"
    kind = "photo"
    media_types = frozenset({"image/png"})
    extensions = {"image/png": "png"}

    def recognise(self, head: bytes) -> bool:
        return head.startswith(SIGNATURE)

    def declare(self, source: BinaryIO) -> Declared:
        """The canvas and, for an APNG, its frames (and a poster image that is not one of them),
        from the chunks before the first image data: the animation chunks must come before it."""
        parts = chunks(contents(source))
        kind, body, _ = next(parts)
        layout = _layout(kind, body)
        for kind, body, _ in parts:
            if kind in (b"IDAT", b"IEND"):
                break
            if kind == b"acTL":
                _animation_control(body, layout)
            elif kind == b"fcTL":
                layout.frames += 1
        if not layout.declared_frames:
            return Declared(layout.width, layout.height)
        poster = 0 if layout.frames else 1  # every frame, and the poster, is decoded onto a whole canvas
        return Declared(layout.width, layout.height, frames=layout.declared_frames + poster)

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        return _clean(contents(source))

    def verify(self, outcome: Outcome) -> None:
        raster.verify(outcome)


FORMAT = _Png()


def _clean(data: bytes) -> Outcome:
    kept: list[bytes] = [SIGNATURE]
    kinds: set[str] = set()
    turn = 1
    profile = b""
    exif_read = False
    parts = chunks(data)
    kind, body, end = next(parts)
    layout = _layout(kind, body)
    kept.append(chunk(kind, body))
    for kind, body, end in parts:  # noqa: B007 - `end` of the last chunk is read below
        if kind in _RENDERING:
            needed = _needed(kind, body, layout)
            if needed is not None:
                kept.append(chunk(kind, needed))
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            kinds.add(_TEXT_KINDS.get(body.split(b"\x00", 1)[0], labels.TEXT))
        elif kind == b"eXIf" and exif_read:
            # Decoders read the first; reading each of many crafted ones would take minutes.
            kinds.add(labels.CAMERA_SETTINGS)
        elif kind == b"eXIf":
            exif_read = True
            found = exif.read(body)
            kinds |= found.kinds
            turn = found.orientation
        elif kind == b"tIME":
            kinds.add(labels.DATES)
        elif kind == b"iCCP":
            kinds.add(labels.COLOUR_PROFILE)
            profile = _inflate_profile(body)
        elif kind == b"caBX":
            kinds.add(labels.CONTENT_CREDENTIALS)
        elif kind not in _SILENT:
            kinds.add(labels.PRIVATE)
    if layout.frames != layout.declared_frames:
        # Frames beyond the acTL count, or without an acTL, are never shown: they could hide anything.
        raise Refused(Reason.MALFORMED, format="PNG")
    if data[end:].strip(b"\x00"):
        kinds.add(labels.TRAILER)
    if turn != 1:
        kinds.add(labels.ORIENTATION)

    convert_profile = icc.must_apply(profile)
    if turn != 1 or convert_profile:
        kept.clear()  # a copy of every chunk: not needed when the pixels are rewritten, and it counts
        return photo(_rewrite(data, turn, profile if convert_profile else b"", layout), "image/png", "png", kinds)
    return photo(b"".join(kept), "image/png", "png", kinds)


@dataclass
class _Layout:
    """What the header and the chunks read so far say about the image, to judge the chunks that follow."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    palette_entries: int = 0
    declared_frames: int = 0  # from acTL: 0 for a still image
    frames: int = 0  # fcTL chunks seen
    poster: bool = False  # the IDAT image is not a frame: only viewers that do not animate show it
    data_started: bool = False
    seen: set[bytes] = field(default_factory=lambda: {b"IHDR"})


def _layout(kind: bytes, body: bytes) -> _Layout:
    if kind != b"IHDR" or len(body) != 13:
        raise Refused(Reason.MALFORMED, format="PNG")
    width, height, bit_depth, colour_type = struct.unpack_from(">IIBB", body)
    if colour_type not in _SBIT_LENGTH:
        raise Refused(Reason.MALFORMED, format="PNG")
    return _Layout(width, height, bit_depth, colour_type)


def _needed(kind: bytes, body: bytes, layout: _Layout) -> bytes | None:
    """The part of a rendering chunk's ``body`` that decoders read, or None when they read none of it.

    Bytes past a chunk's fixed length, and second copies of a chunk that is read once, are never
    shown, so they could carry anything: they are cut or dropped. Animation chunks are refused
    instead when wrong, since the frame count and sizes must be checked before any decoding.
    """
    if kind in layout.seen and kind in _ONCE | _UNIQUE:
        if kind in _UNIQUE:
            raise Refused(Reason.MALFORMED, format="PNG")
        return None
    layout.seen.add(kind)
    if kind == b"PLTE":
        return _palette(body, layout)
    if kind == b"acTL":
        return _animation_control(body, layout)
    if kind == b"fcTL":
        return _frame_control(body, layout)
    if kind == b"IDAT" and not layout.data_started:
        layout.data_started = True
        layout.poster = layout.declared_frames > 0 and layout.frames == 0
    if kind in (b"IDAT", b"fdAT"):
        return body
    if kind == b"IEND":
        return b""
    shortest, longest = _allowed_length(kind, layout)
    return body[:longest] if longest and len(body) >= shortest else None


def _allowed_length(kind: bytes, layout: _Layout) -> tuple[int, int]:
    """Shortest and longest body decoders accept for ``kind`` here; longest 0 when it has no place."""
    if kind == b"tRNS" and layout.colour_type == _PALETTE:
        return 1, layout.palette_entries
    if kind == b"tRNS":
        length = _TRNS_LENGTH.get(layout.colour_type, 0)
    elif kind == b"sBIT":
        length = _SBIT_LENGTH[layout.colour_type]
    elif kind == b"bKGD":
        length = _BKGD_LENGTH[layout.colour_type]
    else:
        length = _FIXED_LENGTH[kind]
    return length, length


def _palette(body: bytes, layout: _Layout) -> bytes | None:
    if layout.colour_type != _PALETTE:
        return None  # a suggested palette for quantisers: nothing shows it
    if not body or len(body) % 3:
        raise Refused(Reason.MALFORMED, format="PNG")
    # Pixels cannot point past 2**bit_depth entries, nor past 256.
    layout.palette_entries = min(len(body) // 3, 256, 2**layout.bit_depth)
    return body[: 3 * layout.palette_entries]


def _animation_control(body: bytes, layout: _Layout) -> bytes:
    if len(body) != 8 or layout.data_started:
        raise Refused(Reason.MALFORMED, format="PNG")
    (layout.declared_frames,) = struct.unpack_from(">I", body)
    return body


def _frame_control(body: bytes, layout: _Layout) -> bytes:
    if len(body) != 26:
        raise Refused(Reason.MALFORMED, format="PNG")
    width, height, x, y = struct.unpack_from(">IIII", body, 4)
    if not width or not height or x + width > layout.width or y + height > layout.height:
        raise Refused(Reason.MALFORMED, format="PNG")
    layout.frames += 1
    if layout.frames > layout.declared_frames:
        # More frames than the acTL count the pipeline checked: never shown, so they could hide anything.
        raise Refused(Reason.MALFORMED, format="PNG")
    return body


def _inflate_profile(body: bytes) -> bytes:
    _name, _, rest = body.partition(b"\x00")
    try:
        return zlib.decompressobj().decompress(rest[1:], _MAX_PROFILE_BYTES)
    except zlib.error:
        return b""


def _rewrite(data: bytes, turn: int, profile: bytes, layout: _Layout) -> bytes:
    """The pixels turned and in sRGB; the decoded copies are freed on return, before the check."""
    image = raster.open_image(data, "PNG")
    if layout.declared_frames:
        # Pillow counts a poster as frame 0; it is not part of the animation, so it is not made one.
        first = 1 if layout.poster else 0
        # A PngImageFile always sets n_frames; Pillow's Image type does not declare it.
        frames: int = image.n_frames  # type: ignore[attr-defined]
        return animation.to_apng(image, turn=turn, profile=profile, indices=list(range(first, frames)))
    raster.load(image)
    pixels = icc.to_srgb(image, profile) if profile else image
    turned = orientation.apply(pixels, turn)
    del image, pixels
    return raster.encode_png(turned)
