"""What an adversary who copies the database, the blob folder or the temporary folder finds: ciphertext."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from intake import blobs
from intake.fields import EncryptedTextField
from intake.models import Note, Submission
from tests.conftest import camera_jpeg, form_token

MARKER = "QX7-MARKER-Latakia-ضيعة"


def all_database_bytes() -> bytes:
    """Every row of every table of the service, as the database returns it."""
    dump = io.BytesIO()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    dump.write(bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode())
    return dump.getvalue()


def row_id(instance):
    """A UUID primary key as the database stores it (SQLite keeps it as hex text)."""
    return instance.pk.hex if connection.vendor == "sqlite" else instance.pk


def files_under(folder) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


@pytest.mark.django_db
def test_no_plaintext_in_database_blobs_or_temp_after_a_submission_with_a_large_image(
    client, settings, tmp_path, reviewer, temporary_files
):
    temp = tmp_path / "tmp"
    temp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)
    photo = camera_jpeg(size=(2600, 2000), comment=MARKER.encode()) + MARKER.encode() * 200_000
    assert len(photo) > 2_621_440  # Django would spool this to a temporary file

    response = client.post(
        reverse("witness:submit"),
        {
            **form_token(),
            "account": f"I saw it. {MARKER}",
            "happened_when": MARKER,
            "happened_where": MARKER,
            "images": [SimpleUploadedFile("IMG_0001.jpg", photo, "image/jpeg")],
        },
    )
    assert response.status_code == 200 and Submission.objects.count() == 1
    Note.objects.create(submission=Submission.objects.get(), author=reviewer, text=f"note {MARKER}")

    needles = [MARKER.encode(), MARKER.encode("utf-16-le"), b"WitnessPhone", b"SN-4471"]
    stored = all_database_bytes() + files_under(settings.INTAKE_BLOB_DIR) + files_under(temp)
    for needle in needles:
        assert needle not in stored
    assert temporary_files == []  # Django deletes its spool files at the end of a request: none was made
    # The plaintext was there to find: the same search finds it in what was posted.
    assert MARKER.encode() in photo and b"WitnessPhone" in photo


@pytest.mark.django_db
def test_encrypted_columns_hold_versioned_ciphertext_bound_to_their_row(reviewer):
    first = Submission.objects.create(receipt_digest="a" * 64, account="first account")
    second = Submission.objects.create(receipt_digest="b" * 64, account="second account")
    with connection.cursor() as cursor:
        cursor.execute("SELECT account FROM intake_submission WHERE id = %s", [row_id(first)])
        stored = bytes(cursor.fetchone()[0])
    assert stored[:1] == b"\x01" and b"first account" not in stored
    # Copy the first row's ciphertext into the second row: it must not decrypt there.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE intake_submission SET account = %s WHERE id = %s",
            [stored, row_id(second)],
        )
    from intake.crypto import DecryptionError

    with pytest.raises(DecryptionError):
        Submission.objects.get(pk=second.pk).account  # noqa: B018


@pytest.mark.django_db
def test_encrypted_fields_cannot_be_written_or_searched_around_the_model():
    Submission.objects.create(receipt_digest="c" * 64, account="text")
    with pytest.raises(TypeError):
        Submission.objects.update(account="plaintext written by a query")
    with pytest.raises(TypeError):
        list(Submission.objects.filter(account="text"))


def test_every_witness_text_field_and_note_is_encrypted():
    assert isinstance(Submission._meta.get_field("account"), EncryptedTextField)
    assert isinstance(Submission._meta.get_field("happened_when"), EncryptedTextField)
    assert isinstance(Submission._meta.get_field("happened_where"), EncryptedTextField)
    assert isinstance(Note._meta.get_field("text"), EncryptedTextField)


@pytest.mark.django_db
def test_blob_files_are_ciphertext_readable_only_by_the_owner():
    name = blobs.write(b"JFIF plaintext image bytes")
    path = blobs.path_of(name)
    raw = path.read_bytes()
    assert b"plaintext" not in raw
    assert path.stat().st_mode & 0o077 == 0
    assert blobs.read(name) == b"JFIF plaintext image bytes"


@pytest.mark.django_db
def test_blob_access_and_modification_times_say_only_the_day():
    path = blobs.path_of(blobs.write(b"x"))
    assert path.stat().st_mtime % 86400 == 0
    assert path.stat().st_atime % 86400 == 0
