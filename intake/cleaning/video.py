"""Videos: the container rebuilt around the original picture and sound, copied packet for packet.

A phone writes more about its owner into a video than into a photo: the place (QuickTime ``©xyz`` and
``com.apple.quicktime.location.ISO6709``, Android's ``location``), make, model and software, the times in
the ``mvhd``/``tkhd``/``mdhd`` headers, XMP and ``uuid`` boxes, vendors' trailers after the last box,
telemetry and subtitle tracks carrying coordinates, cover art. None of it is edited out here: a new
container is written by FFmpeg (through PyAV, docs/decisions/0006) holding one video stream and the audio
streams, their packets copied byte for byte, with no metadata, header times of zero (``bitexact``) and
nothing else. The display rotation travels with the video stream's parameters, so the clip plays the
right way up. Nothing is re-encoded: every frame stays the evidence it was.

Two families are accepted, each recognised by its own signature:

- ISO base media files (MP4, MOV, 3GP), whose boxes are walked here before FFmpeg sees the file: the
  track count, the samples each track declares and the duration come from the headers, and the pipeline
  refuses absurd ones before anything is parsed further (api.py, guard.py).
- Matroska and WebM, whose EBML header, segment information and track list are read here the same way.

Plaintext never touches a disk: the worker decrypts the upload into a memory-backed file (``memfile``),
FFmpeg reads it there by its ``/proc/self/fd`` path, and writes the clean file into another one.
"""

from __future__ import annotations

import array
import bisect
import io
import os
import struct
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

import av

from intake.cleaning import labels
from intake.cleaning.contract import Declared, Outcome
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

#: Codecs whose packets are copied. Anything else is refused: we keep only what we know players read.
VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "h263"})
AUDIO_CODECS = frozenset(
    {"aac", "mp3", "opus", "vorbis", "flac", "alac", "amr_nb", "amr_wb", "ac3", "eac3", "mp2"}
    # Uncompressed sound, as cameras and recorders write it.
    | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_s32be", "pcm_f32le", "pcm_f32be"}
    | {"pcm_u8", "pcm_alaw", "pcm_mulaw"}
)
#: What every current browser plays, in an MP4 or WebM container.
BROWSER_VIDEO_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "vorbis", "flac"})

#: The moov box holds the sample tables: 30 minutes at 240 frames a second need a few MB.
MAX_MOOV_BYTES = 64 * 1024 * 1024
MAX_TOP_LEVEL_BOXES = 1000
MAX_BOXES = 100_000
#: Entries of one edit list (a trim is one or two).
MAX_EDITS = 100
#: Samples whose sizes are summed from a table; the pipeline refuses more than its own limit anyway.
MAX_SIZED_SAMPLES = 20_000_000
#: Matroska's header elements before the first cluster (track list, tags, attachments' headers).
MAX_EBML_HEADER_BYTES = 16 * 1024 * 1024
#: Elements from the first cluster on: a block of picture or sound each (150,000 to 500,000 in 30 minutes).
MAX_MATROSKA_ELEMENTS = 1_000_000
POSTER_LONG_SIDE = 1280
#: Packets read to find the first picture for the poster.
POSTER_PACKETS = 600


# --- Memory-backed files --------------------------------------------------------------------------


def memfile(name: str) -> BinaryIO:
    """A new, empty, seekable file that lives in memory only (memfd): never on a disk, gone when closed.

    Its pages can still be written to swap by the kernel; docs/deployment.md asks for none, or encrypted."""
    descriptor = os.memfd_create(name, os.MFD_CLOEXEC)
    return open(descriptor, "w+b")  # noqa: SIM115 - the caller owns and closes it


def _path(file: BinaryIO) -> str:
    """A path FFmpeg can open: a file of this process, by its descriptor."""
    return f"/proc/self/fd/{file.fileno()}"


def _as_file(source: BinaryIO) -> BinaryIO:
    """``source`` itself if FFmpeg can open it by its descriptor (the worker's memfd, a file on disk),
    else a memory-backed copy of it (for a BytesIO), which goes when it is no longer referenced."""
    try:
        source.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        copy = memfile("upload")
        source.seek(0)
        while chunk := source.read(1024 * 1024):
            copy.write(chunk)
        copy.flush()
        return copy
    if source.writable():
        source.flush()  # what Python still buffers must be in the file FFmpeg reads
    return source


# --- ISO base media files: MP4, MOV, 3GP ----------------------------------------------------------

_QUICKTIME_BRANDS = frozenset({b"qt  "})
_3GP_BRANDS = frozenset({b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gp8", b"3gp9", b"3gg6", b"3g2a", b"3g2b", b"3g2c"})
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"hvc1", b"dash", b"MSNV", b"M4V "}
)
_VIDEO_BRANDS = _QUICKTIME_BRANDS | _3GP_BRANDS | _MP4_BRANDS
#: Brands of still-image files in the same container (intake.cleaning.heif takes those).
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"mif2", b"msf1", b"avif", b"avis", b"avci"})
#: Old QuickTime files may start without ``ftyp``.
_QUICKTIME_FIRST_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip"})
_CONTAINER_BOXES = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"})
#: Handler types of tracks that are neither picture nor sound, and the label each is reported under.
_HANDLER_LABELS = {b"text": labels.SUBTITLES, b"sbtl": labels.SUBTITLES, b"subt": labels.SUBTITLES}
_HANDLER_LABELS |= {b"tmcd": labels.TIMECODE, b"meta": labels.TELEMETRY, b"camm": labels.TELEMETRY}
_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
_MAC_EPOCH_OFFSET = 2_082_844_800  # seconds from 1904 to 1970: any non-zero time is a real date


@dataclass
class _Box:
    kind: bytes
    start: int  # of the header
    body: int  # of the payload
    end: int


