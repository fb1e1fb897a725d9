"""Small phone-like clips built in the tests, carrying every kind of identifying data a phone writes.

FFmpeg encodes the streams and writes what its muxers can (dates, tags, subtitle, timecode and
cover-art tracks, Matroska attachments); ExifTool writes the QuickTime Keys, UserData and XMP tags and
the rotation; the rest (``uuid`` boxes, a GoPro-style telemetry track, trailers, hostile headers) is
box surgery here. Each planted value is a distinctive marker, so a test can look for it in what a
reader reports and, byte for byte, in the output.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# --- The markers ---------------------------------------------------------------------------------

MAKE = "MarkerMake-Kestrel"
MODEL = "MarkerModel-K7"
SOFTWARE = "MarkerSoft-14.2"
ANDROID_VERSION = "MarkerAndroid-14"
XMP_CREATOR = "MarkerXMP-Creator"
XMP_TOOL = "MarkerXMP-Tool"
HANDLER = "MarkerHandler-Cam"
COMPRESSOR = b"MarkerCompressor-9"
TRACK_TITLE = "MarkerTrackTitle"
COMMENT = "MarkerComment-Latakia"
SUBTITLE = "MarkerSub-35.3612N-35.9256E"
UUID_TOP = b"MarkerUUID-top-level"
UUID_TRAK = b"MarkerUUID-in-trak"
TELEMETRY = b"MarkerGPMF-telemetry"
SAMSUNG_TRAILER = b"MarkerSamsung-trailer"
GOOGLE_TRAILER = b"MarkerGoogle-trailer"
COVER = b"MarkerCover-Art-55"
ATTACHMENT = b"MarkerAttachment-cover"
POLYGLOT = b"MarkerPolyglot-payload"
CHAPTER = "MarkerChapter-Baniyas-road"
VORBIS_COMMENT = "MarkerVorbisComment"

#: Coordinates, each written one way only, so a reader's report says which place survived.
XYZ_AT = ("35.1234", "35.5678")
XYZ = "+35.1234+035.5678/"  # QuickTime UserData (c)xyz: what Android and older iPhones write
ISO6709_AT = ("35.3612", "35.9256", "12")
ISO6709 = "+35.3612+035.9256+012.000/"  # com.apple.quicktime.location.ISO6709 (Keys)
LOCI = "+35.4321+035.8765/"  # FFmpeg's 'location': a 3GPP 'loci' box in MP4, a tag in Matroska
LATITUDES = ("35.1234", "35.3612", "35.4321", "35 deg")  # also as ExifTool prints degrees

TAKEN = "2025-03-07T10:11:12Z"
TAKEN_EXIFTOOL = "2025:03:07"
TIMECODE = "01:02:03:04"

#: Found as bytes in a file that still carries them (the loci box and the dates are binary numbers).
SECRETS: tuple[bytes, ...] = (
    MAKE.encode(),
    MODEL.encode(),
    SOFTWARE.encode(),
    ANDROID_VERSION.encode(),
    XMP_CREATOR.encode(),
    XMP_TOOL.encode(),
    HANDLER.encode(),
    COMPRESSOR,
    TRACK_TITLE.encode(),
    COMMENT.encode(),
    SUBTITLE.encode(),
    UUID_TOP,
    UUID_TRAK,
    TELEMETRY,
    SAMSUNG_TRAILER,
    GOOGLE_TRAILER,
    COVER,
    ATTACHMENT,
    POLYGLOT,
    CHAPTER.encode(),
    VORBIS_COMMENT.encode(),
    XYZ.encode(),
    ISO6709.encode(),
    LOCI.encode(),
    b"ISO6709",
    b"SEFT",
    b"SEFH",
)

SIZE = (320, 240)
SECONDS = 2
RATE = 15


def tools_missing() -> list[str]:
    return [tool for tool in ("ffmpeg", "ffprobe", "exiftool") if shutil.which(tool) is None]


def run(*command: str | Path) -> bytes:
    result = subprocess.run([str(part) for part in command], capture_output=True, check=False, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return result.stdout


def ffmpeg(*args: str | Path) -> None:
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args)


def exiftool_write(path: Path, *tags: str) -> None:
    run("exiftool", "-q", "-q", "-overwrite_original", "-api", "QuickTimeUTC", *tags, path)


# The sources: a moving test pattern and a tone (audio is evidence: it must come out unchanged).
PICTURE = ["-f", "lavfi", "-i", f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate={RATE}:duration={SECONDS}"]
SOUND = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={SECONDS}"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(RATE)]
AAC = ["-c:a", "aac", "-b:a", "32k"]
#: As phones encode: with B-frames, so that decoding order and display order differ.
H264_B_FRAMES = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-pix_fmt", "yuv420p", "-g", str(RATE)]


def srt(folder: Path) -> Path:
    """Drone-style subtitles: a position per second."""
    path = folder / "drone.srt"
    path.write_text(
        f"1\n00:00:00,000 --> 00:00:01,000\nGPS 35.3612N 35.9256E\n\n2\n00:00:01,000 --> 00:00:02,000\n{SUBTITLE}\n",
        encoding="utf-8",
    )
    return path


def chapters(folder: Path) -> Path:
    """FFmpeg's metadata file with one chapter, named after a place."""
    path = folder / "chapters.txt"
    path.write_text(f";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle={CHAPTER}\n", encoding="utf-8")
    return path


