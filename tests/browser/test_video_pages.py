"""A reviewer watches a witness's video in a real browser: the submission page with its player passes
axe at phone width, in English and Arabic, with JavaScript on and off; and a real clip, filmed on its
side (a phone held upright: 320x240 stored, turned 90 degrees), loads, plays, and plays upright."""

from __future__ import annotations

import subprocess

import pytest
from django.contrib.auth.models import Group, User
from selenium.webdriver.support.wait import WebDriverWait

from intake import blobs
from intake.models import Image, Submission
from tests.browser.conftest import log_in
from tests.staff_login import PASSWORD, enrol_app


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> dict[str, bytes]:
    """A two-second H.264/AAC MP4, 320x240 as stored, marked to be turned 90 degrees as a phone held
    upright marks it (ExifTool's Rotation, a display matrix); and its first frame, upright, as the
    worker's poster is."""
    folder = tmp_path_factory.mktemp("clip")
    video, poster = folder / "clip.mp4", folder / "poster.jpg"
    _run(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(video),
    )  # fmt: skip
    _run("exiftool", "-q", "-overwrite_original", "-Rotation=90", str(video))
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(video), "-frames:v", "1", str(poster))
    # The other family: VP9 and Opus in WebM, as some Android phones and browsers record.
    webm = folder / "clip.webm"
    _run(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libvpx-vp9", "-deadline", "realtime",
        "-c:a", "libopus", "-shortest", str(webm),
    )  # fmt: skip
    return {"video": video.read_bytes(), "poster": poster.read_bytes(), "webm": webm.read_bytes()}


@pytest.fixture
def reviewer(page):
    user = User.objects.create_user("rania", password=PASSWORD)
    user.groups.set(Group.objects.filter(name="Reviewer"))
    return enrol_app(user)


def _video_row(data: bytes, media_type: str, width: int, height: int, poster: bytes) -> Image:
    submission = Submission.objects.create(
        receipt_digest="v" * 64, account="They filmed the square from a roof. صوّروا الساحة من السطح."
    )
    return Image.objects.create(
        submission=submission,
        position=0,
        state=Image.State.CLEAN,
        clean_blob=blobs.write(data),
        media_type=media_type,
        size=len(data),
        width=width,
        height=height,
        duration_ms=2000,
        poster_blob=blobs.write(poster),
        removed=["gps", "camera", "dates"],
    )


@pytest.fixture
def with_video(page, clip) -> Image:
    return _video_row(clip["video"], "video/mp4", 240, 320, clip["poster"])


def _player(page, what: str):
    return page.driver.execute_script(f"const video = document.querySelector('video'); return {what};")


def _wait_for(page, what: str, timeout: float = 20):
    """Polled from here, not awaited in the page: with JavaScript off, WebDriver's scripts run, but the
    page's events (loadeddata, timeupdate) never reach them."""
    WebDriverWait(page.driver, timeout).until(
        lambda d: _player(page, what) or _player(page, "video.error && video.error.code"),
        f"the player never came to {what}",
    )
    assert _player(page, "video.error") is None, (
        f"Chromium could not play the clip: {_player(page, 'video.error.code')}"
    )


def test_a_reviewer_watches_a_video_upright_on_an_accessible_page(page, reviewer, with_video):
    log_in(page, reviewer)
    page.open(f"/staff/submissions/{with_video.submission_id}/")
    player = page.find("figure.image video")
    assert player.get_attribute("preload") == "metadata" and player.get_attribute("controls") is not None
    assert player.get_attribute("poster").endswith(f"/staff/images/{with_video.pk}/poster/")
    caption = page.find("figure.image figcaption").text
    assert "0:02" in caption and "240×320" in caption

    # The page loads the metadata only; a person pressing play asks for the rest, as load() does here.
    _wait_for(page, "video.readyState >= 1")
    _player(page, "video.load()")
    _wait_for(page, "video.readyState >= 2")
    # Chromium applies the display matrix: the picture comes upright, taller than wide.
    assert _player(page, "[video.videoWidth, video.videoHeight]") == [240, 320]
    _player(page, "(video.muted = true, video.play(), true)")
    _wait_for(page, "video.currentTime > 0.2")
    _player(page, "video.pause()")

    # The poster is shown before anything plays: the frame the worker made, upright too.
    page.driver.execute_script(
        "window.posterShown = new Image(); posterShown.src = document.querySelector('video').poster;"
    )
    WebDriverWait(page.driver, 10).until(lambda d: d.execute_script("return posterShown.complete"))
    assert page.driver.execute_script("return [posterShown.naturalWidth, posterShown.naturalHeight]") == [240, 320]
    _player(page, "(video.currentTime = 0, true)")
    _wait_for(page, "!video.seeking")
    page.check("review-submission-video")


def test_a_webm_video_plays_too(page, reviewer, clip):
    image = _video_row(clip["webm"], "video/webm", 320, 240, clip["poster"])
    log_in(page, reviewer)
    page.open(f"/staff/submissions/{image.submission_id}/")
    _player(page, "video.load()")
    _wait_for(page, "video.readyState >= 2")
    assert _player(page, "[video.videoWidth, video.videoHeight]") == [320, 240]
    _player(page, "(video.muted = true, video.play(), true)")
    _wait_for(page, "video.currentTime > 0.2")