@dataclass
class _Inventory:
    """What the walk of a file's boxes found: for the limits, and for the report of what was removed."""

    tracks: int = 0
    samples: int = 0
    duration_seconds: float = 0.0
    width: int = 0
    height: int = 0
    removed: set[str] = field(default_factory=set)
    sample_bytes: int = 0  # what the sample tables say the media data holds
    media_bytes: int = 0  # what the media data boxes hold
    media: list[tuple[int, int]] = field(default_factory=list)  # where each media data box's payload lies
    chunk_offsets: array.array = field(default_factory=lambda: array.array("Q"))  # where each chunk of media lies


def _boxes(file: BinaryIO, start: int, end: int) -> Iterator[_Box]:
    position = start
    while position + 8 <= end:
        file.seek(position)
        header = file.read(16)
        if len(header) < 8:
            raise Refused(Reason.TRUNCATED, format="MP4")
        size, kind = struct.unpack(">I4s", header[:8])
        body = position + 8
        if size == 1:
            if len(header) < 16:
                raise Refused(Reason.TRUNCATED, format="MP4")
            size = struct.unpack(">Q", header[8:16])[0]
            body = position + 16
        elif size == 0:  # to the end of the file: allowed for the last box
            size = end - position
        if size < body - position:
            raise Refused(Reason.MALFORMED, format="MP4")
        if position + size > end:
            raise Refused(Reason.TRUNCATED, format="MP4")
        yield _Box(kind, position, body, position + size)
        position += size
    if position != end and end - position < 8 and position < end:
        # A few stray bytes after the last box: a trailer, reported by the caller.
        return


def _bmff_brands(head: bytes) -> set[bytes]:
    size = int.from_bytes(head[:4], "big")
    if head[4:8] != b"ftyp" or not 16 <= size <= min(len(head), 4096):
        return set()
    return {head[8:12]} | {head[i : i + 4] for i in range(16, size - 3, 4)}


def _bmff_inventory(file: BinaryIO, size: int) -> _Inventory:
    found = _Inventory()
    moov: _Box | None = None
    media_bytes = 0
    last_end = 0
    fragmented = False
    walk = _boxes(file, 0, size)
    for count in range(MAX_TOP_LEVEL_BOXES + 1):
        if count == MAX_TOP_LEVEL_BOXES:
            raise Refused(Reason.MALFORMED, format="MP4")
        try:
            box = next(walk)
        except StopIteration:
            break
        except Refused:
            if moov is None or not media_bytes or fragmented:
                raise  # a fragmented file runs fragment after fragment: one cut off is not a trailer
            # What follows a whole movie and its media but is no box: a vendor's trailer (Samsung's
            # SEFT, Google's motion-photo data). It is not copied, and reported.
            break
        last_end = box.end
        if box.kind == b"moov":
            if moov is not None:
                raise Refused(Reason.MALFORMED, format="MP4")
            moov = box
        elif box.kind == b"mdat":
            media_bytes += box.end - box.body
            found.media.append((box.body, box.end))
        elif box.kind == b"moof":
            fragmented = True
            found.samples += _fragment_samples(file, box)
        elif box.kind == b"uuid":
            found.removed.add(_uuid_label(file, box))
        elif box.kind == b"meta":
            found.removed.add(labels.DESCRIPTION)
        elif box.kind not in (b"ftyp", b"free", b"skip", b"wide", b"pnot", b"prfl", b"moof", b"mfra", b"sidx", b"styp"):
            found.removed.add(labels.PRIVATE)
    if size - last_end > 0:
        found.removed.add(labels.TRAILER)
    if moov is None:
        raise Refused(Reason.TRUNCATED, format="MP4")
    if media_bytes == 0:
        raise Refused(Reason.MALFORMED, format="MP4")
    if moov.end - moov.body > MAX_MOOV_BYTES:
        raise Refused(Reason.MALFORMED, format="MP4")
    file.seek(moov.body)
    body = file.read(moov.end - moov.body)
    _walk_moov(io.BytesIO(body), found)
    found.media_bytes = media_bytes
    return found


def _fragment_samples(file: BinaryIO, moof: _Box) -> int:
    """The samples a movie fragment's runs (``traf`` > ``trun``) declare, which the movie's own tables
    do not count: a fragment of 1 MB can declare thirty million."""
    if moof.end - moof.body > MAX_MOOV_BYTES:
        raise Refused(Reason.MALFORMED, format="MP4")
    file.seek(moof.body)
    fragment = io.BytesIO(file.read(moof.end - moof.body))
    samples = 0
    for traf in _boxes(fragment, 0, moof.end - moof.body):
        if traf.kind != b"traf":
            continue
        for run in _boxes(fragment, traf.body, traf.end):
            if run.kind == b"trun":
                fragment.seek(run.body + 4)
                samples += int.from_bytes(fragment.read(4), "big")
    return samples


def _all_in_media(offsets: array.array, media: list[tuple[int, int]]) -> bool:
    """Whether every chunk offset lies inside a media data box's payload."""
    ranges = sorted(media)
    starts = [start for start, _ in ranges]
    for offset in offsets:
        index = bisect.bisect_right(starts, offset) - 1
        if index < 0 or offset >= ranges[index][1]:
            return False
    return True


def _uuid_label(file: BinaryIO, box: _Box) -> str:
    file.seek(box.body)
    return labels.XMP if file.read(16) == _XMP_UUID else labels.UUID_BOXES