def cover_jpeg(folder: Path, marker: bytes = COVER) -> Path:
    path = folder / f"cover-{marker.decode()}.jpg"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path, "JPEG", comment=marker)
    return path


# --- ISO base media boxes ------------------------------------------------------------------------

CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"mvex", b"moof"})


@dataclass(frozen=True)
class Box:
    kind: bytes
    start: int
    header: int
    end: int
    path: tuple[bytes, ...]  # the containers it is in, outermost first

    @property
    def body(self) -> int:
        return self.start + self.header


def boxes(data: bytes, start: int = 0, end: int | None = None, path: tuple[bytes, ...] = ()) -> Iterator[Box]:
    """Every box from ``start`` to ``end``, descending into the usual containers. Stops at the first
    box whose size makes no sense: what follows is a trailer, not boxes."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                return
            size = struct.unpack_from(">Q", data, at + 8)[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            return
        box = Box(kind, at, header, at + size, path)
        yield box
        if kind in CONTAINERS:
            yield from boxes(data, box.body, box.end, (*path, kind))
        elif kind == b"meta" and path and path[-1] == b"udta":
            yield from boxes(data, box.body + 4, box.end, (*path, kind))
        at += size


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def find(data: bytes, *path: bytes) -> Box:
    """The first box at ``path`` (e.g. ``b"moov", b"trak"``)."""
    for found in boxes(data):
        if (*found.path, found.kind) == path:
            return found
    raise LookupError(path)


def find_all(data: bytes, *path: bytes) -> list[Box]:
    return [found for found in boxes(data) if (*found.path, found.kind) == path]


def top_level_end(data: bytes) -> int:
    """Where the last well-formed top-level box ends: anything after it is a trailer."""
    return max((found.end for found in boxes(data) if not found.path), default=0)


def insert_into(data: bytes, container: Box, payload: bytes) -> bytes:
    """``payload`` appended inside ``container``, with the sizes of it and its ancestors grown to match
    and the chunk offsets of media data after it moved."""
    ancestors = [
        found
        for found in boxes(data)
        if found.start <= container.start and container.end <= found.end and found.header == 8
    ]
    data = shift_chunk_offsets(data, len(payload), after=container.end)
    out = bytearray(data[: container.end] + payload + data[container.end :])
    for found in ancestors:
        size = struct.unpack_from(">I", out, found.start)[0]
        struct.pack_into(">I", out, found.start, size + len(payload))
    return bytes(out)


def insert_at(data: bytes, at: int, payload: bytes) -> bytes:
    """``payload`` (whole boxes) inserted at the top level at ``at``, chunk offsets after it moved."""
    data = shift_chunk_offsets(data, len(payload), after=at)
    return data[:at] + payload + data[at:]


def shift_chunk_offsets(data: bytes, shift: int, after: int = 0) -> bytes:
    """Every chunk offset (``stco``, ``co64``) at or past ``after`` moved by ``shift``."""
    out = bytearray(data)
    for table in boxes(data):
        if table.kind not in (b"stco", b"co64") or table.path[-1:] != (b"stbl",):
            continue
        width = 4 if table.kind == b"stco" else 8
        code = ">I" if width == 4 else ">Q"
        count = struct.unpack_from(">I", data, table.body + 4)[0]
        for index in range(min(count, (table.end - table.body - 8) // width)):
            at = table.body + 8 + width * index
            offset = struct.unpack_from(code, data, at)[0]
            if offset >= after:
                struct.pack_into(code, out, at, offset + shift)
    return bytes(out)


def uuid_box(marker: bytes) -> bytes:
    # A made-up extended type: what phone makers' own boxes look like to any other reader.
    return box(b"uuid", bytes.fromhex("8974dbce7be74c5184f97148f9882554"), marker)


def with_uuid_boxes(data: bytes) -> bytes:
    """A ``uuid`` box in the first track and one at the top level, after the movie box."""
    data = insert_into(data, find(data, b"moov", b"trak"), uuid_box(UUID_TRAK))
    return insert_at(data, find(data, b"moov").end, uuid_box(UUID_TOP))


def samsung_trailer() -> bytes:
    """Like the SEF trailer Samsung phones append: records, a directory, then ``SEFT``."""
    record = b"\x00\x00\x01\x0a" + struct.pack("<I", len(SAMSUNG_TRAILER)) + SAMSUNG_TRAILER
    directory = b"SEFH" + struct.pack("<III", 101, 1, len(record))
    return record + directory + struct.pack("<I", len(directory)) + b"SEFT"


def google_trailer() -> bytes:
    """Bytes after the last box, in no box at all, as some cameras leave their own records."""
    return b"GoogleCamera\x00" + b'{"MicroVideo":1,"Marker":"' + GOOGLE_TRAILER + b'"}'


# --- A GoPro-style telemetry track ---------------------------------------------------------------


def gpmf(sample: int) -> bytes:
    """One second of GPMF: a device, a stream with GPS5 (latitude, longitude, altitude, speeds) and a name."""

    def klv(key: bytes, kind: bytes, size: int, values: bytes) -> bytes:
        repeat = len(values) // size if size else 0
        return key + kind + bytes([size]) + struct.pack(">H", repeat) + values + b"\0" * (-len(values) % 4)

    name = TELEMETRY + b"-" + str(sample).encode()
    gps = klv(b"SCAL", b"l", 4, struct.pack(">5i", 10_000_000, 10_000_000, 1000, 1000, 100))
    gps += klv(b"GPSU", b"U", 16, b"250307101112.000")
    gps += klv(b"GPS5", b"l", 20, struct.pack(">5i", 353612000 + sample, 359256000, 12000, 0, 0))
    stream = klv(b"STNM", b"c", len(name), name) + gps
    stream_klv = b"STRM" + b"\0" + b"\x01" + struct.pack(">H", len(stream)) + stream
    device = klv(b"DVNM", b"c", len(MODEL), MODEL.encode()) + stream_klv
    return b"DEVC" + b"\0" + b"\x01" + struct.pack(">H", len(device)) + device


def telemetry_track(track_id: int, offset: int, samples: list[bytes], timescale: int = 1000) -> bytes:
    """A 'meta' track of ``gpmd`` samples, one per second, in one chunk at ``offset``."""
    count = len(samples)
    duration = 1000 * count
    matrix = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, track_id, 0, duration),
        b"\0" * 8,
        struct.pack(">hhhh", 0, 0, 0, 0),
        matrix,
        struct.pack(">II", 0, 0),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, b"\0" * 4, b"meta", b"\0" * 12, b"GoPro MET\0")
    entry = box(b"gpmd", b"\0" * 6, struct.pack(">H", 1))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, struct.pack(">III", 1, count, 1000)),
        full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, count), *(struct.pack(">I", len(s)) for s in samples)),
        full_box(b"stco", 0, 0, struct.pack(">II", 1, offset)),
    )
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    minf = box(b"minf", full_box(b"nmhd", 0, 0), dinf, stbl)
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))


def with_telemetry(data: bytes) -> bytes:
    """A GoPro-style GPMF track added to the movie, its samples in an ``mdat`` of their own at the end."""
    samples = [gpmf(second) for second in range(SECONDS)]
    end = top_level_end(data)
    data = data[:end]
    mvhd = find(data, b"moov", b"mvhd")
    next_id = struct.unpack_from(">I", data, mvhd.end - 4)[0]
    data = data[: mvhd.end - 4] + struct.pack(">I", next_id + 1) + data[mvhd.end :]
    data = insert_into(data, find(data, b"moov"), telemetry_track(next_id, 0, samples))
    stco = find_all(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")[-1]
    out = bytearray(data)
    struct.pack_into(">I", out, stco.body + 8, len(data) + 8)
    return bytes(out) + box(b"mdat", *samples)


def with_compressor_name(data: bytes, name: bytes = COMPRESSOR) -> bytes:
    """The video sample entry's 32-byte compressor name, which a phone fills with its encoder's name."""
    # After the entry's type: reserved, reference index, predefined fields, size, resolution, frame count.
    at = data.index(b"avc1", find(data, b"moov").start) + 4 + 6 + 2 + 16 + 4 + 4 + 4 + 4 + 2
    return data[:at] + bytes([len(name)]) + name.ljust(31, b"\0") + data[at + 32 :]


# --- The families ----------------------------------------------------------------------------------


def android_mp4(folder: Path) -> Path:
    """An Android phone's MP4 (H.264 + AAC) with everything: the place three ways, make and model,
    dates in every header, a handler name and compressor name, a drone's subtitles, a timecode track,
    cover art, XMP and ``uuid`` boxes."""
    path = folder / "android.mp4"
    ffmpeg(
        *PICTURE,
        *SOUND,
        "-i",
        srt(folder),
        "-i",
        cover_jpeg(folder),
        "-i",
        chapters(folder),
        "-map_chapters",
        "4",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-map",
        "3:v",
        *H264,
        *AAC,
        "-c:s",
        "mov_text",
        "-c:v:1",
        "copy",
        "-disposition:v:1",
        "attached_pic",
        "-metadata",
        f"location={LOCI}",
        "-metadata",
        f"creation_time={TAKEN}",
        "-metadata",
        f"comment={COMMENT}",
        "-metadata:s:v:0",
        f"handler_name={HANDLER}",
        "-metadata:s:a:0",
        "language=ara",  # the language a phone is set to says something of its owner
        "-timecode",
        TIMECODE,
        path,
    )
    exiftool_write(
        path,
        "-UserData:GPSCoordinates=" + ", ".join(XYZ_AT),
        f"-UserData:Make={MAKE}",
        f"-UserData:Model={MODEL}",
        f"-Keys:AndroidVersion={ANDROID_VERSION}",  # com.android.version, as Android's MediaMuxer writes
        f"-XMP-dc:Creator={XMP_CREATOR}",
        f"-XMP-xmp:CreatorTool={XMP_TOOL}",
    )
    path.write_bytes(with_uuid_boxes(with_compressor_name(path.read_bytes())))
    return path


def samsung_mp4(folder: Path) -> Path:
    """The Android clip as a Samsung phone leaves it: with its SEF trailer after the last box."""
    path = folder / "samsung.mp4"
    path.write_bytes(android_mp4(folder).read_bytes() + samsung_trailer())
    return path


def gopro_mp4(folder: Path) -> Path:
    """An action camera's MP4: a GPMF telemetry track with GPS."""
    path = folder / "gopro.mp4"
    ffmpeg(*PICTURE, *SOUND, *H264, *AAC, "-metadata", f"creation_time={TAKEN}", path)
    exiftool_write(path, f"-UserData:Model={MODEL}")
    path.write_bytes(with_telemetry(path.read_bytes()))
    return path


