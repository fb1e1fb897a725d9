"""JPEG (and MPO): rebuild the file from the segments needed to decode it; keep the scans bit for bit.

A JPEG is a list of marker segments (APPn for application data, COM for comments, DQT/DHT/SOF/SOS
and friends for the image) followed by entropy-coded scan data, ended by EOI. Everything identifying
lives in APPn and COM segments or after EOI (MPO secondary images, motion-photo videos, appended
files). We copy only the decoding segments and the scan data, so the evidence keeps its exact
quality and cleaning costs about a copy. Two things are written back, in a form of our own: an
EXIF block holding the Orientation tag alone (so a turned photo shows the right way up without
touching its pixels), and a colour profile that is byte for byte a standard one (icc.py). Pixels are
rewritten only to apply any other colour profile that is not sRGB, or for a coding browsers do not
decode (arithmetic, 12-bit, lossless, hierarchical). See docs/decisions/0007.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import Image, JpegImagePlugin

from intake.cleaning import exif, icc, labels, orientation, raster
from intake.cleaning.contract import Declared, Outcome, contents, photo
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

#: Encoders write one scan, or about ten for a progressive image. Each scan is decoded in turn, so
#: tens of thousands of tiny ones take minutes, in the worker and in a reviewer's browser alike.
#: Counted while the segments are walked (finding where a scan ends is the walk), never decoded.
MAX_SCANS = 500

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Huffman-coded baseline, extended and progressive: what every browser decodes.
_BROWSER_SOF = frozenset({0xC0, 0xC1, 0xC2})
#: Segments needed to decode: DHT, DAC, DQT, DNL, DRI, EXP, and the frame headers.
_DECODING = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDF}) | _SOF
_NOT_FOR_HUFFMAN = frozenset({0xCC, 0xDC, 0xDF})  # DAC, DNL, EXP
_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
# In scan data a 0xFF byte is followed by 0x00 (stuffing), a restart marker, or a fill 0xFF;
# anything else is the next marker.
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JFIF_CANONICAL = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
#: Profile bytes in one APP2 segment: 65535, less the length field and the 14-byte ICC header.
_ICC_PIECE = 65519


class _Jpeg:
    name = "JPEG"
    kind = "photo"
    media_types = frozenset({"image/jpeg"})
    extensions = {"image/jpeg": "jpg"}

    def recognise(self, head: bytes) -> bool:
        return head.startswith(b"\xff\xd8\xff")

    def declare(self, source: BinaryIO) -> Declared:
        parsed = _parse(contents(source), headers_only=True)
        return Declared(width=parsed.width, height=parsed.height, decoded=_must_reencode(parsed))

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        return _clean(contents(source))

    def verify(self, outcome: Outcome) -> None:
        # The scans are not decoded here: our parse already proved them complete up to EOI, and a
        # full decode (even at 1/8 scale) costs ten times the rest of the cleaning. Damage inside
        # complete scan data shows in a browser exactly as it did in the original, which is the
        # evidence as received.
        raster.verify(outcome, decode=False)


FORMAT = _Jpeg()


@dataclass
class _Parsed:
    segments: list[bytes] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    orientation: int = 1
    exif_seen: bool = False
    icc_chunks: dict[int, bytes] = field(default_factory=dict)
    adobe_transform: int | None = None
    jfif: bool = False
    sof: int | None = None
    width: int = 0
    height: int = 0
    scans: int = 0


def _clean(data: bytes) -> Outcome:
    parsed = _parse(data)
    profile = _profile(parsed)
    if _must_reencode(parsed):
        stripped = _assemble(parsed)
        parsed.segments.clear()  # now a second copy of the file
        kinds = set(parsed.kinds)
        if profile:
            kinds.add(labels.COLOUR_PROFILE)
        if parsed.orientation != 1:
            kinds.add(labels.ORIENTATION)
        result = _reencode(stripped, parsed.orientation, profile if icc.must_apply(profile) else b"")
        return photo(result, "image/jpeg", "jpg", kinds)
    kept_profile = profile if icc.is_standard(profile) else b""
    result = _assemble(parsed, parsed.orientation, kept_profile)
    kinds = set(parsed.kinds)
    if profile and not kept_profile:
        kinds.add(labels.COLOUR_PROFILE)
    return photo(result, "image/jpeg", "jpg", kinds)


def _profile(parsed: _Parsed) -> bytes:
    return b"".join(chunk for _, chunk in sorted(parsed.icc_chunks.items()))


def _must_reencode(parsed: _Parsed) -> bool:
    """True when the pixels must be decoded and written anew: a coding browsers do not decode, or a
    colour profile to apply that we do not keep."""
    profile = _profile(parsed)
    return parsed.sof not in _BROWSER_SOF or (icc.must_apply(profile) and not icc.is_standard(profile))


def _parse(data: bytes, headers_only: bool = False) -> _Parsed:
    """The segments of ``data``; with ``headers_only``, up to the first scan only."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise Refused(Reason.MALFORMED, format="JPEG")
    parsed = _Parsed()
    pos, end = 2, len(data)
    while True:
        if pos >= end:
            raise Refused(Reason.TRUNCATED, format="JPEG")
        if data[pos] != 0xFF:
            # Stray bytes between segments: decoders skip them with a warning, and so do we.
            pos = data.find(b"\xff", pos)
            if pos < 0:
                raise Refused(Reason.TRUNCATED, format="JPEG")
            continue
        while pos < end and data[pos] == 0xFF:
            pos += 1
        if pos >= end:
            raise Refused(Reason.TRUNCATED, format="JPEG")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            break
        if marker == 0xD8:
            raise Refused(Reason.MALFORMED, format="JPEG")
        if 0xD0 <= marker <= 0xD7 or marker in (0x00, 0x01):
            continue
        if pos + 2 > end:
            raise Refused(Reason.TRUNCATED, format="JPEG")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            raise Refused(Reason.TRUNCATED, format="JPEG")
        segment = b"\xff" + bytes((marker,)) + data[pos : pos + length]
        payload = data[pos + 2 : pos + length]
        pos += length
        if marker == _SOS:
            if parsed.sof is None:
                raise Refused(Reason.MALFORMED, format="JPEG")
            if headers_only:
                return parsed
            found = _MARKER_IN_SCAN.search(data, pos)
            if found is None:
                raise Refused(Reason.TRUNCATED, format="JPEG")
            parsed.segments.append(segment + data[pos : found.start()])
            parsed.scans += 1
            if parsed.scans > MAX_SCANS:
                raise Refused(Reason.TOO_MANY_SCANS, limit=MAX_SCANS)
            pos = found.start()
        elif marker in _DECODING:
            if marker in _SOF:
                _read_frame_header(parsed, marker, payload)
            parsed.segments.append(segment)
        elif 0xE0 <= marker <= 0xEF:
            _read_application_segment(parsed, marker, payload)
        elif marker == _COM:
            parsed.kinds.add(labels.DESCRIPTION)
        else:
            parsed.kinds.add(labels.PRIVATE)
    if not parsed.scans:
        raise Refused(Reason.MALFORMED, format="JPEG")
    if data[pos:].strip(b"\x00"):
        parsed.kinds.add(labels.TRAILER)
    return parsed


