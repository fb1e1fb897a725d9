"""A phone video with the place in it travels from the witness form through a real worker to a reviewer,
who downloads a clean file: nothing identifying in it, the same picture and sound, and it plays.

Like tests/test_end_to_end.py, this uses whatever broker and database the settings name.
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from intake import blobs
from intake.cleaning import labels
from intake.models import Image, Submission
from tests.cleaning import videos
from tests.cleaning.test_video_cleaning import decode_errors, exiftool_tags, ffprobe, leaks_in_tags, packet_hashes
from tests.conftest import form_token, log_in, wait_until
from tests.test_encryption_at_rest import all_database_bytes

pytestmark = pytest.mark.worker


def all_cleaned():
    return not Image.objects.filter(state=Image.State.PENDING).exists()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_phone_video_with_gps_reaches_the_reviewer_clean_and_playable(worker, client, reviewer, tmp_path):
    if missing := videos.tools_missing():
        pytest.fail(f"this test needs {', '.join(missing)}")
    original = videos.android_mp4(tmp_path)
    sent = original.read_bytes()
    assert {"UserData:GPSCoordinates", "UserData:LocationInformation"} <= {
        f"{group}:{tag}" for group, tag, _ in exiftool_tags(original)
    }

    response = client.post(
        reverse("witness:submit"),
        {
            **form_token(),
            "account": "Filmed from the roof.",
            "images": [
                SimpleUploadedFile("VID_20250307_101112.mp4", sent, "video/mp4"),
                SimpleUploadedFile("VID_2.mp4", videos.cut_in_moov(sent), "video/mp4"),
            ],
        },
    )
    assert response.status_code == 200 and "Keep this receipt secret" in response.content.decode()
    wait_until(all_cleaned, timeout=120, message="the worker to clean the video")

    clip, cut = Image.objects.order_by("position")
    assert clip.state == Image.State.CLEAN, (clip.refusal, clip.refusal_params)
    assert cut.state == Image.State.FAILED and cut.refusal == "truncated" and cut.original_blob == ""
    assert clip.media_type == "video/mp4" and clip.original_blob == ""
    assert {labels.GPS, labels.CAMERA, labels.DATES} <= set(clip.removed)
    # The plaintext never reached a disk: not in the worker's temporary folder, nor in the blobs.
    kept = {clip.clean_blob, clip.poster_blob, clip.viewing_blob} - {""}
    wait_until(lambda: set(blobs.all_names()) == kept, message="the original to be destroyed")
    on_disk = b"".join(path.read_bytes() for path in worker.temp_dir.rglob("*") if path.is_file())
    on_disk += b"".join(blobs.path_of(name).read_bytes() for name in blobs.all_names())
    for secret in (videos.MAKE.encode(), videos.XYZ.encode(), videos.SUBTITLE.encode(), b"Filmed from the roof"):
        assert secret not in on_disk
    # The phone's file name says when the clip was filmed: it is kept nowhere.
    assert b"20250307" not in all_database_bytes() + on_disk + worker.log_path.read_bytes()

    log_in(client, reviewer)
    submission = Submission.objects.get()
    page = client.get(reverse("review:submission", args=[submission.pk])).content.decode()
    assert reverse("review:image", args=[clip.pk]) in page
    assert escape(cut.refusal_text) in page and "20250307" not in page
    served = body(client.get(reverse("review:image", args=[clip.pk])))
    assert hashlib.sha256(served).hexdigest() == clip.clean_sha256
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(served)

    tags = exiftool_tags(downloaded)
    assert not [f"{group}:{tag}" for group, tag, _ in tags if "GPS" in tag or "Location" in tag]
    assert leaks_in_tags(tags) == []
    assert [secret for secret in videos.SECRETS if secret in served] == []
    # Playable: ffprobe sees a picture and a sound, every frame decodes, and they are the packets sent.
    assert [stream["codec_type"] for stream in ffprobe(downloaded)["streams"]] == ["video", "audio"]
    assert decode_errors(downloaded) == ""
    assert packet_hashes(downloaded) == packet_hashes(original)
    frame = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(downloaded), "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert frame.startswith(b"\x89PNG")
    poster = client.get(reverse("review:poster", args=[clip.pk]))
    assert poster.status_code == 200 and body(poster)[:3] == b"\xff\xd8\xff"