def pixel_mp4(folder: Path) -> Path:
    """An MP4 with a camera's own record after the last box, in no box at all."""
    path = folder / "pixel.mp4"
    ffmpeg(*PICTURE, *SOUND, *H264, *AAC, "-metadata", f"creation_time={TAKEN}", path)
    exiftool_write(path, f"-UserData:Make={MAKE}")
    path.write_bytes(path.read_bytes() + google_trailer())
    return path


def iphone_mov(folder: Path, name: str = "iphone.mov", video: tuple[str, ...] = tuple(H264_B_FRAMES)) -> Path:
    """An iPhone's MOV: the place, make, model and software as QuickTime Keys and as UserData."""
    path = folder / name
    ffmpeg(
        *PICTURE,
        *SOUND,
        *video,
        *AAC,
        "-f",
        "mov",
        "-metadata",
        f"creation_time={TAKEN}",
        "-metadata:s:v:0",
        f"handler_name={HANDLER}",
        path,
    )
    exiftool_write(
        path,
        "-Keys:GPSCoordinates=" + ", ".join(ISO6709_AT),
        f"-Keys:Make={MAKE}",
        f"-Keys:Model={MODEL}",
        f"-Keys:Software={SOFTWARE}",
        f"-Keys:CreationDate={TAKEN_EXIFTOOL} 10:11:12+02:00",
        "-UserData:GPSCoordinates=" + ", ".join(XYZ_AT),
        f"-XMP-dc:Creator={XMP_CREATOR}",
    )
    return path


