"""Reviewers' pages show photos as small previews without metadata; a photo with no preview (beyond the
viewing bound, one that does not decode, or not yet made) is never shown inline, only downloaded."""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageOps

from intake import actions, blobs, likeness, tasks
from intake.models import AuditEvent, Image, Submission
from tests.cleaning import samples
from tests.cleaning.test_hostile_files import with_jpeg_size
from tests.conftest import camera_jpeg, exiftool, form_token, log_in, wait_until

#: A JPEG of under a kilobyte declaring 12000×12000 pixels: the engine keeps it as received (it never
#: decodes a JPEG), and a browser would spend hundreds of megabytes showing it.
DECLARED_BOMB = with_jpeg_size(samples.jpeg(everything=False), 12000, 12000)


@pytest.fixture
def cleaned(db):
    """A submission holding ``data``, cleaned and (unless told not to) described by the worker's tasks."""

    def make(data: bytes, describe: bool = True) -> Image:
        submission = Submission.objects.create(receipt_digest=blobs.new_name() * 2, account="x")
        image = Image.objects.create(submission=submission, position=0, original_blob=blobs.write(data))
        tasks.clean_image(str(image.pk))
        if describe:
            tasks.describe_image(str(image.pk))
        image.refresh_from_db()
        return image

    return make


def page_of(client, image: Image) -> str:
    return client.get(reverse("review:submission", args=[image.submission_id])).content.decode()


def colour_at(picture: PILImage.Image, fx: float, fy: float):
    return picture.convert("RGB").getpixel((int(picture.width * fx), int(picture.height * fy)))


def close(a, b, tolerance=40):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_a_phone_photos_preview_is_bounded_upright_and_carries_no_metadata(cleaned):
    original = camera_jpeg(orientation=6, size=(4032, 3024))
    image = cleaned(original)
    preview = blobs.read(image.preview_blob)
    shown = PILImage.open(io.BytesIO(preview))
    assert shown.format == "JPEG" and shown.size == (1200, 1600) == image.preview_size
    upright = ImageOps.exif_transpose(PILImage.open(io.BytesIO(original)))
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close(colour_at(shown, fx, fy), colour_at(upright, fx, fy))
    tags = exiftool(preview)
    found = " ".join(f"{key}={value}" for key, value in tags.items())
    assert not [key for key in tags if key.startswith(("GPS:", "IFD0:", "IFD1:", "ExifIFD:", "MakerNotes:"))], found
    assert not [key for key in tags if key.startswith(("ICC", "XMP", "Photoshop", "APP14", "Adobe"))], found
    assert "Comment" not in found


def test_a_wide_gamut_photos_preview_is_converted_to_srgb_and_carries_no_profile(cleaned):
    wide = samples.jpeg(everything=False, icc=samples.icc_profile(wide_gamut=True))
    image = cleaned(wide)
    preview = PILImage.open(io.BytesIO(blobs.read(image.preview_blob)))
    assert "icc_profile" not in preview.info and "exif" not in preview.info


