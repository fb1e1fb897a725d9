"""Reviewers watch a cleaned video: the page's player, byte ranges as players ask for them, the poster,
the download that is always the clean file, and nobody else fetching any of it."""

from __future__ import annotations

import subprocess

import pytest
from django.urls import reverse

from intake import actions, blobs, receipts, sent_forms
from intake.models import AuditEvent, Image, Submission
from intake.review.media import Span, Unsatisfiable, requested_span
from intake.uploads import SealedUpload
from tests.conftest import log_in

# Any bytes do for ranges: each one different, so that a wrong offset shows.
CLEAN = bytes(range(256)) * 40 + b"end-of-clean"
VIEWING = b"viewing-copy-" * 50
POSTER = b"\xff\xd8\xff\xe0poster-jpeg\xff\xd9"


@pytest.fixture(scope="session")
def tiny_mp4(tmp_path_factory) -> bytes:
    """A one-second 160x120 H.264/AAC MP4, made once per run."""
    path = tmp_path_factory.mktemp("clips") / "tiny.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def _video(submission, *, data=CLEAN, position=0, viewing: bytes | None = None, **fields) -> Image:
    extra = {}
    if viewing is not None:
        extra = {"viewing_blob": blobs.write(viewing), "viewing_media_type": "video/mp4", "viewing_size": len(viewing)}
    values = {
        "state": Image.State.CLEAN,
        "clean_blob": blobs.write(data),
        "media_type": "video/quicktime",
        "size": len(data),
        "width": 1080,
        "height": 1920,
        "duration_ms": 83_900,  # shown as players show it: 1:23
        "poster_blob": blobs.write(POSTER),
        "removed": ["gps", "camera"],
        **extra,
        **fields,
    }
    return Image.objects.create(submission=submission, position=position, **values)


@pytest.fixture
def video(db):
    submission = Submission.objects.create(receipt_digest="v" * 64, account="They filmed the square.")
    return _video(submission)


def play(client, image, range_header: str | None = None, **extra):
    if range_header is not None:
        extra["HTTP_RANGE"] = range_header
    return client.get(reverse("review:play", args=[image.pk]), **extra)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


# --- Ranges --------------------------------------------------------------------------------------


def test_the_first_bytes_come_as_a_partial_answer(reviewer_client, video):
    response = play(reviewer_client, video, "bytes=0-1")
    assert response.status_code == 206
    assert body(response) == CLEAN[:2]
    assert response["Content-Range"] == f"bytes 0-1/{len(CLEAN)}"
    assert response["Content-Length"] == "2"
    assert response["Accept-Ranges"] == "bytes"


def test_a_range_in_the_middle_gives_exactly_those_bytes(reviewer_client, video):
    # Past the first chunk the stream is read and dropped up to the start: across a chunk's end too.
    response = play(reviewer_client, video, "bytes=1000-5099")
    assert response.status_code == 206
    assert body(response) == CLEAN[1000:5100]
    assert response["Content-Range"] == f"bytes 1000-5099/{len(CLEAN)}"


def test_a_range_across_decryption_chunks(reviewer_client, db, monkeypatch):
    from intake.review import media

    monkeypatch.setattr(media, "CHUNK_BYTES", 7)
    submission = Submission.objects.create(receipt_digest="w" * 64, account="x")
    image = _video(submission)
    assert body(play(reviewer_client, image, "bytes=30-99")) == CLEAN[30:100]


def test_a_suffix_range_gives_the_last_bytes(reviewer_client, video):
    response = play(reviewer_client, video, "bytes=-12")
    assert response.status_code == 206
    assert body(response) == b"end-of-clean"
    assert response["Content-Range"] == f"bytes {len(CLEAN) - 12}-{len(CLEAN) - 1}/{len(CLEAN)}"


def test_an_open_range_runs_to_the_end(reviewer_client, video):
    response = play(reviewer_client, video, "bytes=10000-")
    assert response.status_code == 206
    assert body(response) == CLEAN[10000:]
    assert response["Content-Length"] == str(len(CLEAN) - 10000)


def test_a_range_past_the_end_is_shortened_to_the_file(reviewer_client, video):
    response = play(reviewer_client, video, f"bytes={len(CLEAN) - 3}-{len(CLEAN) + 500}")
    assert response.status_code == 206
    assert body(response) == b"ean"