def hevc_mov(folder: Path) -> Path:
    """An iPhone's HEVC MOV ('hvc1'), which browsers other than Safari do not play."""
    video = ("-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1")
    return iphone_mov(folder, "iphone-hevc.mov", video)


def rotated_mov(folder: Path) -> Path:
    """A portrait clip as phones store it: landscape pixels and a 90-degree display matrix."""
    path = folder / "portrait.mov"
    ffmpeg(*PICTURE, *SOUND, *H264, *AAC, "-f", "mov", path)
    exiftool_write(path, "-Rotation=90", f"-Keys:Make={MAKE}")
    return path


def three_gp(folder: Path) -> Path:
    """A 3GP (H.264 and AAC: Debian's FFmpeg has no AMR encoder) with the place and the camera."""
    path = folder / "clip.3gp"
    ffmpeg(
        *PICTURE,
        *SOUND,
        *H264,
        *AAC,
        "-f",
        "3gp",
        "-metadata",
        f"location={LOCI}",
        "-metadata",
        f"creation_time={TAKEN}",
        path,
    )
    exiftool_write(path, "-UserData:GPSCoordinates=" + ", ".join(XYZ_AT), f"-UserData:Make={MAKE}")
    return path


def matroska_tags() -> list[str]:
    return [
        "-metadata",
        f"location={LOCI}",
        "-metadata",
        f"make={MAKE}",
        "-metadata",
        f"model={MODEL}",
        "-metadata",
        f"comment={COMMENT}",
        "-metadata",
        f"creation_time={TAKEN}",
        "-metadata:s:v:0",
        f"title={TRACK_TITLE}",
    ]