def _walk_moov(moov: io.BytesIO, found: _Inventory) -> None:
    """Tracks, samples and duration from the movie header and each track, and the metadata it holds."""
    boxes = 0
    movie_duration = 0.0

    def walk(start: int, end: int, track: dict) -> None:
        nonlocal boxes, movie_duration
        for box in _boxes(moov, start, end):
            boxes += 1
            if boxes > MAX_BOXES:
                raise Refused(Reason.MALFORMED, format="MP4")
            moov.seek(box.body)
            if box.kind == b"trak":
                found.tracks += 1
                inner: dict = {}
                walk(box.body, box.end, inner)
                if inner.get("chunks", 0) > max(inner.get("samples", 0), 1):
                    raise Refused(Reason.MALFORMED, format="MP4")  # more chunks than samples to put in them
                label = _HANDLER_LABELS.get(inner.get("handler", b""))
                if inner.get("handler") not in (b"vide", b"soun"):
                    found.removed.add(label or labels.TELEMETRY)
                width, height = inner.get("size", (0, 0))
                if inner.get("handler") == b"vide" and width * height > found.width * found.height:
                    found.width, found.height = width, height  # the largest picture, if there are several
                found.duration_seconds = max(found.duration_seconds, inner.get("duration", 0.0))
            elif box.kind in _CONTAINER_BOXES:
                if box.kind == b"udta":
                    _note_user_data(moov, box, found)
                walk(box.body, box.end, track)
            elif box.kind == b"mvhd":
                timescale, duration, dated = _header_times(moov.read(min(box.end - box.body, 32)))
                movie_duration = duration / timescale if timescale else 0.0
                found.removed |= {labels.DATES} if dated else set()
            elif box.kind == b"mdhd":
                timescale, duration, dated = _header_times(moov.read(min(box.end - box.body, 32)))
                track["duration"] = duration / timescale if timescale else 0.0
                track["timescale"] = timescale
                found.removed |= {labels.DATES} if dated else set()
            elif box.kind == b"stts":
                # What the samples' own times add up to, which a player follows whatever the header says.
                ticks = _sample_ticks(moov.read(box.end - box.body))
                if track.get("timescale"):
                    track["duration"] = max(track.get("duration", 0.0), ticks / track["timescale"])
            elif box.kind == b"tkhd":
                payload = moov.read(box.end - box.body)
                _, _, dated = _header_times(payload[:32])
                found.removed |= {labels.DATES} if dated else set()
                if len(payload) >= 8:
                    width, height = struct.unpack(">II", payload[-8:])
                    track["size"] = (width >> 16, height >> 16)
            elif box.kind == b"hdlr":
                track.setdefault("handler", moov.read(12)[8:12])
            elif box.kind == b"stsz":
                track["samples"] = _sample_sizes(moov.read(box.end - box.body), found)
                found.samples += track["samples"]
            elif box.kind == b"elst":
                edits = int.from_bytes(moov.read(8)[4:8], "big")
                if edits > MAX_EDITS:  # cameras write one or two; FFmpeg builds an index entry per edit
                    raise Refused(Reason.MALFORMED, format="MP4")
            elif box.kind in (b"stco", b"co64"):
                track["chunks"] = _chunk_offsets(moov.read(box.end - box.body), box.kind == b"co64", found)
            elif box.kind == b"stz2":
                found.samples += struct.unpack(">I", moov.read(12)[8:12].rjust(4, b"\0"))[0]
            elif box.kind == b"meta":
                found.removed.add(_meta_label(moov, box))
            elif box.kind == b"uuid":
                found.removed.add(_uuid_label(moov, box))
            elif box.kind in (b"chpl", b"chap"):
                found.removed.add(labels.CHAPTERS)

    walk(0, len(moov.getbuffer()), {})
    found.duration_seconds = max(found.duration_seconds, movie_duration)


def _sample_sizes(payload: bytes, found: _Inventory) -> int:
    """The sample count of an ``stsz`` box; adds the bytes its samples take to ``found.sample_bytes``."""
    if len(payload) < 12:
        raise Refused(Reason.MALFORMED, format="MP4")
    size, count = struct.unpack(">II", payload[4:12])
    if size:
        found.sample_bytes += size * count
    elif count <= MAX_SIZED_SAMPLES:
        found.sample_bytes += sum(_table(payload, 12, count, "I"))
    return count


def _sample_ticks(payload: bytes) -> int:
    """The sum of an ``stts`` box's sample durations, in its track's time scale."""
    if len(payload) < 8:
        raise Refused(Reason.MALFORMED, format="MP4")
    count = struct.unpack(">I", payload[4:8])[0]
    if count > MAX_SIZED_SAMPLES:
        raise Refused(Reason.MALFORMED, format="MP4")
    table = _table(payload, 8, 2 * count, "I")  # (sample count, sample duration) pairs
    return sum(table[i] * table[i + 1] for i in range(0, len(table), 2))


def _chunk_offsets(payload: bytes, wide: bool, found: _Inventory) -> int:
    """Where an ``stco`` (32-bit) or ``co64`` (64-bit) box says each chunk of media starts."""
    if len(payload) < 8:
        raise Refused(Reason.MALFORMED, format="MP4")
    count = struct.unpack(">I", payload[4:8])[0]
    if count > MAX_SIZED_SAMPLES:
        raise Refused(Reason.MALFORMED, format="MP4")
    table = _table(payload, 8, count, "Q" if wide else "I")
    found.chunk_offsets.extend(table if wide else array.array("Q", table))
    return count


def _table(payload: bytes, start: int, entries: int, typecode: str) -> array.array:
    """``entries`` big-endian unsigned integers of a box's table (``I``: 32-bit, ``Q``: 64-bit) from
    ``start``, read at once rather than one by one; a table shorter than its count is malformed."""
    table = array.array(typecode)
    table.frombytes(payload[start : start + table.itemsize * entries])
    if len(table) < entries:
        raise Refused(Reason.MALFORMED, format="MP4")
    if sys.byteorder == "little":
        table.byteswap()
    return table


def _header_times(payload: bytes) -> tuple[int, int, bool]:
    """(timescale, duration, whether it carries a date) of an mvhd, mdhd or tkhd header."""
    if len(payload) < 4:
        raise Refused(Reason.MALFORMED, format="MP4")
    version = payload[0]
    if version == 1 and len(payload) >= 32:
        created, modified, timescale, duration = struct.unpack(">QQIQ", payload[4:32])
    elif len(payload) >= 20:
        created, modified, timescale, duration = struct.unpack(">IIII", payload[4:20])
    else:
        raise Refused(Reason.MALFORMED, format="MP4")
    return timescale, duration, bool(created or modified)


