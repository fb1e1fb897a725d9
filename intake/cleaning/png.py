"""PNG and APNG: keep the chunks needed to render, drop every other one; the pixel data is untouched.

A PNG is a signature and a list of chunks (length, type, data, CRC). Text (tEXt, zTXt, iTXt: where
XMP, software names, dates and comments live), eXIf, tIME, private chunks and anything after IEND
go. Pixels are re-encoded only when an eXIf orientation or a non-sRGB colour profile must be
applied to them.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from intake.cleaning import animation, exif, guard, icc, labels, orientation, raster
from intake.cleaning.errors import Refused
from intake.cleaning.outcome import Outcome

SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRUNCATED = "The PNG file is truncated: it ends before its last chunk."
MALFORMED = "The PNG file's structure is malformed."

#: Chunks that change how the image is drawn: pixels, palette, transparency, colour, animation.
_RENDERING = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP",
        b"mDCV", b"cLLI", b"sBIT", b"bKGD", b"acTL", b"fcTL", b"fdAT",
    }
)
#: Ancillary chunks that neither render nor identify anyone: dropped without a word.
_SILENT = frozenset({b"pHYs", b"sPLT", b"hIST", b"oFFs", b"pCAL", b"sCAL", b"sTER"})
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
            raise Refused(TRUNCATED)
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            raise Refused(TRUNCATED)
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(kind + body) != crc:
            raise Refused(raster.DAMAGED)
        pos += 12 + length
        yield kind, body, pos
        if kind == b"IEND":
            return


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def clean(data: bytes) -> Outcome:
    kept: list[bytes] = [SIGNATURE]
    kinds: set[str] = set()
    turn = 1
    profile = b""
    width = height = 0
    frames = 1
    end = 8
    for index, (kind, body, end) in enumerate(chunks(data)):  # noqa: B007 - `end` of the last chunk is read below
        if index == 0:
            if kind != b"IHDR" or len(body) != 13:
                raise Refused(MALFORMED)
            width, height = struct.unpack_from(">II", body)
            guard.check_dimensions(width, height)
        if kind in _RENDERING:
            if kind == b"acTL" and len(body) == 8:
                frames = struct.unpack_from(">I", body)[0]
                guard.check_frames(width, height, frames)
            kept.append(chunk(kind, body))
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            kinds.add(_TEXT_KINDS.get(body.split(b"\x00", 1)[0], labels.TEXT))
        elif kind == b"eXIf":
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
    if data[end:].strip(b"\x00"):
        kinds.add(labels.TRAILER)
    if turn != 1:
        kinds.add(labels.ORIENTATION)

    convert_profile = icc.must_apply(profile)
    if turn != 1 or convert_profile:
        kept.clear()  # a copy of every chunk: not needed when the pixels are rewritten, and it counts
        return _reencode(data, turn, profile if convert_profile else b"", frames > 1, kinds)
    result = b"".join(kept)
    raster.decode_every_frame(result, "PNG")
    return Outcome(result, "image/png", "png", kinds)


def _inflate_profile(body: bytes) -> bytes:
    _name, _, rest = body.partition(b"\x00")
    try:
        return zlib.decompressobj().decompress(rest[1:], _MAX_PROFILE_BYTES)
    except zlib.error:
        return b""


def _reencode(data: bytes, turn: int, profile: bytes, animated: bool, kinds: set[str]) -> Outcome:
    result = _rewrite(data, turn, profile, animated)
    raster.decode_every_frame(result, "PNG")
    return Outcome(result, "image/png", "png", kinds)


def _rewrite(data: bytes, turn: int, profile: bytes, animated: bool) -> bytes:
    """The pixels turned and in sRGB; the decoded copies are freed on return, before the check."""
    image = raster.open_image(data, "PNG")
    if animated:
        return animation.to_apng(image, turn=turn, profile=profile)
    raster.load(image)
    pixels = icc.to_srgb(image, profile) if profile else image
    turned = orientation.apply(pixels, turn)
    del image, pixels
    return raster.encode_png(turned)