def matroska(folder: Path) -> Path:
    """A Matroska file (H.264 + AAC) with tags, a date, a chapter, SRT subtitles with positions, a
    cover attachment and bytes after the segment."""
    path = folder / "clip.mkv"
    ffmpeg(
        *PICTURE,
        *SOUND,
        "-i",
        srt(folder),
        "-i",
        chapters(folder),
        "-map_chapters",
        "3",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        *H264,
        *AAC,
        "-c:s",
        "srt",
        "-attach",
        cover_jpeg(folder, ATTACHMENT),
        "-metadata:s:t",
        "mimetype=image/jpeg",
        "-metadata:s:t",
        "filename=cover.jpg",
        *matroska_tags(),
        path,
    )
    path.write_bytes(path.read_bytes() + google_trailer())
    return path


def webm(folder: Path) -> Path:
    """A WebM (VP9 + Opus) with tags, a date and WebVTT subtitles with positions."""
    path = folder / "clip.webm"
    ffmpeg(
        *PICTURE,
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
        "-i",
        srt(folder),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:s",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "200k",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        "-c:s",
        "webvtt",
        *matroska_tags(),
        path,
    )
    return path


def live_webm(folder: Path) -> Path:
    """A WebM written as a stream is (a browser's MediaRecorder, a live encoder): no duration in its
    header and a segment of unknown size, with tags."""
    path = folder / "live.webm"
    vp9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"]
    opus = ["-f", "lavfi", "-i", f"sine=sample_rate=48000:duration={SECONDS}"]
    stream = run(
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        *PICTURE,
        *opus,
        *vp9,
        "-c:a",
        "libopus",
        *matroska_tags(),
        "-f",
        "webm",
        "pipe:1",
    )
    path.write_bytes(stream)
    return path