def _note_user_data(moov: io.BytesIO, udta: _Box, found: _Inventory) -> None:
    moov.seek(udta.body)
    payload = moov.read(udta.end - udta.body)
    if b"\xa9xyz" in payload or b"loci" in payload:
        found.removed.add(labels.GPS)
    if any(tag in payload for tag in (b"\xa9mak", b"\xa9mod", b"manu", b"modl")):
        found.removed.add(labels.CAMERA)
    if any(tag in payload for tag in (b"\xa9swr", b"\xa9too", b"\xa9enc")):
        found.removed.add(labels.SOFTWARE)
    if b"\xa9day" in payload:
        found.removed.add(labels.DATES)
    if b"XMP_" in payload:
        found.removed.add(labels.XMP)
    if payload.strip(b"\0"):
        found.removed.add(labels.DESCRIPTION)


def _meta_label(moov: io.BytesIO, meta: _Box) -> str:
    moov.seek(meta.body)
    payload = moov.read(meta.end - meta.body)
    if b"location" in payload or b"ISO6709" in payload:
        return labels.GPS
    if b"make" in payload or b"model" in payload:
        return labels.CAMERA
    return labels.DESCRIPTION


# --- Matroska and WebM ----------------------------------------------------------------------------

_EBML = 0x1A45DFA3
_DOCTYPE = 0x4282
_SEGMENT = 0x18538067
_INFO, _TRACKS, _CLUSTER = 0x1549A966, 0x1654AE6B, 0x1F43B675
_TIMESTAMP_SCALE, _DURATION, _DATE = 0x2AD7B1, 0x4489, 0x4461
_TRACK_ENTRY, _TRACK_TYPE, _VIDEO, _PIXEL_WIDTH, _PIXEL_HEIGHT = 0xAE, 0x83, 0xE0, 0xB0, 0xBA
_ATTACHMENTS, _CHAPTERS, _TAGS = 0x1941A469, 0x1043A770, 0x1254C367
_TRACK_TYPE_LABELS = {0x11: labels.SUBTITLES, 0x12: labels.SUBTITLES, 0x20: labels.TELEMETRY}
_UNKNOWN_SIZE = -1


def _vint(file: BinaryIO, keep_marker: bool) -> int | None:
    first = file.read(1)
    if not first:
        return None
    length = 9 - first[0].bit_length()
    if length > 8:
        raise Refused(Reason.MALFORMED, format="Matroska")
    rest = file.read(length - 1)
    if len(rest) < length - 1:
        raise Refused(Reason.TRUNCATED, format="Matroska")
    value = int.from_bytes(first + rest, "big")
    if keep_marker:
        return value
    value &= (1 << (7 * length)) - 1
    return _UNKNOWN_SIZE if value == (1 << (7 * length)) - 1 else value


def _element_at(file: BinaryIO, position: int) -> tuple[int, int, int]:
    """(id, size or _UNKNOWN_SIZE, start of payload) of the element whose header is at ``position``."""
    file.seek(position)
    element = _vint(file, keep_marker=True)
    size = _vint(file, keep_marker=False)
    if element is None or size is None:
        raise Refused(Reason.TRUNCATED, format="Matroska")
    return element, size, file.tell()


