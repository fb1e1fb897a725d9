"""Videos come out with their audio and video streams copied packet for packet, and nothing else.

Each family of phone clip (tests/cleaning/videos.py) carries the place, the camera, the dates, XMP,
``uuid`` boxes, trailers, telemetry, subtitles, a timecode and cover art. After cleaning, two readers
independent of the engine (ExifTool and ffprobe), a walk of the boxes and a byte search find none of
it; FFmpeg's ``streamhash`` finds the same packets; the rotation and the sound are still there.
Hostile files are refused with a reason's code, in a child process held to 1 GiB and a time limit.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image as PILImage

from intake.cleaning import Refused, labels, video
from intake.cleaning.api import ACCEPTED_MEDIA_TYPES, OUTPUT_MEDIA_TYPES, clean_media, sniff
from intake.cleaning.contract import Limits
from intake.cleaning.reasons import Reason

from . import videos

ROOT = Path(__file__).resolve().parents[2]

MP4_FAMILY = (
    "android.mp4",
    "samsung.mp4",
    "gopro.mp4",
    "pixel.mp4",
    "fragmented.mp4",
    "iphone.mov",
    "iphone-hevc.mov",
    "portrait.mov",
    "clip.3gp",
)
MATROSKA_FAMILY = ("clip.mkv", "clip.webm", "live.webm", "vorbis.webm")
FAMILIES = MP4_FAMILY + MATROSKA_FAMILY


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    if missing := videos.tools_missing():
        pytest.fail(f"the video tests need {', '.join(missing)} (Debian: ffmpeg, libimage-exiftool-perl)")
    folder = tmp_path_factory.mktemp("clips")
    return {name: make(folder) for name, make in videos.FAMILIES.items()}


@dataclass
class Output:
    path: Path
    media_type: str
    removed: tuple[str, ...]
    sha256: str
    size: int
    width: int
    height: int
    duration_seconds: float
    poster: bytes | None
    playable: bool


@pytest.fixture(scope="session")
def cleaned(clips, tmp_path_factory):
    """The clean output of a clip, made once per session, written to a file for the readers."""
    folder = tmp_path_factory.mktemp("cleaned")
    done: dict[str, Output] = {}

    def clean(name: str) -> Output:
        if name not in done:
            with open(clips[name], "rb") as source:
                result = clean_media(source)
            path = folder / f"{Path(name).stem}-{Path(name).suffix[1:]}.{result.extension}"
            result.file.seek(0)
            path.write_bytes(result.file.read())
            done[name] = Output(
                path,
                result.media_type,
                result.removed,
                result.sha256,
                result.size,
                result.width,
                result.height,
                result.duration_seconds,
                result.poster,
                result.playable,
            )
        return done[name]

    return clean


# --- Independent readers ---------------------------------------------------------------------------

EXIFTOOL_LINE = re.compile(r"^\[([^\]]+)\]\s+(\S+)\s*: ?(.*)$")


# Cached by path: every file these read is written once, under a name of its own.
@functools.cache
def exiftool_tags(path: Path) -> list[tuple[str, str, str]]:
    """(group, tag, value) for every tag ExifTool finds, embedded documents and duplicates included."""
    out = subprocess.run(
        ["exiftool", "-a", "-G1", "-U", "-ee", "-s", "-api", "LargeFileSupport=1", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode("utf-8", "replace")
    tags = []
    for line in out.splitlines():
        if match := EXIFTOOL_LINE.match(line):
            group, tag, value = match.groups()
            if group not in ("System", "ExifTool") or tag == "Warning":
                tags.append((group, tag, value))
    return tags


@functools.cache
def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_chapters"]
        + [str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(out)


@functools.cache
def packet_hashes(path: Path) -> list[tuple[str, str]]:
    """(stream type, SHA-256 of all its packets) of the video (not cover art) and audio streams."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:V", "-map", "0:a"]
        + ["-c", "copy", "-f", "streamhash", "-hash", "sha256", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    lines = [line.split(",") for line in out.split()]
    return [(kind, digest) for _, kind, digest in lines]


def decode_errors(path: Path) -> str:
    """What FFmpeg says while decoding every frame and sample: nothing for a playable file."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:V", "-map", "0:a", "-f", "null", "-"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    return result.stderr.decode(errors="replace") + ("" if result.returncode == 0 else f"exit {result.returncode}")


def rotation(path: Path) -> int:
    """The display rotation ffprobe reads from the video stream's matrix (0 if none)."""
    for stream in ffprobe(path)["streams"]:
        if stream["codec_type"] == "video" and not stream.get("disposition", {}).get("attached_pic"):
            for side in stream.get("side_data_list", []):
                if "rotation" in side:
                    return int(side["rotation"]) % 360
            return int(stream.get("tags", {}).get("rotate", 0)) % 360
    raise AssertionError("no video stream")


# ExifTool's groups that hold only metadata (never the structure needed to play the streams).
METADATA_GROUPS = re.compile(r"^(Keys|UserData|ItemList|XMP.*|GoPro|Samsung|Google|Microsoft|Apple|IFD\d|ExifIFD|GPS)$")
# Tags that say where, by whom, with what: wherever ExifTool finds them.
IDENTIFYING_TAGS = re.compile(
    r"GPS|Location|ISO6709|Make|Model|Software|Creator|Author|Artist|Comment|Title|CoverArt|Attached|"
    r"Encoder|HandlerDescription|CompressorName|TrackName|DateTimeOriginal|CreationDate|TimeCode|"
    r"SampleTime|Text|DeviceName|StreamName|Chapter|Warning",
)
# Structural tags whose name matches the above but say nothing of the witness.
STRUCTURAL = {
    ("Matroska", "TimeCode"),  # a cluster's time, in seconds from the start
    ("Matroska", "TimecodeScale"),
    ("Matroska", "MuxingApp"),  # the cleaner's own library, the same for every file
    ("Matroska", "WritingApp"),
    ("Matroska", "TagTrackUID"),
    ("ItemList", "Encoder"),
}
ZERO_DATE = "0000:00:00 00:00:00"


#: What FFmpeg's muxers name every track they write: not the camera's own handler names.
GENERIC_HANDLERS = {"VideoHandler", "SoundHandler", "DataHandler", ""}


def leaks_in_tags(tags: list[tuple[str, str, str]]) -> list[str]:
    found = []
    for group, tag, value in tags:
        if tag == "HandlerDescription" and value in GENERIC_HANDLERS:
            continue
        if (group, tag) in STRUCTURAL and not any(marker.decode() in value for marker in videos.SECRETS):
            if tag in ("MuxingApp", "WritingApp", "Encoder") and not value.startswith("Lavf"):
                found.append(f"{group}:{tag}={value}")
            continue
        if group == "Composite" and tag in ("ImageSize", "Megapixels", "AvgBitrate", "Rotation"):
            continue
        if METADATA_GROUPS.match(group) or IDENTIFYING_TAGS.search(tag):
            found.append(f"{group}:{tag}={value}")
        elif tag.endswith(("Date", "DateTime")) and value != ZERO_DATE:
            found.append(f"{group}:{tag}={value}")
        elif any(marker.decode() in value for marker in videos.SECRETS) or videos.TAKEN_EXIFTOOL in value:
            found.append(f"{group}:{tag}={value}")
    return found


# --- The clips carry what the tests look for ------------------------------------------------------

PLANTED = {
    "android.mp4": (
        "UserData:GPSCoordinates",
        "UserData:LocationInformation",
        "UserData:Make",
        "UserData:Model",
        "Keys:AndroidVersion",
        "XMP-dc:Creator",
        "ItemList:CoverArt",
        "ItemList:Comment",
        "QuickTime:CreateDate",
        "Track1:TrackCreateDate",
        "Track1:MediaCreateDate",
        "Track1:CompressorName",
        "Track1:HandlerDescription",
        "Track3:Text",
        "Track4:OtherFormat",
        "UserData:ChapterList",
    ),
    "samsung.mp4": ("UserData:GPSCoordinates", "XMP-dc:Creator", "ExifTool:Warning"),
    "pixel.mp4": ("UserData:Make", "QuickTime:CreateDate"),
    "gopro.mp4": ("Track3:GPSLatitude", "Track3:MetaFormat", "Track3:StreamName", "UserData:Model"),
    "iphone.mov": (
        "Keys:GPSCoordinates",
        "Keys:Make",
        "Keys:Model",
        "Keys:Software",
        "Keys:CreationDate",
        "UserData:GPSCoordinates",
        "XMP-dc:Creator",
        "QuickTime:CreateDate",
    ),
    "iphone-hevc.mov": ("Keys:GPSCoordinates", "Keys:Make", "Keys:Software"),
    "portrait.mov": ("Keys:Make", "Composite:Rotation"),
    "clip.3gp": ("UserData:GPSCoordinates", "UserData:LocationInformation", "UserData:Make"),
    "clip.mkv": (
        "Matroska:Location",
        "Matroska:Make",
        "Matroska:Model",
        "Matroska:DateTimeOriginal",
        "Matroska:AttachedFileName",
        "Track1:TrackName",
        "Track3:CodecID",
        "Chapter1:ChapterString",
    ),
    "clip.webm": ("Matroska:Location", "Matroska:Make", "Matroska:DateTimeOriginal"),
    "live.webm": ("Matroska:Location", "Matroska:Make", "Matroska:DateTimeOriginal"),
    "vorbis.webm": ("Track2:CodecID",),
    "fragmented.mp4": ("UserData:LocationInformation", "ItemList:Comment", "QuickTime:CreateDate"),
}


@pytest.mark.parametrize("name", FAMILIES)
def test_each_clip_carries_what_the_tests_look_for(clips, name):
    found = {f"{group}:{tag}" for group, tag, _ in exiftool_tags(clips[name])}
    assert set(PLANTED[name]) <= found, set(PLANTED[name]) - found
    data = clips[name].read_bytes()
    assert any(marker in data for marker in videos.SECRETS)
    assert leaks_in_tags(exiftool_tags(clips[name]))


@pytest.mark.parametrize("name", FAMILIES)
def test_each_clip_is_accepted_by_its_content_and_comes_out_in_a_type_we_serve(clips, cleaned, name):
    with open(clips[name], "rb") as source:
        assert sniff(source.read(8192)) in ACCEPTED_MEDIA_TYPES
    assert cleaned(name).media_type in OUTPUT_MEDIA_TYPES


# --- What comes out --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
def test_exiftool_finds_nothing_identifying_in_the_output(cleaned, name):
    output = cleaned(name)
    tags = exiftool_tags(output.path)
    assert leaks_in_tags(tags) == []
    dates = [value for group, tag, value in tags if tag in ("CreateDate", "ModifyDate") or tag.endswith("CreateDate")]
    if name in MP4_FAMILY:
        assert dates and set(dates) == {ZERO_DATE}, dates


@pytest.mark.parametrize("name", FAMILIES)
def test_no_planted_value_is_left_anywhere_in_the_bytes(cleaned, name):
    data = cleaned(name).path.read_bytes()
    assert [marker for marker in videos.SECRETS if marker in data] == []
    assert b"2025-03-07" not in data and b"Latakia" not in data


ALLOWED_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "ENCODER"}
ALLOWED_STREAM_TAGS = {"language", "handler_name", "vendor_id", "DURATION", "ENCODER", "encoder"}