def test_a_16_bit_grey_photos_preview_keeps_its_shades_and_its_likeness(cleaned):
    # A gradient from black to about half of 16-bit white, in squares of two depths: Pillow's own
    # conversion clips every value above 255, and the preview came out white with nothing to match on.
    y, x = np.mgrid[0:480, 0:640]
    shades = x / 639 * 35000 * np.where((x // 80 + y // 80) % 2, 1.0, 0.4)
    out = io.BytesIO()
    PILImage.fromarray(shades.astype(np.uint16)).save(out, "PNG")
    image = cleaned(out.getvalue())
    assert image.state == Image.State.CLEAN and PILImage.open(io.BytesIO(blobs.read(image.clean_blob))).mode == "I;16"
    darkest, lightest = PILImage.open(io.BytesIO(blobs.read(image.preview_blob))).convert("L").getextrema()
    assert darkest < 10 and 120 < lightest < 150  # 35000 of 65535 is about 136 of 255
    _, quality = likeness.opened(image)
    assert quality >= likeness.MIN_QUALITY


def test_the_page_shows_the_preview_lazily_and_opens_the_full_file_on_demand(reviewer_client, cleaned):
    image = cleaned(camera_jpeg(orientation=1, size=(2000, 1000)))
    page = page_of(reviewer_client, image)
    preview, full = reverse("review:preview", args=[image.pk]), reverse("review:image", args=[image.pk])
    tag = re.search(r"<img [^>]*>", page).group(0)
    assert f'src="{preview}"' in tag and 'loading="lazy"' in tag and 'width="1600" height="800"' in tag
    assert 'alt="Photo 1"' in tag
    assert f'<img src="{full}"' not in page
    assert f'href="{full}" target="_blank"' in page and f'href="{full}?download=1"' in page
    response = reviewer_client.get(preview)
    assert response["Content-Type"] == "image/jpeg" and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith("inline;")
    assert reviewer_client.get(full)["Content-Disposition"].startswith("inline;")


def test_a_tiny_file_declaring_12000_by_12000_pixels_is_never_shown_inline(reviewer_client, cleaned):
    assert len(DECLARED_BOMB) < 1000
    image = cleaned(DECLARED_BOMB)
    assert image.state == Image.State.CLEAN and (image.width, image.height) == (12000, 12000)
    assert image.described and not image.preview_blob and image.sealed_likeness is None
    page = page_of(reviewer_client, image)
    assert "<img" not in page
    assert "This photo is not shown here: it is" in page and "12000 × 12000" in page
    assert f'href="{reverse("review:image", args=[image.pk])}?download=1"' in page
    opened = reviewer_client.get(reverse("review:image", args=[image.pk]))
    assert opened.status_code == 200 and opened["Content-Disposition"].startswith("attachment;")
    assert opened["Cache-Control"] == "no-store"
    assert reviewer_client.get(reverse("review:preview", args=[image.pk])).status_code == 404


def test_a_photo_whose_preview_is_not_made_yet_is_only_downloaded(reviewer_client, cleaned):
    image = cleaned(camera_jpeg(orientation=1), describe=False)
    page = page_of(reviewer_client, image)
    assert "A preview is being made" in page and "<img" not in page
    assert reviewer_client.get(reverse("review:image", args=[image.pk]))["Content-Disposition"].startswith(
        "attachment;"
    )


def test_a_photo_that_does_not_decode_gets_no_preview_and_a_notice(reviewer_client, cleaned):
    assert likeness.describe(io.BytesIO(b"\xff\xd8\xff\xe0 not a picture"), 400, 300) == likeness.Description()
    image = cleaned(camera_jpeg(orientation=1), describe=False)
    actions.record_description(image, likeness.Description())  # what the worker records when nothing decodes
    page = page_of(reviewer_client, image)
    assert "This photo is not shown here: it could not be decoded." in page and "<img" not in page


def test_viewing_a_preview_is_audited_once_in_ten_minutes(client, reviewer, cleaned, monkeypatch):
    log_in(client, reviewer)
    image = cleaned(camera_jpeg(orientation=1))
    url = reverse("review:preview", args=[image.pk])
    client.get(url)
    client.get(url)  # the page reloaded after a note: the same viewing
    views = AuditEvent.objects.filter(action=AuditEvent.Action.VIEWED_IMAGE, submission_id=image.submission_id)
    assert views.count() == 1
    assert views.get().detail == {"image": 1, "image_id": str(image.pk)}
    monkeypatch.setattr(actions, "VIEW_RECORDED_FOR", timedelta(0))  # as if those minutes had passed
    client.get(url)
    assert views.count() == 2


def test_an_outsider_gets_no_preview(client, outsider, cleaned):
    log_in(client, outsider)
    image = cleaned(camera_jpeg(orientation=1))
    assert client.get(reverse("review:preview", args=[image.pk])).status_code == 404


def test_the_sweep_describes_clean_images_cleaned_before_previews_existed(cleaned, monkeypatch):
    tasks.clean_image.app.control.purge()
    queued: list[str] = []
    monkeypatch.setattr(tasks.describe_image, "delay", queued.append)
    old = cleaned(camera_jpeg(orientation=1), describe=False)
    done = cleaned(camera_jpeg(orientation=1))
    tasks.requeue_pending()
    assert queued == [str(old.pk)] and str(done.pk) not in queued


def test_the_sweep_does_not_multiply_a_backlog_of_descriptions_and_still_enqueues_cleaning(cleaned, monkeypatch):
    old = cleaned(camera_jpeg(orientation=1), describe=False)
    tasks.clean_image.app.control.purge()  # both queues
    tasks.describe_image.delay(str(old.pk))  # a real message waits in the queue that follows cleaning
    waiting = Image.objects.create(submission=old.submission, position=1, original_blob=blobs.write(camera_jpeg()))
    described: list[str] = []
    cleaning: list[str] = []
    monkeypatch.setattr(tasks.describe_image, "delay", described.append)
    monkeypatch.setattr(tasks.clean_image, "delay", cleaning.append)
    assert tasks.requeue_pending() == 1
    assert described == [] and cleaning == [str(waiting.pk)]
    assert tasks.clean_image.app.control.purge() == 1


@pytest.mark.worker
def test_a_new_photo_is_cleaned_between_a_backlog_of_descriptions_not_after_it(start_worker, client, cleaned):
    """After an upgrade every photo cleaned before previews existed is described: thousands of tasks,
    enqueued at once. A photo sent meanwhile is cleaned in turn with them, not once they are all done."""
    from django.conf import settings

    old = cleaned(camera_jpeg(orientation=1), describe=False)
    tasks.clean_image.app.control.purge()
    backlog = 400
    for _ in range(backlog):
        tasks.describe_image.delay(str(old.pk))  # each finds it described after the first: quick, but queued
    response = client.post(
        reverse("witness:submit"),
        {**form_token(), "account": "Sent during the backlog.", "images": [SimpleUploadedFile("a.jpg", camera_jpeg())]},
    )
    assert response.status_code == 200
    start_worker()
    new = Image.objects.exclude(pk=old.pk).get()
    wait_until(lambda: Image.objects.get(pk=new.pk).state == Image.State.CLEAN, message="the new photo to be cleaned")
    assert tasks._queued_messages(settings.AFTER_CLEANING_QUEUE) > backlog // 2
    tasks.clean_image.app.control.purge()


def test_the_sweep_keeps_previews_posters_and_viewing_copies(cleaned):
    image = cleaned(camera_jpeg(orientation=1))
    poster, copy = blobs.write(b"poster"), blobs.write(b"copy")
    Image.objects.create(
        submission_id=image.submission_id,
        position=1,
        state=Image.State.CLEAN,
        media_type="video/quicktime",
        clean_blob=blobs.write(b"a clean clip"),
        poster_blob=poster,
        viewing_blob=copy,
        viewing_media_type="video/mp4",
    )
    for name in (image.preview_blob, poster, copy):
        os.utime(blobs.path_of(name), (0, 0))  # as old as an orphan the sweep removes
    tasks.requeue_pending()
    assert blobs.exists(image.preview_blob) and blobs.exists(poster) and blobs.exists(copy)


@pytest.mark.worker
def test_a_submitted_photo_gets_its_preview_from_a_real_worker(worker, client, reviewer):
    response = client.post(
        reverse("witness:submit"),
        {
            **form_token(),
            "account": "The market, after.",
            "images": [SimpleUploadedFile("IMG_7.jpg", camera_jpeg(orientation=6, size=(2400, 1800)), "image/jpeg")],
        },
    )
    assert response.status_code == 200
    wait_until(lambda: Image.objects.filter(described=True).exists(), message="the worker to describe the photo")
    image = Image.objects.get()
    assert image.preview_blob and image.sealed_likeness and image.bands.count() == likeness.BANDS
    log_in(client, reviewer)
    assert reverse("review:preview", args=[image.pk]) in page_of(client, image)
    shown = PILImage.open(io.BytesIO(client.get(reverse("review:preview", args=[image.pk])).content))
    assert shown.size == (1200, 1600)
