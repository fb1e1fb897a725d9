"""Reading (never writing) EXIF: which kinds of identifying data a block holds, and its orientation.

EXIF is a TIFF structure: a chain of IFDs (image file directories) of 12-byte entries, some of which
point to further IFDs (Exif, GPS, Interop, SubIFDs). A hostile file can make offsets point anywhere,
loop, or claim millions of entries, so every read is bounds-checked and the walk is capped.
We only need tag numbers and one small value (the orientation): values are never returned.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from intake.cleaning import labels

ORIENTATION_TAG = 0x0112
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD, _SUB_IFDS = 0x8769, 0x8825, 0xA005, 0x014A
_POINTERS = {_EXIF_IFD: "Exif", _GPS_IFD: "GPS", _INTEROP_IFD: "Interop"}
_SHORT = 3
_MAX_IFDS = 64
_MAX_ENTRIES = 4096
#: Entries read from one block, over all its IFDs: a real camera block has a few hundred.
_MAX_VISITS = 8192

_TAG_KINDS: dict[int, str] = {
    0x010F: labels.CAMERA,  # Make
    0x0110: labels.CAMERA,  # Model
    0xC614: labels.CAMERA,  # UniqueCameraModel
    0xC615: labels.CAMERA,  # LocalizedCameraModel
    0x0131: labels.SOFTWARE,  # Software
    0x000B: labels.SOFTWARE,  # ProcessingSoftware
    0x013C: labels.SOFTWARE,  # HostComputer
    0xA439: labels.SOFTWARE,  # CameraFirmware
    0xA43A: labels.SOFTWARE,  # RAWDevelopingSoftware
    0xA43B: labels.SOFTWARE,  # ImageEditingSoftware
    0xA43C: labels.SOFTWARE,  # MetadataEditingSoftware
    0x013B: labels.OWNER,  # Artist
    0x8298: labels.OWNER,  # Copyright
    0x9C9D: labels.OWNER,  # XPAuthor
    0xA430: labels.OWNER,  # CameraOwnerName
    0xA437: labels.OWNER,  # Photographer
    0xA438: labels.OWNER,  # ImageEditor
    0xA431: labels.SERIAL,  # BodySerialNumber
    0xA435: labels.SERIAL,  # LensSerialNumber
    0xC62F: labels.SERIAL,  # CameraSerialNumber (DNG)
    0xA432: labels.LENS,  # LensSpecification
    0xA433: labels.LENS,  # LensMake
    0xA434: labels.LENS,  # LensModel
    0x927C: labels.MAKER_NOTES,  # MakerNote
    0xC4A5: labels.MAKER_NOTES,  # PrintIM
    0xC634: labels.MAKER_NOTES,  # DNGPrivateData
    0xA420: labels.UNIQUE_ID,  # ImageUniqueID
    0x0132: labels.DATES,  # DateTime
    0x9003: labels.DATES,  # DateTimeOriginal
    0x9004: labels.DATES,  # DateTimeDigitized
    0x9010: labels.DATES,  # OffsetTime
    0x9011: labels.DATES,  # OffsetTimeOriginal
    0x9012: labels.DATES,  # OffsetTimeDigitized
    0x9290: labels.DATES,  # SubSecTime
    0x9291: labels.DATES,  # SubSecTimeOriginal
    0x9292: labels.DATES,  # SubSecTimeDigitized
    0x010E: labels.DESCRIPTION,  # ImageDescription
    0x9286: labels.DESCRIPTION,  # UserComment
    0x9C9B: labels.DESCRIPTION,  # XPTitle
    0x9C9C: labels.DESCRIPTION,  # XPComment
    0x9C9E: labels.DESCRIPTION,  # XPKeywords
    0x9C9F: labels.DESCRIPTION,  # XPSubject
    0xA436: labels.DESCRIPTION,  # ImageTitle
    0x02BC: labels.XMP,  # XMP packet inside a TIFF
    0x83BB: labels.IPTC,  # IPTC-NAA
    0x8649: labels.IPTC,  # Photoshop image resources
    0x8773: labels.COLOUR_PROFILE,  # ICC profile inside a TIFF
    0x830E: labels.GPS,  # GeoTIFF ModelPixelScale
    0x8482: labels.GPS,  # GeoTIFF ModelTiepoint
    0x85D8: labels.GPS,  # GeoTIFF ModelTransformation
    0x87AF: labels.GPS,  # GeoTIFF GeoKeyDirectory
    0x87B0: labels.GPS,  # GeoTIFF GeoDoubleParams
    0x87B1: labels.GPS,  # GeoTIFF GeoAsciiParams
}

#: Tags that describe how the pixels of a TIFF image are laid out: not metadata in themselves.
STRUCTURAL_TAGS = frozenset(
    {
        0x00FE,
        0x00FF,
        0x0100,
        0x0101,
        0x0102,
        0x0103,
        0x0106,
        0x0107,
        0x010A,
        0x0111,
        0x0112,
        0x0115,
        0x0116,
        0x0117,
        0x011A,
        0x011B,
        0x011C,
        0x0128,
        0x012D,
        0x013D,
        0x013E,
        0x013F,
        0x0140,
        0x0142,
        0x0143,
        0x0144,
        0x0145,
        0x014C,
        0x0152,
        0x0153,
        0x0154,
        0x0155,
        0x015B,
        0x0211,
        0x0212,
        0x0213,
        0x0214,
        0x0129,
        0x0201,
        0x0202,
        0xA001,
        0xA002,
        0xA003,
        0x9000,
        0xA000,
        0x9101,
    }
)


@dataclass
class ExifFindings:
    kinds: set[str] = field(default_factory=set)
    orientation: int = 1


def read(block: bytes) -> ExifFindings:
    """What an EXIF block holds. ``block`` may start with the ``Exif\\0\\0`` header or the TIFF one.

    A block we cannot parse is still reported (as camera settings): it is removed either way.
    """
    findings = ExifFindings()
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    try:
        _Walker(block, findings).walk()
    except (struct.error, ValueError):
        findings.kinds.add(labels.CAMERA_SETTINGS)
    if not findings.kinds and len(block) > 8 and findings.orientation == 1:
        # Present but empty of anything we name: still EXIF, still removed.
        findings.kinds.add(labels.CAMERA_SETTINGS)
    return findings


def read_tiff_file(data: bytes) -> ExifFindings:
    """The identifying tags of a TIFF *file*, whose layout tags are not metadata."""
    findings = ExifFindings()
    try:
        _Walker(data, findings, structural_ok=True).walk()
    except (struct.error, ValueError):
        pass
    return findings


class _Walker:
    """Visits IFDs breadth-first from an explicit queue (no recursion for a hostile file to exhaust),
    each offset once, at most ``_MAX_IFDS`` of them and ``_MAX_VISITS`` entries in all: IFDs may
    overlap, so the number of entries is not bounded by the size of the block."""

    def __init__(self, data: bytes, findings: ExifFindings, structural_ok: bool = False):
        self.data = data
        self.findings = findings
        self.structural_ok = structural_ok
        self.seen: set[int] = set()
        self.visits = 0
        if data[:4] == b"II*\x00":
            self.order = "<"
        elif data[:4] == b"MM\x00*":
            self.order = ">"
        else:
            raise ValueError("no TIFF header")

    def u16(self, offset: int) -> int:
        return struct.unpack_from(self.order + "H", self.data, offset)[0]

    def u32(self, offset: int) -> int:
        return struct.unpack_from(self.order + "I", self.data, offset)[0]

    def walk(self) -> None:
        queue: deque[tuple[int, str]] = deque([(self.u32(4), "IFD0")])
        while queue:
            offset, kind = queue.popleft()
            if not offset or offset in self.seen or offset + 2 > len(self.data):
                continue
            if len(self.seen) >= _MAX_IFDS:
                raise ValueError("too many IFDs")
            self.seen.add(offset)
            queue.extend(self.ifd(offset, kind))

    def ifd(self, offset: int, kind: str) -> list[tuple[int, str]]:
        """Read one IFD; return the IFDs it points to."""
        count = self.u16(offset)
        if count > _MAX_ENTRIES or offset + 2 + 12 * count > len(self.data):
            raise ValueError("IFD out of bounds")
        self.visits += count
        if self.visits > _MAX_VISITS:
            raise ValueError("too many entries")
        if kind == "GPS" and count:
            self.findings.kinds.add(labels.GPS)
        if kind == "IFD1" and not self.structural_ok and count:
            self.findings.kinds.add(labels.THUMBNAIL)
        found = []
        for i in range(count):
            entry = offset + 2 + 12 * i
            tag, type_, n = struct.unpack_from(self.order + "HHI", self.data, entry)
            pointed = self.entry(kind, tag, type_, n, entry + 8)
            if pointed:
                found.append(pointed)
        end = offset + 2 + 12 * count
        if kind in ("IFD0", "IFD1") and end + 4 <= len(self.data):
            found.append((self.u32(end), "IFD1"))
        return found

    def entry(self, kind: str, tag: int, type_: int, n: int, value_at: int) -> tuple[int, str] | None:
        if tag == ORIENTATION_TAG and kind == "IFD0":
            # Only a single SHORT counts, as in browsers and ExifTool; anything else means "as stored".
            value = self.u16(value_at) if (type_, n) == (_SHORT, 1) else 1
            self.findings.orientation = value if 1 <= value <= 8 else 1
            return None
        if tag in _POINTERS:
            return self.u32(value_at), _POINTERS[tag]
        if tag == _SUB_IFDS:
            self.findings.kinds.add(labels.THUMBNAIL)
            return None
        if kind in ("GPS", "Interop"):
            return None
        known = _TAG_KINDS.get(tag)
        if known:
            self.findings.kinds.add(known)
        elif tag not in STRUCTURAL_TAGS:
            self.findings.kinds.add(labels.CAMERA_SETTINGS)
        return None