@pytest.mark.parametrize("name", FAMILIES)
def test_ffprobe_finds_only_the_audio_and_video_streams_and_no_tags(clips, cleaned, name):
    before, after = ffprobe(clips[name]), ffprobe(cleaned(name).path)
    kinds = [
        stream["codec_type"]
        for stream in before["streams"]
        if stream["codec_type"] in ("video", "audio") and not stream["disposition"].get("attached_pic")
    ]
    assert [stream["codec_type"] for stream in after["streams"]] == kinds
    assert not [stream for stream in after["streams"] if stream["disposition"].get("attached_pic")]
    assert after["chapters"] == []
    format_tags = after["format"].get("tags", {})
    assert set(format_tags) <= ALLOWED_FORMAT_TAGS, format_tags
    for stream in after["streams"]:
        tags = stream.get("tags", {})
        assert set(tags) <= ALLOWED_STREAM_TAGS, tags
        # A handler's or encoder's name is a camera's, unless it is a generic one.
        for key in ("handler_name", "encoder", "ENCODER"):
            assert not any(marker.decode() in tags.get(key, "") for marker in videos.SECRETS), tags
        assert tags.get("language", "und") == "und" or name in MATROSKA_FAMILY
    for key in ("encoder", "ENCODER"):
        assert format_tags.get(key, "Lavf").startswith("Lavf")