def _elements(file: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, start of payload, end of payload) of each element between ``start`` and ``end``."""
    position = start
    while position < end:
        element, size, body = _element_at(file, position)
        stop = end if size == _UNKNOWN_SIZE else body + size
        if stop > end:
            raise Refused(Reason.TRUNCATED, format="Matroska")
        yield element, body, stop
        position = stop


def _unsigned(file: BinaryIO, start: int, end: int) -> int:
    file.seek(start)
    return int.from_bytes(file.read(min(end - start, 8)), "big")


def _matroska_doctype(head: bytes) -> str:
    if int.from_bytes(head[:4], "big") != _EBML:
        return ""
    file = io.BytesIO(head)
    try:
        for element, start, end in _elements(file, 0, len(head)):
            if element == _EBML:
                for inner, body, stop in _elements(file, start, end):
                    if inner == _DOCTYPE:
                        file.seek(body)
                        return file.read(stop - body).rstrip(b"\0").decode("ascii", "replace")
            return ""
    except Refused:
        return ""
    return ""


def _matroska_inventory(file: BinaryIO, size: int) -> _Inventory:
    found = _Inventory()
    scale, duration, segments, clusters = 1_000_000, 0.0, 0, 0
    for element, start, end in _elements(file, 0, size):
        if element != _SEGMENT:
            continue
        segments += 1
        read = 0
        for inner, body, stop in _elements(file, start, end):
            if inner == _CLUSTER:
                clusters += 1
                found.removed |= _matroska_media(file, body, end)  # from inside the first cluster on
                break
            read += stop - body
            if read > MAX_EBML_HEADER_BYTES:
                raise Refused(Reason.MALFORMED, format="Matroska")
            if inner == _INFO:
                for field_id, field_start, field_end in _elements(file, body, stop):
                    if field_id == _TIMESTAMP_SCALE:
                        scale = _unsigned(file, field_start, field_end) or scale
                    elif field_id == _DURATION:
                        file.seek(field_start)
                        raw = file.read(field_end - field_start)
                        duration = struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0] if len(raw) in (4, 8) else 0
                    elif field_id == _DATE:
                        found.removed.add(labels.DATES)
            elif inner == _TRACKS:
                _matroska_tracks(file, body, stop, found)
            elif inner == _ATTACHMENTS:
                found.removed.add(labels.COVER_ART)
            elif inner == _CHAPTERS:
                found.removed.add(labels.CHAPTERS)
            elif inner == _TAGS:
                found.removed.add(labels.DESCRIPTION)
        if end < size:
            found.removed.add(labels.TRAILER)
        break
    if not segments:
        raise Refused(Reason.TRUNCATED, format="Matroska")
    if not clusters:
        raise Refused(Reason.MALFORMED, format="Matroska")
    if duration != duration or duration < 0:  # NaN or negative: nothing a camera writes
        raise Refused(Reason.MALFORMED, format="Matroska")
    found.duration_seconds = duration * scale / 1e9
    return found


def _matroska_media(file: BinaryIO, start: int, end: int) -> set[str]:
    """Walk every element from the first cluster to the end of the segment, headers only.

    A block cut off (a file copied or uploaded only in part) declares more bytes than remain, and is
    refused as truncated: a WebM written as a stream says nothing of its length up front, so this is
    the only way to know. A cluster of unknown size (written live) is walked into: its blocks follow
    its header. Tags, attachments and chapters written after the media are reported."""
    found: set[str] = set()
    position, count = start, 0
    while position < end:
        count += 1
        if count > MAX_MATROSKA_ELEMENTS:
            raise Refused(Reason.MALFORMED, format="Matroska")
        element, size, body = _element_at(file, position)
        if size == _UNKNOWN_SIZE:
            if element != _CLUSTER:
                raise Refused(Reason.MALFORMED, format="Matroska")
            position = body  # into the cluster: its blocks follow
            continue
        if body + size > end:
            raise Refused(Reason.TRUNCATED, format="Matroska")
        if element == _CLUSTER:
            position = body  # into the cluster, so that a block cut off inside it is seen
            continue
        found |= {_ATTACHMENTS: {labels.COVER_ART}, _CHAPTERS: {labels.CHAPTERS}, _TAGS: {labels.DESCRIPTION}}.get(
            element, set()
        )
        position = body + size
    return found


def _matroska_tracks(file: BinaryIO, start: int, end: int, found: _Inventory) -> None:
    for element, body, stop in _elements(file, start, end):
        if element != _TRACK_ENTRY:
            continue
        found.tracks += 1
        if found.tracks > MAX_TOP_LEVEL_BOXES:  # the pipeline's limit is far lower; stop reading here
            return
        kind = 0
        for field_id, field_start, field_end in _elements(file, body, stop):
            if field_id == _TRACK_TYPE:
                kind = _unsigned(file, field_start, field_end)
            elif field_id == _VIDEO:
                size = {_PIXEL_WIDTH: 0, _PIXEL_HEIGHT: 0}
                for pixel_id, pixel_start, pixel_end in _elements(file, field_start, field_end):
                    if pixel_id in size:
                        size[pixel_id] = _unsigned(file, pixel_start, pixel_end)
                if size[_PIXEL_WIDTH] * size[_PIXEL_HEIGHT] > found.width * found.height:
                    found.width, found.height = size[_PIXEL_WIDTH], size[_PIXEL_HEIGHT]
        if kind not in (1, 2):
            found.removed.add(_TRACK_TYPE_LABELS.get(kind, labels.TELEMETRY))


# --- The formats ----------------------------------------------------------------------------------


@dataclass
class _Family:
    """One of the two container families; the output keeps the input's own container format."""

    name: str
    kind: str
    media_types: frozenset[str]
    extensions: Mapping[str, str]

    def recognise(self, head: bytes) -> bool:
        raise NotImplementedError

    def inventory(self, source: BinaryIO) -> _Inventory:
        raise NotImplementedError

    def muxer(self, head: bytes) -> tuple[str, str]:
        """(FFmpeg muxer, media type) of the output."""
        raise NotImplementedError

    def declare(self, source: BinaryIO) -> Declared:
        found = self.inventory(source)
        return Declared(
            width=found.width,
            height=found.height,
            frames=0,
            duration_seconds=found.duration_seconds,
            tracks=found.tracks,
            samples=found.samples,
        )

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        file = _as_file(source)
        file.seek(0)
        head = file.read(8192)
        found = self.inventory(file)
        if found.sample_bytes > found.media_bytes > 0:
            # The sample tables name more bytes than the media data holds: the file was cut off. (Told
            # here, after the pipeline held the declared numbers against its limits.)
            raise Refused(Reason.TRUNCATED, format=self.name)
        if not _all_in_media(found.chunk_offsets, found.media):
            # Media said to lie past the end of the file, or in the headers: no camera writes that.
            raise Refused(Reason.MALFORMED, format=self.name)
        muxer, media_type = self.muxer(head)
        return _remux(file, muxer, media_type, self.extensions[media_type], declared, found)

    def verify(self, outcome: Outcome) -> None:
        _verify(outcome)


class _IsoMedia(_Family):
    def recognise(self, head: bytes) -> bool:
        brands = _bmff_brands(head)
        if brands:
            major = head[8:12]
            return major in _VIDEO_BRANDS or (bool(brands & _VIDEO_BRANDS) and not brands & _IMAGE_BRANDS)
        return head[4:8] in _QUICKTIME_FIRST_BOXES

    def inventory(self, source: BinaryIO) -> _Inventory:
        size = source.seek(0, os.SEEK_END)
        return _bmff_inventory(source, size)

    def muxer(self, head: bytes) -> tuple[str, str]:
        brands = _bmff_brands(head)
        major = head[8:12] if brands else b"qt  "
        if major in _QUICKTIME_BRANDS or not brands:
            return "mov", "video/quicktime"
        if major in _3GP_BRANDS:
            return "3gp", "video/3gpp"
        return "mp4", "video/mp4"


class _Matroska(_Family):
    def recognise(self, head: bytes) -> bool:
        return _matroska_doctype(head) in ("webm", "matroska")

    def inventory(self, source: BinaryIO) -> _Inventory:
        size = source.seek(0, os.SEEK_END)
        return _matroska_inventory(source, size)

    def muxer(self, head: bytes) -> tuple[str, str]:
        if _matroska_doctype(head) == "webm":
            return "webm", "video/webm"
        return "matroska", "video/x-matroska"


ISO_MEDIA = _IsoMedia(
    name="MP4",
    kind="video",
    media_types=frozenset({"video/mp4", "video/quicktime", "video/3gpp", "video/3gpp2", "video/x-m4v"}),
    extensions={"video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp"},
)
MATROSKA = _Matroska(
    name="Matroska",
    kind="video",
    media_types=frozenset({"video/webm", "video/x-matroska", "audio/webm"}),
    extensions={"video/webm": "webm", "video/x-matroska": "mkv"},
)
FORMATS = (ISO_MEDIA, MATROSKA)


