"""WebP, still and animated: keep the RIFF chunks that carry pictures, drop EXIF, XMP and the rest.

A WebP file is a RIFF container: 'RIFF', a size, 'WEBP', then chunks. Pictures live in VP8/VP8L
(with ALPH for lossy alpha), animations in ANIM plus one ANMF chunk per frame; VP8X holds the canvas
size and flags that announce the optional chunks. Pixels are rewritten only to apply an EXIF
orientation or a non-sRGB colour profile (browsers honour both in WebP).
"""
from __future__ import annotations

import io
import struct

from intake.cleaning import animation, exif, guard, icc, labels, orientation, raster
from intake.cleaning.errors import Refused
from intake.cleaning.outcome import Outcome

TRUNCATED = "The WebP file is truncated: it ends before its last chunk."
MALFORMED = "The WebP file's structure is malformed."

_PICTURE = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_ALPHA_FLAG, _ANIMATION_FLAG = 0x10, 0x02


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    found = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise Refused(TRUNCATED)
        kind, length = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + length > end:
            raise Refused(TRUNCATED)
        found.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return found


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def clean(data: bytes) -> Outcome:
    (size,) = struct.unpack_from("<I", data, 4)
    end = 8 + size
    if end > len(data):
        raise Refused(TRUNCATED)
    kinds: set[str] = set()
    if data[end:].strip(b"\x00"):
        kinds.add(labels.TRAILER)

    kept: list[bytes] = []
    turn, profile, frames, lossless = 1, b"", 0, False
    width = height = 0
    for kind, body in _chunks(data, 12, end):
        if kind == b"VP8X":
            if len(body) < 10:
                raise Refused(MALFORMED)
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
            guard.check_dimensions(width, height)
            flags = body[0] & (_ALPHA_FLAG | _ANIMATION_FLAG)
            kept.append(_chunk(kind, bytes((flags,)) + body[1:10]))
        elif kind == b"ANIM":
            kept.append(_chunk(kind, body))
        elif kind == b"ANMF":
            frames += 1
            if len(body) < 16:
                raise Refused(MALFORMED)
            inner = _chunks(body, 16, len(body))
            if any(k not in _PICTURE for k, _ in inner):
                kinds.add(labels.PRIVATE)
            lossless = lossless or any(k == b"VP8L" for k, _ in inner)
            pictures = b"".join(_chunk(k, b) for k, b in inner if k in _PICTURE)
            kept.append(_chunk(kind, body[:16] + pictures))
        elif kind in _PICTURE:
            if not width:
                width, height = _bitstream_size(kind, body)
                guard.check_dimensions(width, height)
            lossless = lossless or kind == b"VP8L"
            kept.append(_chunk(kind, body))
        elif kind == b"EXIF":
            found = exif.read(body)
            kinds |= found.kinds
            turn = found.orientation
        elif kind == b"XMP ":
            kinds.add(labels.XMP)
        elif kind == b"ICCP":
            kinds.add(labels.COLOUR_PROFILE)
            profile = body
        else:
            kinds.add(labels.PRIVATE)
    if not width:
        raise Refused(MALFORMED)
    guard.check_frames(width, height, max(frames, 1))
    if turn != 1:
        kinds.add(labels.ORIENTATION)

    convert_profile = icc.must_apply(profile)
    if turn != 1 or convert_profile:
        kept.clear()  # a copy of every chunk: not needed when the pixels are rewritten, and it counts
        return _reencode(data, turn, profile if convert_profile else b"", frames > 1, lossless, kinds)
    body = b"WEBP" + b"".join(kept)
    result = b"RIFF" + struct.pack("<I", len(body)) + body
    raster.decode_every_frame(result, "WEBP")
    return Outcome(result, "image/webp", "webp", kinds)


def _bitstream_size(kind: bytes, body: bytes) -> tuple[int, int]:
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", body, 6)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise Refused(MALFORMED)


def _reencode(
    data: bytes, turn: int, profile: bytes, animated: bool, lossless: bool, kinds: set[str]
) -> Outcome:
    if animated:
        result = animation.to_apng(raster.open_image(data, "WEBP"), turn=turn, profile=profile)
        raster.decode_every_frame(result, "PNG")
        return Outcome(result, "image/png", "png", kinds)
    result = _rewrite(data, turn, profile, lossless)
    raster.decode_every_frame(result, "WEBP")
    return Outcome(result, "image/webp", "webp", kinds)


def _rewrite(data: bytes, turn: int, profile: bytes, lossless: bool) -> bytes:
    """The pixels turned and in sRGB; the decoded copies are freed on return, before the check."""
    image = raster.open_image(data, "WEBP")
    raster.load(image)
    pixels = icc.to_srgb(image, profile) if profile else image
    turned = orientation.apply(pixels, turn)
    del image, pixels
    turned.info = {}
    out = io.BytesIO()
    options = {"lossless": True} if lossless else {"quality": raster.JPEG_QUALITY}
    turned.save(out, "WEBP", **options)
    return out.getvalue()