def fragmented_mp4(folder: Path) -> Path:
    """A fragmented MP4, as some Android recorders and cameras stream to storage: an empty movie
    header (no samples, no duration), then fragments."""
    path = folder / "fragmented.mp4"
    ffmpeg(
        *PICTURE,
        *SOUND,
        *H264,
        *AAC,
        "-movflags",
        "frag_keyframe+empty_moov",
        "-metadata",
        f"location={LOCI}",
        "-metadata",
        f"creation_time={TAKEN}",
        "-metadata",
        f"comment={COMMENT}",
        path,
    )
    return path


def camera_mov(folder: Path, second_sound: str | None = None) -> Path:
    """A camera's MOV with 24-bit PCM sound (as cameras that record uncompressed sound write it), or,
    with ``second_sound``, an AAC track and a second track of the same sound in that codec (as phones
    that record spatial sound add one beside the stereo track)."""
    name = f"camera-{second_sound or 'lpcm'}.mov"
    path = folder / name
    sound = ["-f", "lavfi", "-i", f"sine=sample_rate=48000:duration={SECONDS}"]
    if second_sound:
        tracks = ["-map", "0:v", "-map", "1:a", "-map", "1:a", "-c:a:0", "aac", "-c:a:1", second_sound]
    else:
        tracks = ["-c:a", "pcm_s24le"]
    ffmpeg(*PICTURE, *sound, *H264, *tracks, "-f", "mov", "-metadata", f"creation_time={TAKEN}", path)
    exiftool_write(path, f"-Keys:Make={MAKE}")
    return path


def vorbis_webm(folder: Path) -> Path:
    """A WebM whose Vorbis sound carries a comment with the place in its codec header (the codec's own
    tags, inside the track's CodecPrivate), written in place of the encoder's vendor string and tag."""
    path = folder / "vorbis.webm"
    sound = ["-f", "lavfi", "-i", f"sine=sample_rate=48000:duration={SECONDS}"]
    vp9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"]
    ffmpeg(*PICTURE, *sound, *vp9, "-c:a", "libvorbis", path)
    data = path.read_bytes()
    start = data.index(b"\x03vorbis") + 7
    vendor = struct.unpack_from("<I", data, start)[0]
    at = start + 4 + vendor
    count = struct.unpack_from("<I", data, at)[0]
    at += 4
    for _ in range(count):
        at += 4 + struct.unpack_from("<I", data, at)[0]
    room = at - start - 4 - 1 - 4 - 4  # what is left for one comment after a one-letter vendor
    comment = f"LOCATION={LOCI};{VORBIS_COMMENT}".ljust(room, "-").encode()
    block = struct.pack("<I", 1) + b"x" + struct.pack("<II", 1, len(comment)) + comment
    assert len(block) == at - start
    path.write_bytes(data[:start] + block + data[at:])
    return path


def two_cameras_mp4(folder: Path) -> Path:
    """A dashcam's MP4 with the front and the rear camera as two video tracks, and sound."""
    path = folder / "dashcam.mp4"
    rear = ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate={RATE}:duration={SECONDS}"]
    ffmpeg(*PICTURE, *rear, *SOUND, "-map", "0:v", "-map", "1:v", "-map", "2:a", *H264, *AAC, path)
    return path


def big_picture_mp4(folder: Path, width: int, height: int) -> Path:
    """Two black frames of ``width`` x ``height`` and a little sound: tiny on disk, big once decoded."""
    path = folder / f"picture-{width}x{height}.mp4"
    picture = ["-f", "lavfi", "-i", f"color=black:size={width}x{height}:rate=10:duration=0.2"]
    ffmpeg(*picture, "-f", "lavfi", "-i", "sine=duration=0.2", *H264, *AAC, path)
    return path


