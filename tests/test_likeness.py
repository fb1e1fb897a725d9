"""Near-identical photos across submissions are found through keyed bands of their sealed PDQ hashes, and
the database keeps no plain digest of any clean file (intake.likeness)."""

from __future__ import annotations

import hashlib
import importlib
import io
import secrets

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageDraw, ImageEnhance

from intake import actions, blobs, likeness, tasks
from intake.models import AuditEvent, Image, LikenessBand, Submission

pytestmark = pytest.mark.django_db


def textured(seed: int, size=(1200, 900)) -> PILImage.Image:
    """A picture with structure at every scale, as a photo has: a gradient, shapes and grain."""
    rng = np.random.default_rng(seed)
    width, height = size
    x = np.linspace(0, 1, width)[None, :, None]
    y = np.linspace(0, 1, height)[:, None, None]
    tint = rng.uniform(0, 1, (1, 1, 3))
    pixels = (x * 160 * tint + y * 90 * (1 - tint) + 20) * np.ones((height, width, 3))
    pixels += rng.normal(0, 12, (height, width, 3))
    picture = PILImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(14):
        x0, y0 = int(rng.uniform(0, width - 100)), int(rng.uniform(0, height - 100))
        box = (x0, y0, x0 + int(rng.uniform(60, 400)), y0 + int(rng.uniform(60, 300)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.uniform() < 0.5 else draw.rectangle)(box, fill=colour)
    return picture


def jpeg(picture: PILImage.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


def submitted(*photos: bytes, status: str = Submission.Status.NEW) -> Submission:
    """A submission whose photos went through the worker's cleaning and description, as in production."""
    submission = Submission.objects.create(receipt_digest=secrets.token_hex(32), account="x")
    submission.status = status
    submission.save(update_fields=["status"])
    for position, data in enumerate(photos):
        image = Image.objects.create(submission=submission, position=position, original_blob=blobs.write(data))
        tasks.clean_image(str(image.pk))
        tasks.describe_image(str(image.pk))
    return submission


def page(client, submission: Submission) -> str:
    return client.get(reverse("review:submission", args=[submission.pk])).content.decode()


ORIGINAL = textured(seed=7)


def test_a_resized_and_recompressed_copy_in_another_submission_is_linked(reviewer_client):
    first = submitted(jpeg(ORIGINAL))
    smaller = ORIGINAL.resize((720, 540), PILImage.Resampling.LANCZOS)  # 60%
    second = submitted(jpeg(smaller, quality=40))
    shown = page(reviewer_client, second)
    assert "The same or a near-identical photo is also in 1 other submission" in shown
    assert reverse("review:submission", args=[first.pk]) in shown and first.reference in shown
    assert ", the same file)" not in shown
    assert reverse("review:submission", args=[second.pk]) in page(reviewer_client, first)


def test_a_slightly_cropped_and_brightened_copy_is_linked(reviewer_client):
    first = submitted(jpeg(ORIGINAL))
    width, height = ORIGINAL.size
    edited = ImageEnhance.Brightness(ORIGINAL.crop((12, 9, width - 12, height - 9))).enhance(1.15)
    assert _distance(ORIGINAL, edited) <= likeness.NEAR  # within PDQ's threshold: the test means something
    second = submitted(jpeg(edited, quality=75))
    assert reverse("review:submission", args=[first.pk]) in page(reviewer_client, second)


def test_an_unrelated_photo_is_not_linked(reviewer_client):
    first = submitted(jpeg(ORIGINAL))
    other = submitted(jpeg(textured(seed=8)))
    shown = page(reviewer_client, other)
    assert "near-identical" not in shown and reverse("review:submission", args=[first.pk]) not in shown


def test_the_same_file_in_another_submission_is_linked_as_the_same_file(reviewer_client):
    data = jpeg(ORIGINAL)
    first = submitted(data)
    second = submitted(data)
    shown = page(reviewer_client, second)
    assert reverse("review:submission", args=[first.pk]) in shown and ", the same file)" in shown
    assert Image.objects.get(submission=first).sha256_token == Image.objects.get(submission=second).sha256_token


def test_a_submission_not_yet_ready_for_review_is_not_linked(reviewer_client):
    data = jpeg(ORIGINAL)
    first = submitted(data)
    waiting = submitted(data)
    Image.objects.create(submission=waiting, position=5, original_blob=blobs.write(b"still being cleaned"))
    assert reverse("review:submission", args=[waiting.pk]) not in page(reviewer_client, first)


def test_a_video_whose_poster_shows_a_photo_of_another_submission_is_linked(reviewer_client):
    first = submitted(jpeg(ORIGINAL))
    clip = Submission.objects.create(receipt_digest=secrets.token_hex(32), account="x")
    video = Image.objects.create(
        submission=clip,
        position=0,
        state=Image.State.CLEAN,
        media_type="video/mp4",
        clean_blob=blobs.write(b"a clean clip"),
        poster_blob=blobs.write(jpeg(ORIGINAL.resize((640, 480)), quality=70)),
    )
    tasks.describe_image(str(video.pk))
    video.refresh_from_db()
    assert video.described and not video.preview_blob  # its poster is its preview
    assert reverse("review:submission", args=[first.pk]) in page(reviewer_client, clip)


def test_a_flat_picture_is_hashed_but_never_matched(reviewer_client):
    blank = jpeg(PILImage.new("RGB", (800, 600), (250, 250, 250)))
    first = submitted(blank)
    second = submitted(jpeg(PILImage.new("RGB", (640, 480), (245, 245, 245))))
    image = Image.objects.get(submission=second)
    hashed = likeness.opened(image)
    assert hashed is not None and hashed[1] < likeness.MIN_QUALITY
    assert not LikenessBand.objects.filter(image=image).exists()
    assert reverse("review:submission", args=[first.pk]) not in page(reviewer_client, second)


def test_the_page_finds_likenesses_in_the_same_number_of_queries_for_one_photo_or_five(reviewer_client):
    def queries_for(submission):
        with CaptureQueriesContext(connection) as captured:
            page(reviewer_client, submission)
        return len(captured)

    others = [textured(seed=seed, size=(640, 480)) for seed in range(20, 25)]
    for picture in others:
        submitted(jpeg(picture, quality=60))
    one = submitted(jpeg(others[0]))
    five = submitted(*(jpeg(picture) for picture in others))
    assert "also in 6 other submissions" in page(reviewer_client, five)  # the five, and the one
    assert "also in 2 other submissions" in page(reviewer_client, one)  # each page seen once before counting
    assert queries_for(one) == queries_for(five)


def test_a_photo_sent_more_often_than_a_page_reads_is_listed_within_bounds_and_more_are_said(
    reviewer_client, monkeypatch
):
    monkeypatch.setattr(likeness, "MAX_CANDIDATES", 6)
    monkeypatch.setattr(likeness, "MAX_LISTED", 4)
    real_opened, hashes_opened = likeness.opened, []
    monkeypatch.setattr(likeness, "opened", lambda image: hashes_opened.append(image.pk) or real_opened(image))

    def queries_for(submission):
        page(reviewer_client, submission)  # what a first view writes is not counted
        with CaptureQueriesContext(connection) as captured:
            page(reviewer_client, submission)
        candidates = [
            sql for sql in (query["sql"] for query in captured) if "intake_likenessband" in sql and "sealed" in sql
        ]
        # Six, and one to know that there are more: never every copy.
        assert len(candidates) == 1 and candidates[0].endswith("LIMIT 7")
        return len(captured)

    data = jpeg(textured(seed=30, size=(640, 480)))
    first = submitted(data)
    copies = [submitted(data) for _ in range(3)]
    below_the_bound = queries_for(first)
    copies += [submitted(data) for _ in range(5)]  # eight others: more than the six a page reads
    hashes_opened.clear()
    assert queries_for(first) == below_the_bound
    shown = page(reviewer_client, first)
    assert "also in at least 6 other submissions" in shown and "and 2 more" in shown
    listed = {copy.pk for copy in copies if reverse("review:submission", args=[copy.pk]) in shown}
    assert len(listed) == 4
    assert len(hashes_opened) <= 3 * (1 + 6)  # three renderings: its own photo and six others, each


def test_the_database_holds_no_plain_digest_or_perceptual_hash_of_a_clean_file():
    submission = submitted(jpeg(ORIGINAL))
    image = Image.objects.get(submission=submission)
    clean = blobs.read(image.clean_blob)
    digest = hashlib.sha256(clean).hexdigest()
    assert image.clean_sha256 == digest
    pdq, _ = likeness.pdq(likeness.picture_of(blobs.read(image.preview_blob)))
    actions.record_image_view(_reviewer(), image)
    plain = {digest, digest.upper(), pdq.hex()}
    secret_bytes = [bytes.fromhex(digest), pdq]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the schema
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes):
                        assert not any(secret in bytes(value) for secret in secret_bytes), table
                    else:
                        assert not any(secret in str(value) for secret in plain), table
    dump = io.StringIO()
    call_command("dumpdata", "intake.Image", "intake.LikenessBand", "intake.AuditEvent", stdout=dump)
    assert not any(secret in dump.getvalue() for secret in plain)


def _reviewer():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create(username="auditor")


def test_viewing_a_photo_is_audited_by_its_number_and_id_not_its_digest():
    image = Image.objects.get(submission=submitted(jpeg(ORIGINAL)))
    actions.record_image_view(_reviewer(), image)
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEWED_IMAGE)
    assert event.detail == {"image": 1, "image_id": str(image.pk)}


