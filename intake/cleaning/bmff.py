"""A read-only look into HEIF/AVIF containers (ISO base media file format), for the report only.

HEIC and AVIF files are re-encoded from the primary image's pixels, so nothing from the container
survives anyway; this walk only names what was there: Exif and XMP items (phones add secondary
Exif items that ExifTool's own writer misses), thumbnails, depth maps, HDR gain maps, other images,
and whether the primary image was stored turned (irot/imir), which the decoder applies.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from intake.cleaning import labels

_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"iinf": None, b"iref": 4}
_IMAGE_ITEMS = frozenset({b"hvc1", b"av01", b"jpeg", b"grid", b"iden", b"iovl", b"unci"})
_MAX_BOXES = 10_000


@dataclass
class Inventory:
    brands: set[bytes] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    turned: bool = False


def brands(data: bytes) -> set[bytes]:
    size = int.from_bytes(data[:4], "big")
    if data[4:8] != b"ftyp" or not 16 <= size <= min(len(data), 4096):
        return set()
    found = {data[8:12]}
    found.update(data[i : i + 4] for i in range(16, size - 3, 4))
    return found


def inventory(data: bytes) -> Inventory:
    found = Inventory(brands=brands(data))
    images = 0
    try:
        for kind, body in _walk(data, 0, len(data), depth=0):
            if kind == b"infe":
                item_type = _item_type(body)
                if item_type == b"Exif":
                    found.kinds.add(labels.CAMERA_SETTINGS)
                elif item_type == b"mime" and b"xmp" in body.lower():
                    found.kinds.add(labels.XMP)
                elif item_type == b"tmap":
                    found.kinds.add(labels.GAIN_MAP)
                elif item_type in _IMAGE_ITEMS:
                    images += 1
            elif kind == b"auxC":
                urn = body[4:].lower()
                found.kinds.add(
                    labels.DEPTH_MAP
                    if b"depth" in urn
                    else labels.GAIN_MAP
                    if b"gainmap" in urn
                    else labels.SECONDARY_IMAGES
                )
            elif kind == b"thmb":
                found.kinds.add(labels.THUMBNAIL)
            elif kind == b"irot" and body[:1] and body[0] & 3:
                found.turned = True
            elif kind == b"imir":
                found.turned = True
    except (struct.error, ValueError, IndexError):
        pass
    if images > 1 and not found.kinds & {labels.THUMBNAIL, labels.DEPTH_MAP, labels.GAIN_MAP}:
        found.kinds.add(labels.SECONDARY_IMAGES)
    return found


def _walk(data: bytes, start: int, end: int, depth: int) -> Iterator[tuple[bytes, bytes]]:
    pos, count = start, 0
    while pos + 8 <= end and count < _MAX_BOXES:
        count += 1
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        body = data[pos + header : pos + size]
        yield kind, body
        if depth < 6 and kind in _CONTAINERS:
            skip = _CONTAINERS[kind]
            if kind == b"iinf":
                skip = 4 + (2 if body[:1] == b"\x00" else 4)
            elif kind == b"iref":
                yield from _references(body)
                pos += size
                continue
            assert skip is not None  # only iinf's header has no fixed size, and it is measured above
            yield from _walk(data, pos + header + skip, pos + size, depth + 1)
        pos += size


def _references(body: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 4
    while pos + 8 <= len(body):
        size, kind = struct.unpack_from(">I4s", body, pos)
        if size < 8:
            return
        yield kind, body[pos + 8 : pos + size]
        pos += size


def _item_type(infe: bytes) -> bytes:
    version = infe[0]
    if version < 2:
        return b""
    offset = 4 + (2 if version == 2 else 4) + 2
    return infe[offset : offset + 4]