@pytest.mark.parametrize("name", FAMILIES)
def test_the_streams_keep_their_sample_entries(clips, cleaned, name):
    """The same codec tags: an HEVC clip stays 'hvc1' (the one Safari plays), not 'hev1'."""

    def tags(path: Path) -> list[tuple[str, str]]:
        return [
            (stream["codec_name"], stream["codec_tag_string"])
            for stream in ffprobe(path)["streams"]
            if stream["codec_type"] in ("video", "audio") and not stream["disposition"].get("attached_pic")
        ]

    assert tags(cleaned(name).path) == tags(clips[name])


@pytest.mark.parametrize("name", MP4_FAMILY)
def test_no_uuid_box_metadata_box_or_trailer_is_left_in_an_mp4(cleaned, name):
    data = cleaned(name).path.read_bytes()
    found = list(videos.boxes(data))
    kinds = {box.kind for box in found}
    assert videos.top_level_end(data) == len(data), "bytes after the last box"
    assert not kinds & {b"uuid", b"keys", b"\xa9xyz", b"loci", b"XMP_", b"covr", b"tref", b"\xa9mak", b"\xa9mod"}
    assert {box.kind for box in found if not box.path} <= {b"ftyp", b"free", b"wide", b"mdat", b"moov"}
    # User data holds at most FFmpeg's empty item list (an 'mdir' handler and an 'ilst' of nothing).
    for box in found:
        if b"udta" in box.path or box.kind == b"udta":
            assert box.kind in (b"udta", b"meta", b"hdlr", b"ilst"), box
            assert box.kind != b"ilst" or box.end - box.body == 0, data[box.start : box.end]
    # Two tracks: the picture and the sound. No timecode, subtitle, telemetry or cover-art track.
    handlers = [
        data[box.body + 8 : box.body + 12] for box in found if box.kind == b"hdlr" and box.path[-1:] == (b"mdia",)
    ]
    assert sorted(handlers) == [b"soun", b"vide"], handlers