def plain_mp4(folder: Path, name: str = "plain.mp4", seconds: int = SECONDS, faststart: bool = False) -> Path:
    """H.264 + AAC and nothing else: the base of the hostile files."""
    path = folder / name
    picture = ["-f", "lavfi", "-i", f"testsrc2=size=160x120:rate={RATE}:duration={seconds}"]
    sound = ["-f", "lavfi", "-i", f"sine=sample_rate=16000:duration={seconds}"]
    extra = ["-movflags", "+faststart"] if faststart else []
    ffmpeg(*picture, *sound, *H264, *AAC, *extra, path)
    return path


FAMILIES = {
    "android.mp4": android_mp4,
    "samsung.mp4": samsung_mp4,
    "gopro.mp4": gopro_mp4,
    "pixel.mp4": pixel_mp4,
    "iphone.mov": iphone_mov,
    "iphone-hevc.mov": hevc_mov,
    "portrait.mov": rotated_mov,
    "clip.3gp": three_gp,
    "clip.mkv": matroska,
    "clip.webm": webm,
    "live.webm": live_webm,
    "vorbis.webm": vorbis_webm,
    "fragmented.mp4": fragmented_mp4,
}


# --- Hostile files ---------------------------------------------------------------------------------


def cut_in_mdat(faststart: bytes) -> bytes:
    """Sent until the middle of the media data: the headers promise samples that are not there."""
    mdat = find(faststart, b"mdat")
    return faststart[: (mdat.body + mdat.end) // 2]


def cut_in_moov(data: bytes) -> bytes:
    moov = find(data, b"moov")
    return data[: (moov.start + moov.end) // 2]


def trimmed(data: bytes, start_ms: int, length_ms: int) -> bytes:
    """The clip as an editor trims it without re-encoding: the edit lists of the video and audio tracks
    start ``start_ms`` into their media (plain_mp4's timescales: 15360 for H.264, 16000 for AAC)."""
    out = bytearray(data)
    video, audio = find_all(data, b"moov", b"trak", b"edts", b"elst")
    struct.pack_into(">II", out, video.body + 8, length_ms, 15360 * start_ms // 1000)
    priming = struct.unpack_from(">I", data, audio.body + 12)[0]
    struct.pack_into(">II", out, audio.body + 8, length_ms, priming + 16 * start_ms)
    # The movie and its tracks last as long as the edit (the movie's timescale is 1000).
    struct.pack_into(">I", out, find(data, b"moov", b"mvhd").body + 16, length_ms)
    for tkhd in find_all(data, b"moov", b"trak", b"tkhd"):
        struct.pack_into(">I", out, tkhd.body + 20, length_ms)
    return bytes(out)


def with_samples_declared(data: bytes, count: int) -> bytes:
    """The video track's ``stsz`` says ``count`` samples of one byte each, in 30 bytes."""
    stsz = find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz")
    out = bytearray(data)
    struct.pack_into(">II", out, stsz.body + 4, 1, count)
    return bytes(out)


def with_chunk_at(data: bytes, offset: int, chunk: int = 3) -> bytes:
    """The video track's ``chunk``-th chunk said to be at ``offset`` (past the end, or in the headers)."""
    stco = find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")
    out = bytearray(data)
    struct.pack_into(">I", out, stco.body + 8 + 4 * chunk, offset)
    return bytes(out)


def with_fragment_samples(fragmented: bytes, count: int) -> bytes:
    """The first fragment's first run (``moof`` > ``traf`` > ``trun``) says it holds ``count`` samples."""
    run = fragmented.index(b"trun", fragmented.index(b"moof")) - 4  # where the run's box starts
    out = bytearray(fragmented)
    struct.pack_into(">I", out, run + 8 + 4, count)  # after its header, version and flags
    return bytes(out)


def with_edits(data: bytes, count: int) -> bytes:
    """The video track given a second edit list of ``count`` entries, each the whole first second."""
    entry = struct.pack(">Iii", 1000, 0, 0x10000)
    edits = box(b"edts", full_box(b"elst", 0, 0, struct.pack(">I", count), entry * count))
    return insert_into(data, find(data, b"moov", b"trak"), edits)


def with_chunks(data: bytes, count: int) -> bytes:
    """The video track's chunk table replaced by ``count`` chunks, each at the start of the media data:
    far more chunks than the track has samples."""
    stco = find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")
    table = full_box(b"stco", 0, 0, struct.pack(">I", count), struct.pack(">I", find(data, b"mdat").body) * count)
    grown = insert_into(data, find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl"), table)
    # The old table, now the first of two, names no chunk: the walk takes the last one it meets.
    out = bytearray(grown)
    struct.pack_into(">4s", out, stco.start + 4, b"free")
    return bytes(out)


def with_sample_delta(data: bytes, delta: int) -> bytes:
    """The video track's time-to-sample table gives each sample ``delta`` ticks, whatever the headers say."""
    stts = find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stts")
    out = bytearray(data)
    struct.pack_into(">I", out, stts.body + 12, delta)
    return bytes(out)


def with_sample_size(data: bytes, size: int) -> bytes:
    """The first sample of the video track declared ``size`` bytes long."""
    stsz = find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz")
    out = bytearray(data)
    struct.pack_into(">I", out, stsz.body + 12, size)
    return bytes(out)


def with_tracks(data: bytes, count: int) -> bytes:
    """The audio track repeated until the movie holds ``count`` tracks, each with an id of its own."""
    traks = find_all(data, b"moov", b"trak")
    audio = data[traks[-1].start : traks[-1].end]
    tkhd_id = find(audio, b"trak", b"tkhd").body + 4 + 8
    copies = []
    for track_id in range(len(traks) + 1, count + 1):
        copy = bytearray(audio)
        struct.pack_into(">I", copy, tkhd_id, track_id)
        copies.append(bytes(copy))
    return insert_into(data, find(data, b"moov"), b"".join(copies))


def with_empty_mdat(faststart: bytes) -> bytes:
    """Headers first, then a media data box of length zero: every sample points past the end."""
    mdat = find(faststart, b"mdat")
    return faststart[: mdat.start] + box(b"mdat")


def with_duration(data: bytes, seconds: int) -> bytes:
    """The movie and every track header declare ``seconds`` (the movie's timescale set to 1)."""
    out = bytearray(data)
    mvhd = find(data, b"moov", b"mvhd")
    struct.pack_into(">II", out, mvhd.body + 4 + 8, 1, seconds)
    for mdhd in find_all(data, b"moov", b"trak", b"mdia", b"mdhd"):
        struct.pack_into(">II", out, mdhd.body + 4 + 8, 1, seconds)
    return bytes(out)


def matroska_with_duration(data: bytes, milliseconds: float) -> bytes:
    """The segment's Duration (an 8-byte float, in the default millisecond scale) set to ``milliseconds``."""
    at = data.index(b"\x44\x89\x88") + 3
    return data[:at] + struct.pack(">d", milliseconds) + data[at + 8 :]


def matroska_with_tracks(folder: Path, count: int) -> bytes:
    """A Matroska file whose sound is copied into ``count`` tracks."""
    sound = folder / "sound.mka"
    ffmpeg(*SOUND, *AAC, sound)
    path = folder / f"tracks-{count}.mkv"
    ffmpeg(*PICTURE, "-i", sound, "-map", "0:v", *(["-map", "1:a"] * (count - 1)), *H264, "-c:a", "copy", path)
    return path.read_bytes()


def zip_archive() -> bytes:
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", b"<script>alert(1)</script>" + POLYGLOT)
    return archive.getvalue()


def polyglot_zip(data: bytes) -> bytes:
    """A valid MP4 that is also a valid ZIP (ZIP readers start from the end)."""
    return data + zip_archive()


def polyglot_free_box(data: bytes) -> bytes:
    """A valid MP4 whose first kilobyte holds HTML and a PDF header, in a ``free`` box after ``ftyp``,
    where a browser sniffing for HTML, or a PDF reader, would find them."""
    payload = b"<html><body><script>alert(1)</script>" + POLYGLOT + b"</body></html>\n%PDF-1.4\n"
    return insert_at(data, find(data, b"ftyp").end, box(b"free", payload))