# --- The remux ------------------------------------------------------------------------------------

#: What FFmpeg raises on a file it cannot read, beyond what the walks above refused.
_READ_ERRORS = (av.error.FFmpegError, ValueError, OverflowError, ZeroDivisionError, IndexError, KeyError)
#: All an output container may say of itself, and of each stream, once cleaned.
_ALLOWED_CONTAINER_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})
_ALLOWED_STREAM_TAGS = frozenset({"handler_name", "vendor_id", "language", "duration", "encoder"})
_ALLOWED_TOP_LEVEL_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"wide"})
_FORBIDDEN_MOVIE_BOXES = frozenset({b"udta", b"meta", b"uuid", b"ilst", b"keys", b"XMP_"})


def _remux(
    source: BinaryIO, muxer: str, media_type: str, extension: str, declared: Declared, found: _Inventory
) -> Outcome:
    removed = set(found.removed)
    output = memfile("clean")
    family = "Matroska" if muxer in ("webm", "matroska") else "MP4"
    try:
        with av.open(_path(source), metadata_errors="replace") as container:
            removed |= _metadata_labels(container.metadata)
            for stream in container.streams:
                removed |= _metadata_labels(stream.metadata, stream_tags=True)
            pictures, audio = _kept_streams(container, removed)
            for picture in pictures:
                _check_picture_as_declared(picture, declared, family)
            kept = [*pictures, *audio]
            video = pictures[0] if pictures else None  # the one the poster, size and viewing copy come from
            options = {"fflags": "+bitexact"}
            if muxer in ("mp4", "mov", "3gp"):
                options["movflags"] = "+faststart"  # the index first: a browser can play while loading
            with av.open(_path(output), "w", format=muxer, options=options) as clean:
                copies = {stream.index: _copy_of(clean, stream) for stream in kept}
                copied_seconds = _copy_packets(container, kept, copies, declared, family)
            plays = all(_browser_plays(picture, audio) for picture in pictures or [None])
            playable = muxer in ("mp4", "webm") and plays
            duration = _duration(container, declared) or copied_seconds
            width = video.codec_context.width if video is not None else 0
            height = video.codec_context.height if video is not None else 0
        poster, rotation = _poster(output) if video is not None else (None, 0)
    except (Refused, MemoryError):
        output.close()
        raise
    except _READ_ERRORS as error:
        output.close()
        raise Refused(Reason.MALFORMED, format=family) from error
    if rotation % 180:
        width, height = height, width
    output.seek(0)
    return Outcome(
        file=output,
        media_type=media_type,
        extension=extension,
        removed=removed,
        width=width,
        height=height,
        duration_seconds=duration,
        poster=poster,
        playable=playable,
    )


#: Sample-entry tags kept as the file had them (an HEVC clip stays 'hvc1', which Safari plays, not
#: FFmpeg's default 'hev1'); any other tag is left to the muxer's own choice for the codec.
_KEPT_CODEC_TAGS = frozenset(
    {"avc1", "avc3", "hvc1", "hev1", "vp09", "av01", "mp4v", "s263", "mp4a", "samr", "sawb", "Opus", "fLaC"}
    | {".mp3", "ac-3", "ec-3", "alac", "sowt", "twos"}
)


def _copy_of(output, stream):
    """A stream of ``output`` with the parameters of ``stream`` (the display matrix among them), its
    sample-entry tag when it is a standard one, and no tags of its own."""
    copy = output.add_stream_from_template(stream)
    tag = stream.codec_context.codec_tag
    if tag in _KEPT_CODEC_TAGS:
        copy.codec_context.codec_tag = tag
    if stream.codec_context.name == "vorbis":
        copy.codec_context.extradata = _vorbis_headers_without_comments(stream.codec_context.extradata)
    elif stream.codec_context.name == "flac":
        copy.codec_context.extradata = _flac_stream_info_only(stream.codec_context.extradata)
    copy.metadata.clear()
    return copy


#: A Vorbis comment header with no vendor string and no comments (the Vorbis I specification, 5.2).
_EMPTY_VORBIS_COMMENTS = b"\x03vorbis" + bytes(8) + b"\x01"


def _vorbis_headers_without_comments(extradata: bytes | None) -> bytes:
    """Vorbis keeps its three headers in the codec's private data, Xiph-laced; the second is a comment
    block of free tags (LOCATION=, DATE=, an encoder's name). It is replaced by an empty one; the
    identification and setup headers, which the decoder needs, are kept as they are."""
    data = extradata or b""
    if not data or data[0] != 2:
        raise Refused(Reason.MALFORMED, format="Vorbis")
    sizes, position = [], 1
    for _ in range(2):
        size = 0
        while position < len(data) and data[position] == 255:
            size += 255
            position += 1
        if position >= len(data):
            raise Refused(Reason.MALFORMED, format="Vorbis")
        size += data[position]
        position += 1
        sizes.append(size)
    identification = data[position : position + sizes[0]]
    setup = data[position + sizes[0] + sizes[1] :]
    if not identification.startswith(b"\x01vorbis") or not setup.startswith(b"\x05vorbis"):
        raise Refused(Reason.MALFORMED, format="Vorbis")
    return (
        bytes([2])
        + _xiph_lace(len(identification))
        + _xiph_lace(len(_EMPTY_VORBIS_COMMENTS))
        + (identification + _EMPTY_VORBIS_COMMENTS + setup)
    )