@pytest.mark.parametrize("name", MATROSKA_FAMILY)
def test_a_matroska_file_ends_with_its_segment(cleaned, name):
    data = cleaned(name).path.read_bytes()
    assert ebml_end(data) == len(data), "bytes after the segment"


def ebml_end(data: bytes) -> int:
    """Where the top-level EBML elements (the header, then the segment) end."""

    def vint(at: int, keep_marker: bool) -> tuple[int, int]:
        first = data[at]
        length = 8 - first.bit_length() + 1
        value = first if keep_marker else first & (0xFF >> length)
        for byte in data[at + 1 : at + length]:
            value = (value << 8) | byte
        return value, at + length

    at = 0
    while at < len(data):
        element, at = vint(at, True)
        size, at = vint(at, False)
        if element not in (0x1A45DFA3, 0x18538067):
            return at
        at += size
    return at


@pytest.mark.parametrize("name", FAMILIES)
def test_the_packets_of_picture_and_sound_are_the_same_before_and_after(clips, cleaned, name):
    before, after = packet_hashes(clips[name]), packet_hashes(cleaned(name).path)
    assert [kind for kind, _ in before] == ["v", "a"]
    assert after == before
    assert decode_errors(cleaned(name).path) == ""


@pytest.fixture(scope="session")
def turned(clips, tmp_path_factory) -> dict[int, Path]:
    """The portrait clip turned by ExifTool to each angle (its display matrix only: no re-encoding)."""
    folder = tmp_path_factory.mktemp("turned")
    found = {}
    for degrees in (90, 180, 270):
        path = folder / f"turned-{degrees}.mov"
        path.write_bytes(clips["portrait.mov"].read_bytes())
        videos.exiftool_write(path, f"-Rotation={degrees}")
        found[degrees] = path
    return found


def first_frame_as_played(path: Path) -> PILImage.Image:
    """The first picture as FFmpeg shows it: with the display matrix applied."""
    png = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return PILImage.open(io.BytesIO(png)).convert("RGB")


def difference(a: PILImage.Image, b: PILImage.Image) -> float:
    """Mean absolute difference per channel (0-255) of two pictures at 32x32."""
    small_a, small_b = (image.convert("RGB").resize((32, 32)).tobytes() for image in (a, b))
    return sum(abs(x - y) for x, y in zip(small_a, small_b, strict=True)) / len(small_a)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_the_display_rotation_is_kept_and_the_poster_is_turned_like_the_clip(turned, degrees):
    with open(turned[degrees], "rb") as source:
        result = clean_media(source)
    output = turned[degrees].with_suffix(".clean.mov")
    output.write_bytes(result.data)
    assert rotation(output) == rotation(turned[degrees]) == (360 - degrees) % 360  # ffprobe: counter-clockwise
    assert ("Composite", "Rotation", str(degrees)) in exiftool_tags(output)
    shown = first_frame_as_played(turned[degrees])
    assert (result.width, result.height) == shown.size
    poster = PILImage.open(io.BytesIO(result.poster))
    assert poster.size == shown.size
    assert difference(poster, shown) < 12
    assert difference(poster, shown.rotate(180)) > 30  # the test can tell a turn from another