def test_a_range_that_starts_past_the_end_is_unsatisfiable(reviewer_client, video):
    response = play(reviewer_client, video, f"bytes={len(CLEAN)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CLEAN)}"
    assert "no-store" in response["Cache-Control"]
    assert play(reviewer_client, video, "bytes=-0").status_code == 416


def test_without_a_range_the_whole_file_comes(reviewer_client, video):
    response = play(reviewer_client, video)
    assert response.status_code == 200
    assert body(response) == CLEAN
    assert response["Content-Length"] == str(len(CLEAN))
    assert response["Accept-Ranges"] == "bytes"


def test_an_if_range_without_our_validator_gives_the_whole_file(reviewer_client, video):
    response = play(reviewer_client, video, "bytes=5-9", HTTP_IF_RANGE='"some-etag"')
    assert response.status_code == 200 and body(response) == CLEAN


@pytest.mark.parametrize("header", ["bytes=9-5", "bytes=0-1,5-9", "items=0-1", "bytes=x-y", "bytes=-"])
def test_a_range_we_do_not_serve_gives_the_whole_file(header):
    assert requested_span(header, 100) is None


def test_ranges_as_read_from_the_header():
    assert requested_span("bytes=0-0", 100) == Span(0, 0)
    assert requested_span("bytes=-500", 100) == Span(0, 99)
    assert requested_span("bytes=99-", 100) == Span(99, 99)
    with pytest.raises(Unsatisfiable):
        requested_span("bytes=0-", 0)


def test_a_row_without_its_size_is_still_served_in_ranges(reviewer_client, db):
    submission = Submission.objects.create(receipt_digest="s" * 64, account="x")
    image = _video(submission, size=None)
    response = play(reviewer_client, image, "bytes=-3")
    assert response.status_code == 206 and body(response) == b"ean"


# --- What the answers say of themselves -------------------------------------------------------------


def test_the_player_gets_the_file_inline_never_stored(reviewer_client, video):
    response = play(reviewer_client, video, "bytes=0-")
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "video/quicktime"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="{video}.{video.extension}"'
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_viewing_copy_plays_and_the_download_is_the_clean_file(reviewer_client, db):
    submission = Submission.objects.create(receipt_digest="h" * 64, account="x")
    image = _video(submission, media_type="video/x-matroska", viewing=VIEWING)
    played = play(reviewer_client, image)
    assert body(played) == VIEWING and played["Content-Type"] == "video/mp4"
    assert body(play(reviewer_client, image, "bytes=-4")) == VIEWING[-4:]

    downloaded = reviewer_client.get(reverse("review:image", args=[image.pk]) + "?download=1")
    assert downloaded.status_code == 200
    assert body(downloaded) == CLEAN
    assert downloaded["Content-Type"] == "video/x-matroska"
    assert downloaded["Content-Disposition"] == f'attachment; filename="{image}.{image.extension}"'
    assert downloaded["Cache-Control"] == "no-store"
    # The clean file is served in ranges too: a download manager resumes.
    assert body(reviewer_client.get(reverse("review:image", args=[image.pk]), HTTP_RANGE="bytes=0-3")) == CLEAN[:4]


def test_a_file_name_says_nothing_of_the_witness(reviewer_client, video):
    response = reviewer_client.get(reverse("review:image", args=[video.pk]) + "?download=1")
    name = response["Content-Disposition"].split("filename=")[1].strip('"')
    assert name == f"{video.submission.reference}-1.{video.extension}"


def test_the_poster_is_served(reviewer_client, video):
    response = reviewer_client.get(reverse("review:poster", args=[video.pk]))
    assert response.status_code == 200
    assert response.content == POSTER
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_photo_has_no_player_and_no_poster(reviewer_client, submission):
    photo = submission.images.get()
    assert reviewer_client.get(reverse("review:play", args=[photo.pk])).status_code == 404
    assert reviewer_client.get(reverse("review:poster", args=[photo.pk])).status_code == 404


def test_a_real_clip_is_served_whole_and_in_ranges(reviewer_client, db, tiny_mp4):
    submission = Submission.objects.create(receipt_digest="r" * 64, account="x")
    image = _video(submission, data=tiny_mp4, media_type="video/mp4")
    assert body(play(reviewer_client, image)) == tiny_mp4
    half = len(tiny_mp4) // 2
    assert body(play(reviewer_client, image, f"bytes={half}-")) == tiny_mp4[half:]


# --- The page ------------------------------------------------------------------------------------


def test_the_page_plays_each_video_and_says_what_it_is(reviewer_client, video):
    page = reviewer_client.get(reverse("review:submission", args=[video.submission_id])).content.decode()
    assert f'<video controls preload="metadata" poster="{reverse("review:poster", args=[video.pk])}"' in page
    assert f'src="{reverse("review:play", args=[video.pk])}"' in page
    assert "Video 1" in page
    assert "1:23 long" in page
    assert "1080×1920" in page
    assert "Removed: GPS location, camera make and model" in page
    assert "Download the clean file" in page
    assert "The download is the file that plays here" in page


def test_the_page_says_when_what_plays_is_a_copy(reviewer_client, db):
    submission = Submission.objects.create(receipt_digest="c" * 64, account="x")
    _video(submission, viewing=VIEWING)
    page = reviewer_client.get(reverse("review:submission", args=[submission.pk])).content.decode()
    assert "What plays here is a copy made for browsers" in page


def test_a_video_being_cleaned_or_refused_is_said_so(reviewer_client, video):
    # Files a witness adds later: the submission stays in review while they are cleaned.
    uploads = [SealedUpload(blob=blobs.write(b"raw"), size=3) for _ in range(2)]
    answer = actions.reply_as_witness(video.submission, text="", uploads=uploads, form_token=sent_forms.new_token())
    refused = answer.images.order_by("position").last()
    Image.objects.filter(pk=refused.pk).update(
        state=Image.State.FAILED, refusal="too_large", refusal_params={"megabytes": 500}
    )
    page = reviewer_client.get(reverse("review:submission", args=[video.submission_id])).content.decode()
    assert "File 2 is being cleaned." in page
    assert "File 3 was refused:" in page
    assert page.count("<video") == 1


# --- Who may fetch it ------------------------------------------------------------------------------


def _urls(image) -> list[str]:
    return [
        reverse("review:play", args=[image.pk]),
        reverse("review:poster", args=[image.pk]),
        reverse("review:image", args=[image.pk]) + "?download=1",
    ]


@pytest.mark.parametrize("actor", ["admin_user", "superuser", "outsider"])
def test_staff_without_the_reviewer_role_fetch_nothing(client, video, actor, request):
    log_in(client, request.getfixturevalue(actor))
    for url in _urls(video):
        assert client.get(url, HTTP_RANGE="bytes=0-").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.VIEWED_IMAGE).exists()


