"""WebP, still and animated: keep the RIFF chunks that carry pictures, drop EXIF, XMP and the rest.

A WebP file is a RIFF container: 'RIFF', a size, 'WEBP', then chunks. Pictures live in VP8/VP8L
(with ALPH for lossy alpha), animations in ANIM plus one ANMF chunk per frame; VP8X holds the canvas
size and flags that announce the optional chunks. Pixels are rewritten only to apply an EXIF
orientation or a non-sRGB colour profile (browsers honour both in WebP).

We keep only what a decoder reads: for a still image the first bitstream (with the ALPH before a
lossy one), for an animation ANIM cut to its 6 bytes and in each frame its first bitstream, with
reserved bits zeroed. Bytes past the end of a VP8 or VP8L bitstream inside its chunk are still
copied, since finding that end means decoding.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from intake.cleaning import animation, exif, icc, labels, orientation, raster
from intake.cleaning.contract import Declared, Outcome, contents, photo
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

_PICTURE = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_ALPHA_FLAG, _ANIMATION_FLAG, _EXIF_FLAG, _ICC_FLAG = 0x10, 0x02, 0x08, 0x20


class _WebP:
    name = "WebP"
    kind = "photo"
    media_types = frozenset({"image/webp"})
    extensions = {"image/webp": "webp", "image/png": "png"}  # an animation to turn becomes an APNG

    def recognise(self, head: bytes) -> bool:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"

    def declare(self, source: BinaryIO) -> Declared:
        """The canvas (and the still picture's own size, if larger) and the number of frames."""
        data = contents(source)
        found = _chunks(data, 12, _riff_end(data))
        if not found:
            raise Refused(Reason.MALFORMED, format="WebP")
        first, body = found[0]
        if first != b"VP8X":
            width, height = _bitstream_size(first, body)
            return Declared(width, height)
        _canvas(body)  # long enough
        width = 1 + int.from_bytes(body[4:7], "little")
        height = 1 + int.from_bytes(body[7:10], "little")
        if body[0] & _ANIMATION_FLAG:
            frames = sum(1 for kind, _ in found if kind == b"ANMF")
            return Declared(width, height, frames=max(frames, 1))
        kind, picture = _one_picture([chunk for chunk in found[1:] if chunk[0] in _PICTURE])[-1]
        stored_width, stored_height = _bitstream_size(kind, picture)
        return Declared(max(width, stored_width), max(height, stored_height))

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        return _clean(contents(source))

    def verify(self, outcome: Outcome) -> None:
        raster.verify(outcome)


FORMAT = _WebP()


def _riff_end(data: bytes) -> int:
    (size,) = struct.unpack_from("<I", data, 4)
    end = 8 + size
    if end > len(data):
        raise Refused(Reason.TRUNCATED, format="WebP")
    return end


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    found = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise Refused(Reason.TRUNCATED, format="WebP")
        kind, length = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + length > end:
            raise Refused(Reason.TRUNCATED, format="WebP")
        found.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return found


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _clean(data: bytes) -> Outcome:
    end = _riff_end(data)
    kinds: set[str] = set()
    if data[end:].strip(b"\x00"):
        kinds.add(labels.TRAILER)

    found = _chunks(data, 12, end)
    if not found:
        raise Refused(Reason.MALFORMED, format="WebP")
    (first, first_body), rest = found[0], found[1:]
    extended = first == b"VP8X"
    # A simple WebP is its first chunk: decoders read nothing after it.
    kept = [(first, _canvas(first_body))] if extended else _one_picture(found[:1])
    animated = extended and bool(first_body[0] & _ANIMATION_FLAG)
    # Browsers apply an EXIF orientation or a colour profile only where VP8X announces it.
    honoured = first_body[0] if extended else 0
    turn, profile, frames, lossless = 1, b"", 0, False
    exif_read = False
    pictures: list[tuple[bytes, bytes]] = []
    for kind, body in rest:
        if kind == b"ANIM" and animated and len(kept) == 1:
            if len(body) < 6:
                raise Refused(Reason.MALFORMED, format="WebP")
            kept.append((kind, body[:6]))  # background colour and loop count
        elif kind == b"ANMF" and animated:
            frames += 1
            header, inner = _frame(body)
            if any(k not in _PICTURE for k, _ in inner):
                kinds.add(labels.PRIVATE)
            picture = _one_picture(inner)
            lossless = lossless or picture[-1][0] == b"VP8L"
            kept.append((kind, header + b"".join(_chunk(k, b) for k, b in picture)))
        elif kind in _PICTURE:
            pictures.append((kind, body))
        elif kind == b"EXIF" and exif_read:
            # Decoders read the first; reading each of many crafted ones would take minutes.
            kinds.add(labels.CAMERA_SETTINGS)
        elif kind == b"EXIF":
            exif_read = True
            found_exif = exif.read(body)
            kinds |= found_exif.kinds
            turn = found_exif.orientation if honoured & _EXIF_FLAG else 1
            if not found_exif.kinds and turn == 1:
                kinds.add(labels.CAMERA_SETTINGS)  # an orientation no browser applies: removed all the same
        elif kind == b"XMP ":
            kinds.add(labels.XMP)
        elif kind == b"ICCP":
            kinds.add(labels.COLOUR_PROFILE)
            profile = body if honoured & _ICC_FLAG else b""
        else:
            kinds.add(labels.PRIVATE)
    if extended and not animated:
        kept += _one_picture(pictures)
    lossless = lossless or any(kind == b"VP8L" for kind, _ in kept)
    if turn != 1:
        kinds.add(labels.ORIENTATION)

    convert_profile = icc.must_apply(profile)
    if turn != 1 or convert_profile:
        kept.clear()  # a copy of every chunk: not needed when the pixels are rewritten, and it counts
        return _reencode(data, turn, profile if convert_profile else b"", frames > 1, lossless, kinds)
    body = b"WEBP" + b"".join(_chunk(kind, body) for kind, body in kept)
    return photo(b"RIFF" + struct.pack("<I", len(body)) + body, "image/webp", "webp", kinds)


def _canvas(body: bytes) -> bytes:
    """VP8X with only the flags for what we keep (alpha, animation) and its reserved bits zeroed."""
    if len(body) < 10:
        raise Refused(Reason.MALFORMED, format="WebP")
    flags = body[0] & (_ALPHA_FLAG | _ANIMATION_FLAG)
    return bytes((flags, 0, 0, 0)) + body[4:10]


def _frame(body: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """An ANMF body's 16-byte header, reserved bits zeroed, and the chunks inside it."""
    if len(body) < 16:
        raise Refused(Reason.MALFORMED, format="WebP")
    # Of the header's last byte only the blending and disposal bits mean anything.
    return body[:15] + bytes((body[15] & 0x03,)), _chunks(body, 16, len(body))


def _one_picture(chunks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The first VP8 or VP8L bitstream, with the ALPH chunk before a VP8 one.

    Decoders stop at the first bitstream, so any picture chunk after it could only hide data.
    """
    alpha: list[tuple[bytes, bytes]] = []
    for kind, body in chunks:
        if kind == b"ALPH" and not alpha:
            alpha = [(kind, body)]
        elif kind == b"VP8 ":
            return [*alpha, (kind, body)]
        elif kind == b"VP8L":
            return [(kind, body)]  # it carries its own alpha
    raise Refused(Reason.MALFORMED, format="WebP")


def _bitstream_size(kind: bytes, body: bytes) -> tuple[int, int]:
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", body, 6)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise Refused(Reason.MALFORMED, format="WebP")


def _reencode(data: bytes, turn: int, profile: bytes, animated: bool, lossless: bool, kinds: set[str]) -> Outcome:
    if animated:
        frames = animation.to_apng(raster.open_image(data, "WEBP"), turn=turn, profile=profile)
        return photo(frames, "image/png", "png", kinds)
    return photo(_rewrite(data, turn, profile, lossless), "image/webp", "webp", kinds)


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