def test_the_portrait_clip_is_described_as_it_plays(clips, cleaned):
    output = cleaned("portrait.mov")
    assert rotation(output.path) == rotation(clips["portrait.mov"]) == 270
    assert (output.width, output.height) == (240, 320)


def test_an_upright_clip_gets_no_rotation(cleaned):
    assert rotation(cleaned("android.mp4").path) == 0


@pytest.mark.parametrize("name", ["android.mp4", "clip.mkv"])
def test_cleaning_the_same_clip_twice_gives_the_same_file(clips, cleaned, name):
    """The recorded SHA-256 can be checked again by anyone who holds the original."""
    with open(clips[name], "rb") as source:
        again = clean_media(source)
    assert again.sha256 == cleaned(name).sha256


@pytest.mark.parametrize("name", FAMILIES)
def test_what_the_reviewer_is_told_about_the_clip(clips, cleaned, name):
    output = cleaned(name)
    if name != "portrait.mov":
        assert (output.width, output.height) == videos.SIZE
    assert abs(output.duration_seconds - videos.SECONDS) < 0.2
    assert output.size == output.path.stat().st_size
    assert output.sha256 == hashlib.sha256(output.path.read_bytes()).hexdigest()
    assert output.poster and output.poster[:3] == b"\xff\xd8\xff"
    poster = PILImage.open(io.BytesIO(output.poster))
    assert poster.size == (output.width, output.height)  # turned as the clip plays
    if name == "iphone-hevc.mov":
        assert output.playable is False  # HEVC: the worker makes a viewing copy
    elif name.endswith((".mp4", ".webm")):
        assert output.playable is True
    if name.endswith(".webm"):
        assert output.media_type == "video/webm"
    elif name.endswith(".mkv"):
        assert output.media_type in ("video/x-matroska", "video/webm")
    else:
        assert output.media_type in ("video/mp4", "video/quicktime", "video/3gpp")


def test_the_removed_kinds_are_named(cleaned):
    expected = {
        "android.mp4": {
            labels.CAMERA,
            labels.DATES,
            labels.XMP,
            labels.SUBTITLES,
            labels.TIMECODE,
            labels.COVER_ART,
            labels.UUID_BOXES,
        },
        "samsung.mp4": {labels.CAMERA, labels.TRAILER},
        "pixel.mp4": {labels.CAMERA, labels.DATES, labels.TRAILER},
        "gopro.mp4": {labels.CAMERA, labels.DATES, labels.TELEMETRY},
        "iphone.mov": {labels.CAMERA, labels.DATES, labels.SOFTWARE, labels.XMP},
        "clip.3gp": {labels.CAMERA, labels.DATES},
        "clip.mkv": {labels.CAMERA, labels.DATES, labels.TRAILER, labels.SUBTITLES, labels.COVER_ART},
        "clip.webm": {labels.CAMERA, labels.DATES, labels.SUBTITLES},
        "live.webm": {labels.CAMERA, labels.DATES},
        "fragmented.mp4": {labels.DATES},
    }
    place = {labels.GPS, getattr(labels, "LOCATION", labels.GPS)}
    missing = {}
    for name, kinds in expected.items():
        try:
            removed = set(cleaned(name).removed)
        except Refused as refused:
            missing[name] = [f"refused: {refused.code}"]
            continue
        assert removed <= set(labels.ORDER), removed - set(labels.ORDER)
        has_place = place & removed or name in ("gopro.mp4", "pixel.mp4")
        lacking = (kinds - removed) | (set() if has_place else {"gps or location"})
        if name == "gopro.mp4" and not place & removed and labels.TELEMETRY not in removed:
            lacking.add("gps, location or telemetry")
        if lacking:
            missing[name] = sorted(lacking)
    assert missing == {}


