"""The witness side, through the HTTP form: what is accepted, what is refused, and what is kept."""

import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from intake import blobs, receipts
from intake.models import Image, Submission
from tests.conftest import camera_jpeg, form_token

pytestmark = pytest.mark.django_db
SUBMIT = reverse("witness:submit")
STATUS = reverse("witness:status")


def upload(data: bytes, name="IMG_20260307_234109_Latakia.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def submit(client, account="Men in masks took my neighbours at night.", images=(), **fields):
    return client.post(SUBMIT, {"account": account, "images": list(images), **form_token(), **fields})


def receipt_in(response) -> str:
    """The receipt a page shows, as its 28 digits 0-9 (in Arabic, the line below the Arabic-Indic one)."""
    shown = response.content.decode().split('class="receipt"', 1)[-1]
    return "".join(re.findall(r"<span>([0-9]{4})</span>", shown))


def png_bytes() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (20, 20), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


# --- The form ----------------------------------------------------------------------------------


def test_the_form_states_its_limits_and_needs_no_javascript(client):
    page = client.get(SUBMIT).content.decode()
    # Only our own small scripts, deferred, that help where they run (tests/browser: JavaScript off).
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == [
        '<script src="/static/intake/exit.js" defer>',
        '<script src="/static/intake/photos.js" defer>',
        '<script src="/static/intake/sent.js" defer>',
    ]
    assert 'enctype="multipart/form-data"' in page
    assert "Up to 10 photos" in page
    assert "20.0\xa0MB" in page and "600.0\xa0MB" in page


def test_the_pages_load_nothing_from_another_site(client):
    """Links may lead away ("Leave quickly", Tor's site); nothing is loaded or sent elsewhere."""
    for url in (SUBMIT, STATUS, reverse("witness:safety")):
        page = client.get(url).content.decode()
        assert not re.search(r'(src|action)="(https?:)?//', page), url
        assert not re.search(r'<link[^>]*href="(https?:)?//', page), url


def test_a_testimony_with_photos_is_stored_and_a_receipt_is_shown(client, photo):
    response = submit(
        client,
        images=[upload(photo), upload(png_bytes(), "b.png", "image/png")],
        happened_when="7 March, night",
        happened_where="Baniyas",
    )
    assert response.status_code == 200
    receipt = receipt_in(response)
    assert receipts.normalise(receipt) == receipt
    assert "Keep this receipt secret" in response.content.decode()
    assert "It came with 2 photos and videos." in response.content.decode()
    submission = Submission.objects.get()
    assert submission.account == "Men in masks took my neighbours at night."
    assert submission.happened_when == "7 March, night"
    assert submission.happened_where == "Baniyas"
    assert [image.state for image in submission.images.all()] == [Image.State.PENDING] * 2
    assert all(blobs.exists(image.original_blob) for image in submission.images.all())


def test_the_receipt_of_a_testimony_without_photos_says_so(client):
    assert "It came with 0 photos and videos." in submit(client).content.decode()


def test_the_receipt_itself_is_not_stored(client):
    from tests.test_encryption_at_rest import all_database_bytes

    receipt = receipt_in(submit(client))
    stored = all_database_bytes()
    # Neither the receipt nor any 12 of its digits in a row appear anywhere in the database.
    assert len(receipt) == receipts.DIGITS
    for start in range(len(receipt) - 11):
        assert receipt[start : start + 12].encode() not in stored
    assert Submission.objects.get().receipt_digest == receipts.digest(receipt)


def test_a_testimony_needs_an_account(client):
    response = submit(client, account="   ")
    assert response.status_code == 200
    assert "Write what happened: it is the one thing a testimony needs." in response.content.decode()
    assert not Submission.objects.exists()


def test_an_oversized_account_is_refused_and_given_back(client, settings):
    too_long = "x" * (settings.INTAKE_MAX_ACCOUNT_CHARS + 1)
    response = submit(client, account=too_long, happened_where="Jableh")
    assert "Ensure this value has at most" in response.content.decode()
    assert response.context["form"]["account"].value() == too_long  # what they wrote is not lost
    assert response.context["form"]["happened_where"].value() == "Jableh"
    assert not Submission.objects.exists()


def test_a_png_named_jpg_is_accepted_by_its_content(client):
    submit(client, images=[upload(png_bytes(), "photo.jpg", "image/jpeg")])
    assert Image.objects.count() == 1


def test_a_pdf_named_jpg_is_refused_and_nothing_is_stored(client, settings):
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    response = submit(client, account="keep this text", images=[upload(pdf, "photo.jpg", "image/jpeg")])
    page = response.content.decode()
    assert "File 1 is not a photo or video in a format we accept" in page
    assert "keep this text" in page
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_one_bad_file_refuses_the_whole_submission_and_keeps_no_upload(client, photo):
    response = submit(client, images=[upload(photo), upload(b"<html>hello</html>", "x.gif", "image/gif")])
    assert "File 2 is not a photo" in response.content.decode()
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_a_file_over_the_size_limit_is_refused_with_its_number(client, settings, photo):
    settings.INTAKE_MAX_IMAGE_BYTES = len(photo) - 1
    response = submit(client, images=[upload(photo)])
    assert "File 1 is larger than" in response.content.decode()
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_files_over_the_total_limit_are_refused(client, settings, photo):
    settings.INTAKE_MAX_TOTAL_BYTES = len(photo) * 2 - 1
    response = submit(client, images=[upload(photo), upload(photo)])
    assert "Together the files are larger than" in response.content.decode()
    assert not Submission.objects.exists()


def test_more_than_ten_photos_are_refused(client):
    response = submit(client, images=[upload(png_bytes(), f"{n}.png") for n in range(11)])
    assert "You chose 11 files; the most you can send is 10." in response.content.decode()
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_an_empty_file_is_refused(client):
    response = submit(client, images=[upload(b"", "empty.jpg")])
    assert "File 1 is empty" in response.content.decode()


def test_file_names_are_not_stored(client, photo):
    submit(client, images=[upload(photo, "Yusuf_Latakia_2026-03-07.jpg")])
    image = Image.objects.get()
    assert all("Yusuf" not in str(getattr(image, field.attname)) for field in Image._meta.concrete_fields)


# --- Coming back with the receipt ------------------------------------------------------------


def test_the_receipt_opens_the_status_of_its_own_submission(client):
    first = receipt_in(submit(client, account="first"))
    second = receipt_in(submit(client, account="second"))
    mine = Submission.objects.get(receipt_digest=receipts.digest(first))
    mine.status = Submission.Status.VERIFIED
    mine.save(update_fields=["status"])

    page = client.post(STATUS, {"receipt": first}).content.decode()
    assert "Being reviewed" in page
    page = client.post(STATUS, {"receipt": second}).content.decode()
    assert "Received" in page and "Being reviewed" not in page
    assert second not in page  # a receipt that opened a testimony is not left on the page


def test_a_receipt_that_opens_nothing_is_given_back_to_correct(client):
    typo = "abandon ability able about above absent absorb abstrac"
    page = client.post(STATUS, {"receipt": typo}).content.decode()
    assert f'value="{typo}"' in page


def test_a_receipt_typed_loosely_still_opens(client):
    receipt = receipt_in(submit(client))
    loose = "  " + "-".join(receipts.groups(receipt)) + " "
    assert "Status:" in client.post(STATUS, {"receipt": loose}).content.decode()


def test_a_wrong_receipt_opens_nothing(client):
    submit(client)
    page = client.post(STATUS, {"receipt": receipts.new_receipt()}).content.decode()
    assert "No testimony matches this receipt" in page
    assert "Status:" not in page


def test_the_witness_is_shown_a_day_not_a_time(client):
    receipt = receipt_in(submit(client))
    page = client.post(STATUS, {"receipt": receipt}).content.decode()
    assert not re.search(r"\d{1,2}:\d{2}", page)


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        ("new", "Received"),
        ("in_review", "Being reviewed"),
        ("needs_follow_up", "Being reviewed"),
        ("rejected", "Closed"),
        ("archived", "Closed"),
    ],
)
def test_the_witness_sees_a_coarse_status(client, status, shown):
    receipt = receipt_in(submit(client))
    Submission.objects.update(status=status)
    assert f"<strong>{shown}</strong>" in client.post(STATUS, {"receipt": receipt}).content.decode()


