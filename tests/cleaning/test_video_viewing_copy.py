"""The copy a reviewer's browser plays, for a clean clip it cannot (HEVC, MOV, 3GP, Matroska): H.264 in
MP4, the right way up, the same length, with sound, and nothing the clean file did not already hold."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image as PILImage

from intake.cleaning import video
from intake.cleaning.api import clean_media

from . import videos
from .test_video_cleaning import (
    decode_errors,
    difference,
    exiftool_tags,
    ffprobe,
    first_frame_as_played,
    leaks_in_tags,
    rotation,
)


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, Path]:
    if missing := videos.tools_missing():
        pytest.fail(f"the video tests need {', '.join(missing)}")
    folder = tmp_path_factory.mktemp("viewing")
    hevc = videos.hevc_mov(folder)
    turned = folder / "turned-hevc.mov"
    turned.write_bytes(hevc.read_bytes())
    videos.exiftool_write(turned, "-Rotation=90")
    return {"iphone-hevc.mov": hevc, "turned-hevc.mov": turned, "clip.3gp": videos.three_gp(folder)}


@pytest.mark.parametrize("name", ["iphone-hevc.mov", "turned-hevc.mov", "clip.3gp"])
def test_the_viewing_copy_plays_in_browsers_the_right_way_up(sources, name, tmp_path):
    with open(sources[name], "rb") as source:
        clean = clean_media(source)
    assert clean.playable is False
    clean_path = tmp_path / f"clean.{clean.extension}"
    clean_path.write_bytes(clean.data)
    with video.viewing_copy(clean.file) as copy:
        copy_path = tmp_path / "viewing.mp4"
        copy_path.write_bytes(copy.read())

    probe = ffprobe(copy_path)
    assert probe["format"]["format_name"].startswith("mov,mp4")
    codecs = [(stream["codec_type"], stream["codec_name"]) for stream in probe["streams"]]
    assert codecs == [("video", "h264"), ("audio", "aac")]
    assert abs(float(probe["format"]["duration"]) - float(ffprobe(clean_path)["format"]["duration"])) < 0.2
    assert decode_errors(copy_path) == ""
    assert rotation(copy_path) == rotation(sources[name])
    shown, original = first_frame_as_played(copy_path), first_frame_as_played(sources[name])
    assert shown.size == original.size
    assert difference(shown, original) < 12
    assert leaks_in_tags(exiftool_tags(copy_path)) == []
    assert [secret for secret in videos.SECRETS if secret in copy_path.read_bytes()] == []
    assert PILImage.open(io.BytesIO(clean.poster)).size == original.size