def test_a_camera_clip_with_24_bit_sound_keeps_it(tmp_path):
    clip = videos.camera_mov(tmp_path)
    with open(clip, "rb") as source:
        result = clean_media(source)
    output = tmp_path / f"clean.{result.extension}"
    output.write_bytes(result.data)
    assert packet_hashes(output) == packet_hashes(clip)
    assert leaks_in_tags(exiftool_tags(output)) == []


def test_a_second_sound_track_in_another_codec_does_not_cost_the_witness_the_clip(tmp_path):
    """Beside the stereo AAC track, a second rendering of the sound in a codec off the list (IMA ADPCM):
    the clip is cleaned, the picture and the AAC track copied exactly, the other one dropped and reported."""
    assert "adpcm_ima_qt" not in video.AUDIO_CODECS
    clip = videos.camera_mov(tmp_path, second_sound="adpcm_ima_qt")
    with open(clip, "rb") as source:
        result = clean_media(source)
    output = tmp_path / f"clean.{result.extension}"
    output.write_bytes(result.data)
    before, after = packet_hashes(clip), packet_hashes(output)
    assert after == before[:2]
    assert labels.UNSUPPORTED_TRACKS in result.removed
    assert leaks_in_tags(exiftool_tags(output)) == []


def test_a_clip_whose_only_sound_is_in_a_codec_off_the_list_and_no_picture_is_refused(tmp_path):
    path = tmp_path / "memo.mov"
    videos.ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "adpcm_ima_qt", "-f", "mov", path)
    with open(path, "rb") as source, pytest.raises(Refused) as raised:
        clean_media(source)
    assert (raised.value.code, raised.value.params) == (Reason.UNSUPPORTED_CODEC, {"format": "adpcm_ima_qt"})


@pytest.mark.parametrize("start_ms", [500, 1000])
def test_a_trimmed_clip_is_cleaned_and_still_starts_where_the_trim_starts(tmp_path, start_ms):
    """An editor's trim without re-encoding is an edit list; the samples before it stay in the file.
    The clean file plays from the same picture, for the same time (what was cut stays cut)."""
    whole = videos.plain_mp4(tmp_path, seconds=3)
    clip = tmp_path / "trimmed.mp4"
    clip.write_bytes(videos.trimmed(whole.read_bytes(), start_ms, 3000 - start_ms))
    with open(clip, "rb") as source:
        result = clean_media(source)
    output = tmp_path / "clean.mp4"
    output.write_bytes(result.data)
    played = float(ffprobe(clip)["format"]["duration"])
    assert abs(float(ffprobe(output)["format"]["duration"]) - played) < 0.1
    assert abs(result.duration_seconds - played) < 0.1
    first = first_frame_as_played(output)
    assert difference(first, first_frame_as_played(clip)) < 3
    assert difference(first, first_frame_as_played(whole)) > 10  # the test can tell the trim
    assert packet_hashes(output) == packet_hashes(clip)


def test_a_dashcam_clip_keeps_both_cameras(tmp_path):
    """Every picture is evidence: the rear camera's track is not dropped as if it were telemetry."""
    clip = videos.two_cameras_mp4(tmp_path)
    with open(clip, "rb") as source:
        result = clean_media(source)
    output = tmp_path / f"clean.{result.extension}"
    output.write_bytes(result.data)
    assert [kind for kind, _ in packet_hashes(clip)] == ["v", "v", "a"]
    assert packet_hashes(output) == packet_hashes(clip)


# --- Limits ----------------------------------------------------------------------------------------


def test_a_clip_longer_than_the_limit_is_refused(clips):
    with open(clips["iphone.mov"], "rb") as source, pytest.raises(Refused) as raised:
        clean_media(source, Limits(video_seconds=1))
    assert raised.value.code == Reason("too_long")


@pytest.mark.parametrize("name", ["live.webm", "fragmented.mp4"])
def test_a_clip_whose_headers_declare_no_duration_is_still_held_to_the_limit(clips, name):
    """A WebM written as a stream and a fragmented MP4 say nothing of their length up front."""
    with open(clips[name], "rb") as source, pytest.raises(Refused) as raised:
        clean_media(source, Limits(video_seconds=1))
    assert raised.value.code == Reason("too_long")


def test_a_clip_larger_than_the_limit_is_refused(clips):
    with open(clips["clip.webm"], "rb") as source, pytest.raises(Refused) as raised:
        clean_media(source, Limits(video_bytes=20_000))
    assert raised.value.code == Reason.TOO_LARGE