@pytest.mark.parametrize("with_cookie", [False, True])
def test_a_witness_post_without_the_csrf_token_is_refused_and_keeps_no_upload(photo, with_cookie):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    if with_cookie:
        client.get(SUBMIT)  # the CSRF cookie is set, but the form's token is missing
    response = client.post(SUBMIT, {"account": "x", "images": [upload(photo)]})
    assert response.status_code == 403
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_twelve_photos_get_the_forms_message_and_only_ten_are_ever_written(client, monkeypatch):
    written = []
    original_init = blobs.BlobWriter.__init__

    def counting_init(self):
        original_init(self)
        written.append(self.name)

    monkeypatch.setattr(blobs.BlobWriter, "__init__", counting_init)
    response = submit(client, account="kept", images=[upload(png_bytes(), f"{n}.png") for n in range(12)])
    assert response.status_code == 200
    assert "You chose 12 files; the most you can send is 10." in response.content.decode()
    assert response.context["form"]["account"].value() == "kept"
    assert len(written) == 10
    assert blobs.all_names() == []


def test_an_account_far_over_the_limit_with_a_photo_gets_the_forms_message(client, settings, photo):
    too_long = "x" * (settings.INTAKE_MAX_ACCOUNT_CHARS * 6)
    response = submit(client, account=too_long, images=[upload(photo)])
    assert response.status_code == 200
    assert "Ensure this value has at most" in response.content.decode()
    assert blobs.all_names() == []