def _xiph_lace(size: int) -> bytes:
    return b"\xff" * (size // 255) + bytes([size % 255])


def _flac_stream_info_only(extradata: bytes | None) -> bytes:
    """FLAC's private data is its metadata blocks: STREAMINFO, which the decoder needs, and others that
    may carry tags or a picture (VORBIS_COMMENT, PICTURE). Only STREAMINFO is kept, marked last."""
    data = extradata or b""
    body = data[4:] if data.startswith(b"fLaC") else data
    if len(body) == 34:  # STREAMINFO alone, without its block header, as FFmpeg keeps it
        return body
    if len(body) < 38 or body[0] & 0x7F != 0:
        raise Refused(Reason.MALFORMED, format="FLAC")
    length = int.from_bytes(body[1:4], "big")
    if length != 34:
        raise Refused(Reason.MALFORMED, format="FLAC")
    return body[4:38]


def _check_picture_as_declared(picture, declared: Declared, family: str) -> None:
    """The picture's size as its codec gives it may not exceed what the container declared, which the
    pipeline held against the limits: a tiny file can say 320x240 in its headers and 8192x8192 in its
    stream, and decoding its first frame for the poster would then take a gigabyte."""
    width, height = picture.codec_context.width, picture.codec_context.height
    declared_pixels = declared.width * declared.height
    # Some room: cropping (1080 shown of 1088 coded) and a display size scaled for non-square pixels.
    if not declared_pixels or width * height > declared_pixels * 5 // 4 + 64 * max(width, height):
        raise Refused(Reason.MALFORMED, format=family)


def _kept_streams(container, removed: set[str]):
    """The picture streams that are not cover pictures (a dashcam films with two cameras) and the sound
    streams, in the file's order; what else the file holds is reported. Returns (pictures, sounds)."""
    pictures: list = []
    sounds: list = []
    unknown: list = []
    for stream in container.streams:
        name = stream.codec_context.name if stream.codec_context else ""
        cover = stream.type == "video" and bool(stream.disposition & av.stream.Disposition.attached_pic)
        if stream.type == "video" and not cover:
            (pictures if name in VIDEO_CODECS else unknown).append(stream)
        elif stream.type == "audio":
            (sounds if name in AUDIO_CODECS else unknown).append(stream)
        elif cover or stream.type == "attachment":
            removed.add(labels.COVER_ART)
        elif stream.type == "subtitle":
            removed.add(labels.SUBTITLES)
        elif stream.type == "data" and "time" in stream.metadata.get("handler_name", "").lower():
            removed.add(labels.TIMECODE)
        else:
            removed.add(labels.TELEMETRY)
    if unknown and not pictures and not sounds:
        raise Refused(Reason.UNSUPPORTED_CODEC, format=unknown[0].codec_context.name or "?")
    if unknown:
        # A second rendering of the sound in a codec off the list must not cost the witness the clip:
        # it is left out, and reviewers are told so.
        removed.add(labels.UNSUPPORTED_TRACKS)
    if not pictures and not sounds:
        raise Refused(Reason.NO_STREAMS)
    return pictures, sounds


def _copy_packets(container, kept, copies, declared: Declared, family: str) -> float:
    """Copy every packet of the kept streams as it is, in the order the file holds them.

    A file that yields more packets than its headers declared is not the file it claims to be; one that
    was cut off is found in declare, by its sample tables or the walk of its blocks. Returns the time the
    last packet ends, in seconds."""
    counts = dict.fromkeys(copies, 0)
    ends = dict.fromkeys(copies, 0)  # in each stream's own time base: integers, no arithmetic per packet
    mux = next(iter(copies.values())).container.mux_one
    for packet in container.demux(kept):
        if packet.size == 0 and packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        index = packet.stream.index
        counts[index] += 1
        if packet.pts is not None and packet.pts + packet.duration > ends[index]:
            ends[index] = packet.pts + packet.duration
        if declared.samples and counts[index] > declared.samples:
            raise Refused(Reason.MALFORMED, format=family)
        packet.stream = copies[index]
        mux(packet)
    if not any(counts.values()):
        raise Refused(Reason.NO_STREAMS)
    return max(float(ends[stream.index] * stream.time_base) for stream in kept)


def _browser_plays(video, audio) -> bool:
    names = {stream.codec_context.name for stream in audio}
    return (video is None or video.codec_context.name in BROWSER_VIDEO_CODECS) and names <= BROWSER_AUDIO_CODECS


def _duration(container, declared: Declared) -> float:
    if container.duration:
        return float(Fraction(container.duration, av.time_base))
    return declared.duration_seconds


def _poster(clean: BinaryIO) -> tuple[bytes, int]:
    """A JPEG of the clean file's first picture, turned as the clip plays, and that turn in degrees
    (counter-clockwise, as FFmpeg gives it). A video whose first picture does not decode is refused:
    it is damaged, or not what it claims to be."""
    with av.open(_path(clean)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # one frame in memory at a time, not one per thread
        for count, packet in enumerate(container.demux(stream)):
            if count >= POSTER_PACKETS:
                break
            for frame in packet.decode():
                rotation = int(frame.rotation or 0)
                scale = min(1.0, POSTER_LONG_SIDE / max(frame.width, frame.height, 1))
                small = frame.reformat(
                    width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)), format="rgb24"
                )
                picture = small.to_image()
                if rotation:
                    picture = picture.rotate(rotation, expand=True)
                buffer = io.BytesIO()
                picture.convert("RGB").save(buffer, "JPEG", quality=80)
                return buffer.getvalue(), rotation
    raise Refused(Reason.DAMAGED)


def _metadata_labels(metadata: Mapping[str, str], stream_tags: bool = False) -> set[str]:
    found: set[str] = set()
    for key in metadata:
        lowered = key.lower()
        if lowered in ("major_brand", "minor_version", "compatible_brands"):
            continue
        if stream_tags and lowered in _ALLOWED_STREAM_TAGS:
            continue
        if "location" in lowered or "xyz" in lowered or "gps" in lowered:
            found.add(labels.GPS)
        elif "make" in lowered or "model" in lowered:
            found.add(labels.CAMERA)
        elif "creation_time" in lowered or "date" in lowered:
            found.add(labels.DATES)
        elif "encoder" in lowered or "software" in lowered:
            found.add(labels.SOFTWARE)
        else:
            found.add(labels.DESCRIPTION)
    return found