def _read_frame_header(parsed: _Parsed, marker: int, payload: bytes) -> None:
    if parsed.sof is not None or len(payload) < 6:
        raise Refused(Reason.MALFORMED, format="JPEG")
    parsed.sof = marker
    parsed.height = int.from_bytes(payload[1:3], "big")
    parsed.width = int.from_bytes(payload[3:5], "big")


def _read_application_segment(parsed: _Parsed, marker: int, payload: bytes) -> None:
    kinds = parsed.kinds
    if marker == 0xE0 and payload.startswith(b"JFIF\x00"):
        parsed.jfif = True
        if len(payload) >= 14 and payload[12] and payload[13]:
            kinds.add(labels.THUMBNAIL)
    elif marker == 0xE0 and payload.startswith(b"JFXX\x00"):
        kinds.add(labels.THUMBNAIL)
    elif marker == 0xE1 and payload.startswith(b"Exif\x00"):
        if parsed.exif_seen:
            # Browsers read the first Exif segment only; reading every one would let a file of many
            # small crafted segments cost minutes.
            kinds.add(labels.CAMERA_SETTINGS)
            return
        parsed.exif_seen = True
        found = exif.read(payload[6:])
        kinds |= found.kinds
        parsed.orientation = found.orientation
    elif marker == 0xE1 and payload.startswith(b"http://ns.adobe.com/"):
        kinds.add(labels.XMP)
        _read_xmp_hints(kinds, payload)
    elif marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00") and len(payload) > 14:
        parsed.icc_chunks.setdefault(payload[12], payload[14:])
    elif marker == 0xE2 and payload.startswith(b"MPF\x00"):
        kinds.add(labels.SECONDARY_IMAGES)
    elif marker == 0xED:
        kinds.add(labels.IPTC)
    elif marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
        parsed.adobe_transform = payload[11]
    elif marker == 0xEB and b"c2pa" in payload[:64]:
        kinds.add(labels.CONTENT_CREDENTIALS)
    else:
        kinds.add(labels.PRIVATE)