def test_a_request_too_large_to_parse_gets_a_clear_page_and_keeps_no_upload(client, settings, photo):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = submit(client, account="x" * 5000, images=[upload(photo)])
    assert response.status_code == 400
    assert "Nothing was stored" in response.content.decode()
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_a_crash_after_the_uploads_were_received_keeps_no_upload(client, photo, monkeypatch):
    from intake.witness import views

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(views.actions, "submit_testimony", crash)
    client.raise_request_exception = False
    response = submit(client, images=[upload(photo), upload(photo)])
    assert response.status_code == 500
    assert blobs.all_names() == []


def test_a_large_photo_never_goes_through_a_temporary_file(client, temporary_files):
    """Django spools uploads over 2.5 MB to a plaintext temporary file; ours must never make one."""
    big = camera_jpeg(size=(3000, 2400)) + b"\0" * 3_000_000  # past Django's 2.5 MB memory threshold
    assert len(big) > 2_621_440
    submit(client, images=[upload(big)])
    assert Image.objects.count() == 1
    assert temporary_files == []


def test_the_temporary_file_check_catches_djangos_own_upload_handlers(client, settings, temporary_files):
    settings.FILE_UPLOAD_HANDLERS = [
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]
    big = camera_jpeg(size=(3000, 2400)) + b"\0" * 3_000_000
    client.post(SUBMIT, {"account": "x", "images": [upload(big)]})
    assert temporary_files != []