def test_bands_of_two_hashes_within_fifteen_bits_always_share_one():
    rng = np.random.default_rng(3)
    for _ in range(50):
        first = rng.bytes(32)
        flipped = int.from_bytes(first, "big")
        for bit in rng.choice(256, size=15, replace=False):
            flipped ^= 1 << int(bit)
        second = flipped.to_bytes(32, "big")
        assert likeness.distance(first, second) == 15
        assert set(likeness.band_tokens(first)) & set(likeness.band_tokens(second))


def _distance(first: PILImage.Image, second: PILImage.Image) -> int:
    return likeness.distance(likeness.pdq(first)[0], likeness.pdq(second)[0])


# --- 0012: the digests already stored are sealed, and the plain column goes --------------------------

digests_migration = importlib.import_module("intake.migrations.0012_digests")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_0012_seals_stored_digests_and_fills_their_tokens():
    call_command("migrate", "intake", "0011", verbosity=0)
    apps = MigrationExecutor(connection).loader.project_state(("intake", "0011_queue")).apps
    old_submission = apps.get_model("intake", "Submission").objects.create(receipt_digest="f" * 64, account="x")
    OldImage = apps.get_model("intake", "Image")
    digest = hashlib.sha256(b"a clean file").hexdigest()
    stored = OldImage.objects.create(submission=old_submission, position=0, state="clean", sha256=digest)
    OldImage.objects.create(submission=old_submission, position=1, state="failed", sha256="")
    digests_migration.seal_digests(apps, None)
    sealed = OldImage.objects.get(pk=stored.pk)
    assert sealed.sha256_token == likeness.digest_token(digest)
    assert digest.encode() not in bytes(sealed.sealed_sha256)
    assert OldImage.objects.get(position=1).sealed_sha256 is None
    call_command("migrate", "intake", verbosity=0)
    image = Image.objects.get(pk=stored.pk)
    assert image.clean_sha256 == digest
    assert "sha256" not in {field.name for field in Image._meta.get_fields()}