def test_anonymous_visitors_are_sent_to_the_login(client, video):
    for url in _urls(video):
        response = client.get(url, HTTP_RANGE="bytes=0-")
        assert response.status_code == 302 and response["Location"].startswith(reverse("review:login"))


def test_a_witness_who_opened_their_testimony_fetches_nothing(client, db):
    receipt = receipts.new_receipt()
    submission = Submission.objects.create(receipt_digest=receipts.digest(receipts.normalise(receipt)), account="x")
    image = _video(submission)
    opened = client.post(reverse("witness:status"), {"receipt": receipt})
    assert opened.status_code == 200 and "access" in opened.see_other.cookies
    for url in _urls(image):
        response = client.get(url, HTTP_RANGE="bytes=0-")
        assert response.status_code == 302 and response["Location"].startswith(reverse("review:login"))


def test_a_video_of_a_submission_not_ready_is_not_found(reviewer_client, db):
    submission = Submission.objects.create(receipt_digest="p" * 64, account="x")
    pending = Image.objects.create(submission=submission, position=0, original_blob=blobs.write(b"raw"))
    ready = _video(submission, position=1)
    for image in (pending, ready):
        for url in _urls(image):
            assert reviewer_client.get(url).status_code == 404


# --- The audit log ---------------------------------------------------------------------------------


def test_a_video_is_audited_once_as_it_starts_not_at_every_seek(reviewer_client, reviewer, video):
    def views():
        return AuditEvent.objects.filter(action=AuditEvent.Action.VIEWED_IMAGE, actor=reviewer).count()

    body(play(reviewer_client, video, "bytes=0-"))
    assert views() == 1
    for seek in ("bytes=4000-", "bytes=9000-9999", "bytes=-100"):
        body(play(reviewer_client, video, seek))
    assert views() == 1
    body(play(reviewer_client, video))
    assert views() == 2
    event = AuditEvent.objects.filter(action=AuditEvent.Action.VIEWED_IMAGE).last()
    assert event.submission_id == video.submission_id and event.detail == {"image": 1, "image_id": str(video.pk)}


def test_a_download_that_skips_the_first_byte_is_audited_all_the_same(reviewer_client, reviewer, video, monkeypatch):
    """Byte 0 of an MP4 is always 0: a range from byte 1 takes the whole clip without starting it."""
    from datetime import timedelta

    from intake import actions

    def views():
        return AuditEvent.objects.filter(action=AuditEvent.Action.VIEWED_IMAGE, actor=reviewer).count()

    url = reverse("review:image", args=[video.pk]) + "?download=1"
    reviewer_client.get(url, HTTP_RANGE="bytes=1-").getvalue()
    assert views() == 1
    reviewer_client.get(url, HTTP_RANGE="bytes=1-").getvalue()  # the same viewing: within its minutes
    assert views() == 1
    monkeypatch.setattr(actions, "VIEW_RECORDED_FOR", timedelta(0))  # as if those minutes had passed
    reviewer_client.get(url, HTTP_RANGE="bytes=1-").getvalue()
    assert views() == 2


def test_the_page_lets_its_players_load_our_own_files_only(reviewer_client, video):
    response = reviewer_client.get(reverse("review:submission", args=[video.submission_id]))
    assert "media-src 'self'" in response["Content-Security-Policy"]
    assert "media-src" not in reviewer_client.get(reverse("review:queue"))["Content-Security-Policy"]


def test_the_poster_is_audited_as_a_view_of_the_video(reviewer_client, reviewer, video):
    reviewer_client.get(reverse("review:poster", args=[video.pk]))
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.VIEWED_IMAGE, actor=reviewer)
    assert event.detail == {"image": 1, "image_id": str(video.pk)}


def test_the_queue_counts_files_not_photos(reviewer_client, video):
    page = reviewer_client.get(reverse("review:queue")).content.decode()
    assert '<th scope="col">Files</th>' in page