@pytest.mark.parametrize("format_name", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF", "AVIF"])
def test_every_promised_format_is_accepted_by_its_content(client, format_name):
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    PILImage.new("RGB", (32, 32), (90, 20, 20)).save(out, format_name)
    response = submit(client, images=[upload(out.getvalue(), "upload.bin", "application/octet-stream")])
    assert "Keep this receipt secret" in response.content.decode(), format_name
    assert Image.objects.count() == 1


# --- The database down ------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["OperationalError", "InterfaceError"])
def test_with_the_database_down_the_witness_keeps_their_text_and_nothing_is_stored(client, photo, monkeypatch, error):
    """Not the generic error page: what happened, that nothing was kept, and what they wrote. (A stale
    connection after a restart raises InterfaceError; a server that is down, OperationalError.)"""
    from django.db import utils

    def database_down(**fields):
        raise getattr(utils, error)("server closed the connection unexpectedly")

    monkeypatch.setattr(Submission.objects, "create", database_down)
    response = submit(client, account="kept through the outage", images=[upload(photo)], happened_where="Jableh")
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "not received" in page and "Nothing was stored" in page and "try again in a few minutes" in page
    assert "kept through the outage" in page and "Jableh" in page
    assert "Keep this receipt secret" not in page
    assert blobs.all_names() == []

    monkeypatch.undo()
    assert "Keep this receipt secret" in submit(client, images=[upload(photo)]).content.decode()


def test_with_the_database_down_the_status_page_says_try_again_later(client, monkeypatch):
    from django.db import OperationalError

    receipt = receipt_in(submit(client))

    def database_down(**lookup):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(Submission.objects, "filter", database_down)
    response = client.post(STATUS, {"receipt": receipt})
    assert response.status_code == 503
    page = response.content.decode()
    assert "try again later" in page
    assert receipt not in page  # the receipt is not echoed back
    monkeypatch.undo()
    assert "Status:" in client.post(STATUS, {"receipt": receipt}).content.decode()


def test_stale_database_connections_are_replaced_after_an_outage():
    from django.db import connection

    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0  # persistent, hence the checks


# --- Videos on the same form ---------------------------------------------------------------------


def test_the_form_states_the_video_limits_in_plain_words(client, settings):
    settings.INTAKE_MAX_VIDEO_BYTES = 500 * 1024 * 1024
    settings.INTAKE_MAX_VIDEO_SECONDS = 30 * 60
    settings.INTAKE_MAX_TOTAL_BYTES = 600 * 1024 * 1024
    page = client.get(SUBMIT).content.decode()
    assert "Photos and videos (optional)" in page
    assert "Up to 10 photos and videos at a time." in page
    # Each list of formats is isolated, to read as one run in right-to-left sentences too.
    assert "Photos (\u2068JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF\u2069): each at most 20.0\xa0MB." in page
    assert "Videos (\u2068MP4, MOV, 3GP, WebM, MKV\u2069): each at most 500.0\xa0MB and 30 minutes long." in page
    assert "All together at most 600.0\xa0MB." in page
    assert f'data-max-video-bytes="{500 * 1024 * 1024}"' in page


def test_a_video_over_its_limit_is_told_with_the_video_limit(settings):
    from intake.uploads import SealedUpload
    from intake.witness.forms import ImagesField

    settings.INTAKE_MAX_VIDEO_BYTES = 50 * 1024 * 1024
    video = SealedUpload(blob=None, size=51 * 1024 * 1024, head=b"", too_large=True, kind="video")
    photo = SealedUpload(blob=None, size=21 * 1024 * 1024, head=b"", too_large=True, kind="photo")
    with pytest.raises(ValidationError) as refused:
        ImagesField().validate([photo, video])
    assert refused.value.messages == [
        "File 1 is larger than 20.0\xa0MB, the most for a photo.",
        "File 2 is larger than 50.0\xa0MB, the most for a video.",
    ]


def test_the_status_page_names_each_refused_file_and_counts_photos_and_videos(client):
    receipt = receipts.new_receipt()
    submission = Submission.objects.create(receipt_digest=receipts.digest(receipts.normalise(receipt)), account="x")
    Image.objects.create(submission=submission, position=0, state=Image.State.CLEAN, media_type="video/mp4")
    Image.objects.create(
        submission=submission,
        position=1,
        state=Image.State.FAILED,
        refusal="too_large",
        refusal_params={"megabytes": 500},
    )
    page = client.post(STATUS, {"receipt": receipt}).content.decode()
    assert "Photos and videos received: <strong>2</strong>" in page
    assert "Cleaned, ready for investigators: <strong>1</strong>" in page
    assert re.search(r"File 2: [^<]+", page)


def test_the_safety_page_says_voices_are_kept_and_what_is_removed_from_videos(client):
    page = client.get(reverse("witness:safety")).content.decode()
    assert "we keep the sound of a video, because it is evidence" in page
    assert "From videos, we remove the place where they were filmed" in page