# --- Hostile files ---------------------------------------------------------------------------------

MEMORY_LIMIT = 1024**3
TIME_LIMIT = 60

# One child cleans every hostile file in turn, under an address-space limit; before each file its
# high-water mark of resident memory is reset (clear_refs 5), so each file's own peak is measured.
CHILD = """
import json, re, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {root!r})
from intake.cleaning import Refused
from intake.cleaning.api import ACCEPTED_MEDIA_TYPES, OUTPUT_MEDIA_TYPES, clean_media, sniff

def status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\\s+(\\d+) kB", f.read()).group(1)) * 1024

for path in sys.argv[1:]:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    started = time.monotonic()
    try:
        with open(path, "rb") as source:
            result = clean_media(source)
        result.file.seek(0)
        with open(path + ".out", "wb") as out:
            out.write(result.file.read())
        outcome = {{"cleaned": True, "removed": list(result.removed)}}
    except Refused as refused:
        outcome = {{"code": str(refused.code), "params": {{k: str(v) for k, v in refused.params.items()}}}}
    except MemoryError:
        outcome = {{"memory_error": True}}
    outcome["seconds"] = time.monotonic() - started
    outcome["peak"] = status("VmHWM")
    print(json.dumps(outcome), flush=True)
"""


def hostile_set(folder: Path) -> dict[str, bytes]:
    plain = videos.plain_mp4(folder).read_bytes()
    faststart = videos.plain_mp4(folder, "faststart.mp4", faststart=True).read_bytes()
    mkv = videos.matroska(folder).read_bytes()
    live = videos.live_webm(folder).read_bytes()
    fragmented = videos.fragmented_mp4(folder).read_bytes()
    return {
        "cut in the media data": videos.cut_in_mdat(faststart),
        "cut in the movie box": videos.cut_in_moov(plain),
        "cut in the movie box, headers first": videos.cut_in_moov(faststart),
        "a billion samples declared": videos.with_samples_declared(plain, 10**9),
        "a sample of 2 GB declared": videos.with_sample_size(faststart, 2**31 - 1),
        "a chunk past the end of the file": videos.with_chunk_at(faststart, 0x7FFF0000),
        "a chunk in the movie box": videos.with_chunk_at(faststart, videos.find(faststart, b"moov").start),
        "a hundred tracks": videos.with_tracks(plain, 100),
        "ten thousand tracks": videos.with_tracks(plain, 10_000),
        "an empty media data box": videos.with_empty_mdat(faststart),
        "a duration of 136 years": videos.with_duration(plain, 2**32 - 1),
        "a picture of 8192 by 8192": videos.big_picture_mp4(folder, 8192, 8192).read_bytes(),
        "an 8K clip": videos.big_picture_mp4(folder, 7680, 4320).read_bytes(),
        "sample times adding up to 38 hours": videos.with_sample_delta(plain, 2**31 - 1),
        "matroska cut in half": mkv[: len(mkv) // 2],
        "matroska declaring 31 years": videos.matroska_with_duration(mkv, 1e12),
        "matroska with a hundred tracks": videos.matroska_with_tracks(folder, 100),
        # No duration, a segment of unknown size: only the last cluster's own size shows the cut.
        "a webm written as a stream, cut at 90%": live[: len(live) * 9 // 10],
        "a fragment declaring thirty million samples": videos.with_fragment_samples(fragmented, 30_000_000),
        "an edit list of two million entries": videos.with_edits(plain, 2_000_000),
        "a million chunks for sixty samples": videos.with_chunks(faststart, 1_000_000),
        "a fragmented clip cut to a third": fragmented[: len(fragmented) // 3],
        "a zip after the movie": videos.polyglot_zip(plain),
        "html and pdf in a free box": videos.polyglot_free_box(faststart),
    }


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """Every hostile file cleaned in a child process held to MEMORY_LIMIT of address space."""
    folder = tmp_path_factory.mktemp("hostile")
    files = {}
    for index, (name, data) in enumerate(hostile_set(folder).items()):
        files[name] = folder / f"hostile-{index}"
        files[name].write_bytes(data)

    child = CHILD.format(limit=MEMORY_LIMIT, root=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", child, *map(str, files.values())], capture_output=True, timeout=TIME_LIMIT, check=False
    )
    lines = result.stdout.decode().splitlines()
    crashed = {"crashed": result.returncode, "stderr": result.stderr.decode(errors="replace")[-3000:]}
    outcomes = [json.loads(line) for line in lines] + [crashed] * (len(files) - len(lines))
    return {name: (outcome, path) for (name, path), outcome in zip(files.items(), outcomes, strict=True)}


REFUSED_AS = {
    "cut in the media data": {"truncated"},
    "cut in the movie box": {"truncated", "malformed"},
    "cut in the movie box, headers first": {"truncated", "malformed"},
    "a billion samples declared": {"too_many_samples"},
    "a sample of 2 GB declared": {"truncated", "malformed"},
    # Most of the picture would be lost without a word: the clean file must never be less than the clip.
    "a chunk past the end of the file": {"truncated", "malformed"},
    # The headers read as picture: no camera writes media outside its media data boxes.
    "a chunk in the movie box": {"truncated", "malformed"},
    "a hundred tracks": {"too_many_tracks"},
    # Refused by the walk of the boxes before the guard counts the tracks: "malformed" is a fair name too.
    "ten thousand tracks": {"too_many_tracks", "malformed"},
    "an empty media data box": {"truncated", "malformed", "no_streams"},
    "a duration of 136 years": {"too_long"},
    # The headers say 2 s; the sample table, 38 hours: the clean file would play for 38 hours.
    "sample times adding up to 38 hours": {"too_long", "malformed"},
    "matroska cut in half": {"truncated", "malformed"},
    "a webm written as a stream, cut at 90%": {"truncated", "malformed"},
    "matroska declaring 31 years": {"too_long"},
    "matroska with a hundred tracks": {"too_many_tracks"},
    # What a movie fragment's runs declare counts too: FFmpeg would build an index entry for each.
    "a fragment declaring thirty million samples": {"too_many_samples"},
    # FFmpeg builds its index per edit: two million edits of one second cost two gigabytes.
    "an edit list of two million entries": {"malformed"},
    "a million chunks for sixty samples": {"malformed"},
    # Fragment after fragment: one cut off is the file cut off, not a trailer to drop.
    "a fragmented clip cut to a third": {"truncated"},
}


@pytest.mark.parametrize("name", sorted(REFUSED_AS))
def test_a_hostile_file_is_refused_with_a_reason_in_bounded_time_and_memory(hostile, name):
    outcome, _ = hostile[name]
    assert "crashed" not in outcome, outcome
    assert outcome.get("code") in REFUSED_AS[name], outcome
    assert outcome["code"] in {reason.value for reason in Reason}
    assert outcome["seconds"] < 5
    assert outcome["peak"] < 512 * 1024**2


def test_an_8k_phone_clip_is_cleaned_within_the_memory_limit(hostile):
    """Phones record 8K (7680x4320): the poster of such a clip must not need more than the limit."""
    outcome, _ = hostile["an 8K clip"]
    assert outcome.get("cleaned"), outcome
    assert outcome["peak"] < 512 * 1024**2


def test_a_tiny_file_with_a_huge_picture_is_refused_or_cleaned_within_the_memory_limit(hostile):
    """67 megapixels in a 200 KB file, beyond any phone (8K is 33): refused by its declared size, or
    cleaned without decoding it whole at full size; never the worker's memory spent."""
    outcome, _ = hostile["a picture of 8192 by 8192"]
    assert "crashed" not in outcome and "memory_error" not in outcome, outcome
    if outcome.get("cleaned"):
        assert outcome["peak"] < 512 * 1024**2
    else:
        assert outcome["code"] == "too_many_pixels", outcome


@pytest.mark.parametrize("name", ["a zip after the movie", "html and pdf in a free box"])
def test_a_polyglot_gives_nothing_but_the_streams(hostile, name):
    outcome, path = hostile[name]
    assert "crashed" not in outcome, outcome
    if not outcome.get("cleaned"):
        assert outcome["code"] in {reason.value for reason in Reason}
        return
    out = Path(f"{path}.out").read_bytes()
    assert videos.POLYGLOT not in out and b"<html" not in out and b"%PDF" not in out and b"PK\x03\x04" not in out
    assert not zipfile.is_zipfile(Path(f"{path}.out"))
    assert videos.top_level_end(out) == len(out)
    assert packet_hashes(Path(f"{path}.out")) == packet_hashes(path)