def _read_xmp_hints(kinds: set[str], payload: bytes) -> None:
    """Name what phones hide in XMP: the packet goes either way, but the reviewer learns why."""
    if b"hdrgm:" in payload or b"HDRGainMap" in payload:
        kinds.add(labels.GAIN_MAP)
    if b"GDepth:" in payload or b"DepthMap" in payload:
        kinds.add(labels.DEPTH_MAP)
    if b"MotionPhoto" in payload or b"MicroVideo" in payload:
        kinds.add(labels.SECONDARY_IMAGES)


def _assemble(parsed: _Parsed, turn: int = 1, profile: bytes = b"") -> bytes:
    """The file from its decoding segments; with ``turn`` an Orientation tag, and ``profile`` written in."""
    parts = [b"\xff\xd8"]
    if parsed.jfif:
        parts.append(_JFIF_CANONICAL)
    if turn != 1:
        parts.append(_orientation_segment(turn))
    if profile:
        parts.extend(_profile_segments(profile))
    if parsed.adobe_transform is not None:
        # The transform flag tells the decoder whether the channels are YCbCr/YCCK: keep only it.
        adobe = b"Adobe\x00\x64\x00\x00\x00\x00" + bytes((parsed.adobe_transform,))
        parts.append(b"\xff\xee" + (len(adobe) + 2).to_bytes(2, "big") + adobe)
    segments = parsed.segments
    if parsed.sof in _BROWSER_SOF:
        # Arithmetic-coding tables, a DNL line count and hierarchical expansion mean nothing to a
        # Huffman-coded frame (decoders skip or choke on them), so they could only carry data.
        segments = [segment for segment in segments if segment[1] not in _NOT_FOR_HUFFMAN]
        if len(segments) < len(parsed.segments):
            parsed.kinds.add(labels.PRIVATE)
    parts.extend(segments)
    parts.append(b"\xff\xd9")
    return b"".join(parts)


def _orientation_segment(turn: int) -> bytes:
    """An EXIF block holding only the Orientation tag, always in the same byte order and layout, so
    that nothing of the original block (not even the phone maker's byte order) shows through."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", exif.ORIENTATION_TAG, 3, 1, turn, 0) + bytes(4)
    payload = b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _profile_segments(profile: bytes) -> list[bytes]:
    pieces = [profile[i : i + _ICC_PIECE] for i in range(0, len(profile), _ICC_PIECE)]
    segments = []
    for number, piece in enumerate(pieces, start=1):
        payload = b"ICC_PROFILE\x00" + bytes((number, len(pieces))) + piece
        segments.append(b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload)
    return segments


def _reencode(stripped: bytes, turn: int, profile: bytes) -> bytes:
    image = raster.open_image(stripped, "JPEG")
    if not isinstance(image, JpegImagePlugin.JpegImageFile):
        raise Refused(Reason.MALFORMED, format="JPEG")
    qtables: dict[int, list[int]] | None = image.quantization
    subsampling = JpegImagePlugin.get_sampling(image)
    raster.load(image)
    pixels: Image.Image = image
    if profile:
        pixels = icc.to_srgb(pixels, profile)
    pixels = orientation.apply(pixels, turn)
    if pixels.mode not in ("L", "RGB", "CMYK"):
        qtables, subsampling = None, -1
    return raster.encode_jpeg(pixels, qtables=qtables, subsampling=subsampling)