def _verify(outcome: Outcome) -> None:
    """The clean file holds picture and sound streams only, and says nothing of itself but its brand.

    Read back by FFmpeg, and for MP4-family files also box by box, so that a muxer that one day writes
    something new is caught here, not by a witness's adversary."""
    file = outcome.file
    try:
        with av.open(_path(file)) as container:
            if {key.lower() for key in container.metadata} - _ALLOWED_CONTAINER_TAGS:
                raise Refused(Reason.CANNOT_CLEAN_SAFELY)
            for stream in container.streams:
                tags = {key.lower() for key in stream.metadata}
                if stream.type not in ("video", "audio") or tags - _ALLOWED_STREAM_TAGS:
                    raise Refused(Reason.CANNOT_CLEAN_SAFELY)
    except av.error.FFmpegError as error:
        raise Refused(Reason.CANNOT_CLEAN_SAFELY) from error
    if outcome.media_type in ISO_MEDIA.extensions:
        size = file.seek(0, os.SEEK_END)
        for box in _boxes(file, 0, size):
            if box.kind not in _ALLOWED_TOP_LEVEL_BOXES:
                raise Refused(Reason.CANNOT_CLEAN_SAFELY)
            if box.kind == b"moov":
                _verify_movie(file, box)
    file.seek(0)


def _verify_movie(file: BinaryIO, moov: _Box) -> None:
    """No box in the movie that can carry metadata, but the empty item list FFmpeg's MP4 muxer always
    writes (``udta`` > ``meta`` > ``hdlr`` and an ``ilst`` with no item)."""

    def walk(start: int, end: int, parent: bytes) -> None:
        for box in _boxes(file, start, end):
            if box.kind in _FORBIDDEN_MOVIE_BOXES - {b"udta", b"meta", b"ilst"}:
                raise Refused(Reason.CANNOT_CLEAN_SAFELY)
            if box.kind == b"udta":
                walk(box.body, box.end, box.kind)
            elif box.kind == b"meta":
                if parent != b"udta":
                    raise Refused(Reason.CANNOT_CLEAN_SAFELY)
                walk(box.body + 4, box.end, box.kind)  # a full box: version and flags first
            elif parent == b"udta" or (parent == b"meta" and box.kind not in (b"hdlr", b"ilst")):
                raise Refused(Reason.CANNOT_CLEAN_SAFELY)
            elif box.kind == b"ilst" and box.end != box.body:
                raise Refused(Reason.CANNOT_CLEAN_SAFELY)
            elif box.kind in _CONTAINER_BOXES:
                walk(box.body, box.end, box.kind)

    walk(moov.body, moov.end, b"moov")


# --- A copy to watch ------------------------------------------------------------------------------

VIEWING_LONG_SIDE = 1280
VIEWING_TIME_BASE = Fraction(1, 90000)


def viewing_copy(clean: BinaryIO) -> BinaryIO:
    """An MP4 that every current browser plays (H.264 and AAC, at most 1280 pixels on its long side),
    for a clean file they cannot: HEVC, AMR sound, a MOV, 3GP or Matroska container. The clean file
    stays the evidence; this copy is only for watching. Picture and sound that browsers already play
    are copied as they are, and only what they cannot play is re-encoded."""
    source = _as_file(clean)
    rotation = _first_rotation(source)
    output = memfile("viewing")
    try:
        with av.open(_path(source)) as container:
            pictures = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
            video = pictures[0] if pictures else None
            audio = container.streams.audio[0] if container.streams.audio else None
            options = {"fflags": "+bitexact", "movflags": "+faststart"}
            with av.open(_path(output), "w", format="mp4", options=options) as copy:
                plans = {}
                if video is not None:
                    plans[video.index] = _video_plan(copy, video, rotation)
                if audio is not None:
                    plans[audio.index] = _audio_plan(copy, audio)
                for packet in container.demux([s for s in (video, audio) if s is not None]):
                    plans[packet.stream.index](packet)
                for plan in plans.values():
                    plan(None)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    return output


def _first_rotation(source: BinaryIO) -> int:
    """The display rotation of the first picture, known before the copy's header is written."""
    with av.open(_path(source)) as container:
        if not container.streams.video:
            return 0
        for count, frame in enumerate(container.decode(container.streams.video[0])):
            return int(frame.rotation or 0) if count < POSTER_PACKETS else 0
    return 0


def _video_plan(copy, video, rotation: int):
    if video.codec_context.name == "h264":
        return _copying(copy, video)
    out = copy.add_stream("libx264", rate=30)
    width, height = video.codec_context.width, video.codec_context.height
    scale = min(1.0, VIEWING_LONG_SIDE / max(width, height, 1))
    out.width, out.height = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
    out.pix_fmt = "yuv420p"
    out.codec_context.time_base = VIEWING_TIME_BASE
    out.options = {"preset": "superfast", "crf": "23"}
    if rotation:
        out.set_display_rotation(rotation)
    last = [-1]

    def plan(packet):
        for frame in packet.decode() if packet is not None else ():
            if frame.time is None:
                continue
            pts = round(frame.time / VIEWING_TIME_BASE)
            if pts <= last[0]:  # a frame out of order or repeated: browsers need rising times
                continue
            last[0] = pts
            picture = frame.reformat(width=out.width, height=out.height, format="yuv420p")
            picture.pts, picture.time_base = pts, VIEWING_TIME_BASE
            copy.mux(out.encode(picture))
        if packet is None:
            copy.mux(out.encode(None))

    return plan


def _audio_plan(copy, audio):
    if audio.codec_context.name in ("aac", "mp3"):
        return _copying(copy, audio)
    out = copy.add_stream("aac", rate=48000)
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
    samples = [0]

    def plan(packet):
        for frame in packet.decode() if packet is not None else [None]:
            for resampled in resampler.resample(frame):
                resampled.pts, resampled.time_base = samples[0], Fraction(1, 48000)
                samples[0] += resampled.samples
                copy.mux(out.encode(resampled))
        if packet is None:
            copy.mux(out.encode(None))

    return plan


def _copying(copy, stream):
    out = _copy_of(copy, stream)

    def plan(packet):
        if packet is None or (packet.size == 0 and packet.dts is None):
            return
        packet.stream = out
        copy.mux(packet)

    return plan
