"""GIF, still and animated: copy the frames' compressed data as is; drop comments and foreign blocks.

A GIF is a header, a screen descriptor with an optional colour table, then blocks: image frames
(0x2C), extensions (0x21: graphic control, comment, plain text, application) and a trailer (0x3B).
We keep frames, graphic controls (timing, transparency) rebuilt from their fixed fields, and the
looping extension rebuilt from its one meaningful field; comments, XMP, other application
extensions and trailing bytes go. Sub-blocks after the end of a frame's LZW data are still copied:
finding that end means decoding the frame.
"""

from __future__ import annotations

from intake.cleaning import guard, labels, raster
from intake.cleaning.errors import Refused
from intake.cleaning.outcome import Outcome
from intake.cleaning.reasons import Reason

_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B
_GRAPHIC_CONTROL, _COMMENT, _PLAIN_TEXT, _APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _colour_table_size(flags: int) -> int:
    return 3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0


def _sub_blocks_end(data: bytes, pos: int) -> int:
    """Offset just past the zero-length block that ends the sub-blocks starting at ``pos``."""
    while True:
        if pos >= len(data):
            raise Refused(Reason.TRUNCATED, format="GIF")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def clean(data: bytes) -> Outcome:
    if len(data) < 13:
        raise Refused(Reason.TRUNCATED, format="GIF")
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    guard.check_dimensions(width, height)
    pos = 13 + _colour_table_size(data[10])
    kept = [data[:pos]]
    kinds: set[str] = set()
    frames = 0
    largest = width * height
    control = b""  # the graphic control extension for the next image
    while True:
        if pos >= len(data):
            if frames:
                break  # the trailer byte is often missing; decoders stop here anyway
            raise Refused(Reason.TRUNCATED, format="GIF")
        block = data[pos]
        if block == _TRAILER:
            if data[pos + 1 :].strip(b"\x00"):
                kinds.add(labels.TRAILER)
            break
        if block == 0x00:
            pos += 1
            continue
        if block == _IMAGE:
            if pos + 11 > len(data):
                raise Refused(Reason.TRUNCATED, format="GIF")
            frame_width = int.from_bytes(data[pos + 5 : pos + 7], "little")
            frame_height = int.from_bytes(data[pos + 7 : pos + 9], "little")
            guard.check_dimensions(frame_width, frame_height)
            largest = max(largest, frame_width * frame_height)
            end = _sub_blocks_end(data, pos + 10 + _colour_table_size(data[pos + 9]) + 1)
            kept += [control, data[pos:end]]
            control = b""
            frames += 1
            guard.check_total(largest, frames)
            pos = end
            continue
        if block != _EXTENSION or pos + 2 > len(data):
            raise Refused(Reason.MALFORMED, format="GIF")
        label = data[pos + 1]
        end = _sub_blocks_end(data, pos + 2)
        if label == _GRAPHIC_CONTROL:
            control = _graphic_control(data[pos + 2 : end])
        elif label == _APPLICATION:
            kept.append(_application(data[pos + 2 : end], kinds))
        elif label in (_COMMENT, _PLAIN_TEXT):
            kinds.add(labels.DESCRIPTION)
            if label == _PLAIN_TEXT:
                control = b""  # it was for the text, which goes, not for the next image
        else:
            kinds.add(labels.PRIVATE)
        pos = end
    if not frames:
        raise Refused(Reason.MALFORMED, format="GIF")
    kept.append(bytes((_TRAILER,)))
    result = b"".join(kept)
    raster.decode_every_frame(result, "GIF")
    return Outcome(result, "image/gif", "gif", kinds)


def _graphic_control(blocks: bytes) -> bytes:
    """The extension rebuilt from its fixed 4-byte block: disposal, transparency flag, delay, index.

    Decoders read nothing else, so longer blocks, further sub-blocks and reserved bits could only
    hide data. A block too short to hold the four bytes is dropped, as decoders ignore it.
    """
    if not blocks or blocks[0] < 4:
        return b""
    flags, delay, transparent = blocks[1] & 0x1F, blocks[2:4], blocks[4]
    return b"\x21\xf9\x04" + bytes((flags,)) + delay + bytes((transparent, 0))


def _application(blocks: bytes, kinds: set[str]) -> bytes:
    """The looping extension rebuilt from its loop count; nothing for any other application."""
    identifier = blocks[1:12] if blocks[:1] == b"\x0b" else b""
    if identifier in _LOOPING:
        rest = blocks[12:]
        if len(rest) >= 4 and rest[0] == 3 and rest[1] == 1:
            return b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + rest[2:4] + b"\x00"
        return b""
    if identifier == b"XMP DataXMP":
        kinds.add(labels.XMP)
    elif identifier == b"ICCRGBG1012":
        kinds.add(labels.COLOUR_PROFILE)
    else:
        kinds.add(labels.APPLICATION_EXTENSIONS)
    return b""
