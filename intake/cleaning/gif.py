"""GIF, still and animated: copy the frames' compressed data as is; drop comments and foreign blocks.

A GIF is a header, a screen descriptor with an optional colour table, then blocks: image frames
(0x2C), extensions (0x21: graphic control, comment, plain text, application) and a trailer (0x3B).
We keep frames, graphic controls (timing, transparency) rebuilt from their fixed fields, and the
looping extension rebuilt from its one meaningful field; comments, XMP, other application
extensions and trailing bytes go. Sub-blocks after the end of a frame's LZW data are still copied:
finding that end means decoding the frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from intake.cleaning import guard, labels, raster
from intake.cleaning.contract import Declared, Outcome, contents, photo
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B
_GRAPHIC_CONTROL, _COMMENT, _PLAIN_TEXT, _APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
#: Frames counted by declare(): one more than the limit is enough for the pipeline to refuse.
_COUNT_AT_MOST = guard.MAX_FRAMES + 1


class _Gif:
    name = "GIF"
    kind = "photo"
    media_types = frozenset({"image/gif"})
    extensions = {"image/gif": "gif"}

    def recognise(self, head: bytes) -> bool:
        return head[:6] in (b"GIF87a", b"GIF89a")

    def declare(self, source: BinaryIO) -> Declared:
        """The screen, grown to the largest frame, and the number of frames: a GIF says how many it
        has only by holding them, so the blocks are walked (hopping over the compressed data)."""
        data = contents(source)
        screen = width, height = _screen(data)
        frames = 0
        for block, _label, start, _end in _blocks(data):
            if block == _IMAGE:
                frames += 1
                width = max(width, int.from_bytes(data[start + 5 : start + 7], "little"))
                height = max(height, int.from_bytes(data[start + 7 : start + 9], "little"))
                if frames == _COUNT_AT_MOST:
                    break
        if not frames:
            raise Refused(Reason.MALFORMED, format="GIF")
        if not all(screen):
            return Declared(0, 0)
        return Declared(width, height, frames=frames)

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        return _clean(contents(source))

    def verify(self, outcome: Outcome) -> None:
        raster.verify(outcome)


FORMAT = _Gif()


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


def _screen(data: bytes) -> tuple[int, int]:
    if len(data) < 13:
        raise Refused(Reason.TRUNCATED, format="GIF")
    return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")


def _blocks(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(kind, label, start, end) of each image (0x2C) and extension (0x21, with its label) after the
    screen descriptor; then (0x3B, 0, trailer, end of file) if a trailer is there."""
    pos = 13 + _colour_table_size(data[10])
    frames = 0
    while True:
        if pos >= len(data):
            if frames:
                return  # the trailer byte is often missing; decoders stop here anyway
            raise Refused(Reason.TRUNCATED, format="GIF")
        block = data[pos]
        if block == _TRAILER:
            yield _TRAILER, 0, pos, len(data)
            return
        if block == 0x00:
            pos += 1
            continue
        if block == _IMAGE:
            if pos + 11 > len(data):
                raise Refused(Reason.TRUNCATED, format="GIF")
            end = _sub_blocks_end(data, pos + 10 + _colour_table_size(data[pos + 9]) + 1)
            frames += 1
            yield _IMAGE, 0, pos, end
            pos = end
            continue
        if block != _EXTENSION or pos + 2 > len(data):
            raise Refused(Reason.MALFORMED, format="GIF")
        end = _sub_blocks_end(data, pos + 2)
        yield _EXTENSION, data[pos + 1], pos, end
        pos = end


def _clean(data: bytes) -> Outcome:
    _screen(data)
    header_end = 13 + _colour_table_size(data[10])
    kept = [data[:header_end]]
    kinds: set[str] = set()
    frames = 0
    control = b""  # the graphic control extension for the next image
    for block, label, start, end in _blocks(data):
        if block == _TRAILER:
            if data[start + 1 :].strip(b"\x00"):
                kinds.add(labels.TRAILER)
        elif block == _IMAGE:
            kept += [control, data[start:end]]
            control = b""
            frames += 1
        elif label == _GRAPHIC_CONTROL:
            control = _graphic_control(data[start + 2 : end])
        elif label == _APPLICATION:
            kept.append(_application(data[start + 2 : end], kinds))
        elif label in (_COMMENT, _PLAIN_TEXT):
            kinds.add(labels.DESCRIPTION)
            if label == _PLAIN_TEXT:
                control = b""  # it was for the text, which goes, not for the next image
        else:
            kinds.add(labels.PRIVATE)
    if not frames:
        raise Refused(Reason.MALFORMED, format="GIF")
    kept.append(bytes((_TRAILER,)))
    return photo(b"".join(kept), "image/gif", "gif", kinds)


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
