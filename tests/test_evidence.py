"""Evidence packages: exported by a command or by an Exporter on the web, signed, verified offline, and
refused when a clean file is no longer the one recorded at intake."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from intake import actions, blobs, cleaning, crypto, evidence, evidence_verify
from intake.models import AuditEvent, Image, Message, Submission
from tests.conftest import ROOT, _user, camera_jpeg, log_in


@pytest.fixture
def out(tmp_path) -> Path:
    """Where packages are written: a folder of their own (the blobs are in ``tmp_path`` too)."""
    folder = tmp_path / "packages"
    folder.mkdir()
    return folder


@pytest.fixture
def exporter(db):
    return _user("esme", "Reviewer", "Exporter")


@pytest.fixture
def exporter_client(client, exporter):
    log_in(client, exporter)
    return client


def _cleaned_image(submission, position, *, message=None, orientation=6) -> Image:
    """An image cleaned by the engine and recorded as the worker records it, without a worker."""
    image = Image.objects.create(
        submission=submission, position=position, message=message, original_blob=blobs.write(b"raw upload")
    )
    actions.record_clean(image, cleaning.clean(camera_jpeg(orientation=orientation)))
    image.refresh_from_db()
    return image


def _rewrite_on_disk(name: str, data: bytes) -> None:
    """Replace a clean file as the worker still could: it holds the file keys and the blob folder, so it
    can write a valid blob of other content under the name the row records. The row itself it cannot
    change once the image is clean (migration 0012's trigger)."""
    blobs.delete(name)
    with mock.patch.object(blobs, "new_name", return_value=name):
        assert blobs.write(data) == name


@contextlib.contextmanager
def _as_the_database_owner():
    """Change a clean image's row as only the tables' owner could: by lifting the trigger that fixes a
    clean file (migration 0012) for the length of the block."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # The test's rows' deferred key checks are run first: a table with checks pending cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE intake_image DISABLE TRIGGER intake_image_clean_fixed")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE intake_image ENABLE TRIGGER intake_image_clean_fixed")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def testimony(db, reviewer):
    """A submission as reviewers meet it: a cleaned photo with a preview, a question, an answer that
    brought a second photo, a refused file, a status change and a note."""
    submission = Submission.objects.create(
        receipt_digest="e" * 64, account="They came at dawn, from the river road.", happened_where="Jableh"
    )
    first = _cleaned_image(submission, 0)
    Image.objects.filter(pk=first.pk).update(preview_blob=blobs.write(camera_jpeg(size=(160, 120))))
    actions.send_message(reviewer, submission, "Which street was it?")
    answer = Message.objects.create(
        submission=submission, position=1, sender=Message.Sender.WITNESS, text="Al-Corniche, by the bakery."
    )
    _cleaned_image(submission, 1, message=answer, orientation=1)
    Image.objects.create(
        submission=submission, position=2, state=Image.State.FAILED, refusal="not_an_image", message=answer
    )
    actions.change_status(reviewer, submission, Submission.Status.VERIFIED)
    actions.add_note(reviewer, submission, "Matches the second account from that street.")
    return submission


def export(submission, out: Path, by="esme", *extra) -> Path:
    call_command("export_evidence", submission.reference, "--out", str(out), "--by", by, *extra, stdout=io.StringIO())
    return out / submission.reference


def verify(package: Path, key: str | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = evidence_verify.run(package, key or evidence.public_key_text(), out)
    return status, out.getvalue()


def manifest_of(package: Path) -> dict:
    return json.loads((package / "manifest.json").read_text())


# --- A package and its verification ---------------------------------------------------------------


def test_an_exported_package_verifies_with_the_published_key(testimony, exporter, out):
    package = export(testimony, out)
    assert sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()) == [
        "conversation.txt",
        "files/1.jpg",
        "files/2.jpg",
        "manifest.json",
        "manifest.json.sig",
        "previews/1.jpg",
        "public-key.txt",
        "testimony.txt",
    ]
    status, said = verify(package)
    assert status == 0 and said.startswith("valid"), said
    # The raw key in hex, Tink's public keyset, and a file holding the key verify it too.
    assert verify(package, crypto.public_signing_key().hex())[0] == 0
    assert verify(package, crypto.public_signing_keyset())[0] == 0
    (out / "key.txt").write_text(evidence.public_key_text())
    assert verify(package, str(out / "key.txt"))[0] == 0


@pytest.mark.parametrize(
    "name",
    [
        "files/1.jpg",
        "files/2.jpg",
        "previews/1.jpg",
        "manifest.json",
        "testimony.txt",
        "conversation.txt",
        "manifest.json.sig",
    ],
)
def test_a_flipped_byte_in_any_file_fails_verification(testimony, exporter, out, name):
    package = export(testimony, out)
    path = package / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    status, said = verify(package)
    assert status == 1 and "invalid" in said


def test_a_removed_or_an_added_file_fails_verification(testimony, exporter, out):
    package = export(testimony, out)
    (package / "files" / "2.jpg").unlink()
    status, said = verify(package)
    assert status == 1 and "files/2.jpg is missing" in said

    (out / "again").mkdir()
    other = export(testimony, out / "again")
    (other / "files" / "3.jpg").write_bytes(b"planted")
    status, said = verify(other)
    assert status == 1 and "files/3.jpg is in the package but not in the manifest" in said


def test_another_key_fails_verification(testimony, exporter, out):
    package = export(testimony, out)
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    status, said = verify(package, base64.b64encode(stranger).decode())
    assert status == 1 and "signature" in said
    # The copy of the key inside the package proves nothing: a forger would put theirs there.
    assert (package / "public-key.txt").read_text().strip() == evidence.public_key_text()


def test_a_manifest_resigned_by_another_key_fails_with_the_published_one(testimony, exporter, out):
    package = export(testimony, out)
    forger = Ed25519PrivateKey.generate()
    manifest = manifest_of(package)
    manifest["submission"]["received_on"] = "2020-01-01"
    (package / "manifest.json").write_bytes(json.dumps(manifest).encode())
    (package / "manifest.json.sig").write_bytes(forger.sign((package / "manifest.json").read_bytes()))
    assert verify(package)[0] == 1


# --- What the manifest says -------------------------------------------------------------------------


def test_the_manifest_lists_what_intake_recorded_and_the_audit_trail(testimony, exporter, out):
    package = export(testimony, out)
    manifest = manifest_of(package)
    first, second = (Image.objects.get(submission=testimony, position=n) for n in (0, 1))
    files = {entry["path"]: entry for entry in manifest["files"]}

    clean = files["files/1.jpg"]
    assert clean["sha256"] == clean["sha256_at_intake"] == first.clean_sha256
    assert clean["sha256"] == hashlib.sha256((package / "files/1.jpg").read_bytes()).hexdigest()
    assert clean["size"] == first.size
    assert clean["media_type"] == "image/jpeg"
    assert clean["came_with"] == "testimony"
    assert clean["received_on"] == testimony.received_on.isoformat()
    codes = {removed["code"] for removed in clean["removed"]}
    assert set(first.removed) == codes and "gps" in codes
    assert all(removed["label"] for removed in clean["removed"])
    assert files["files/2.jpg"]["came_with"] == "message 2"
    assert files["files/2.jpg"]["sha256_at_intake"] == second.clean_sha256
    assert files["previews/1.jpg"]["of"] == "files/1.jpg"
    for text in ("testimony.txt", "conversation.txt"):
        assert files[text]["sha256"] == hashlib.sha256((package / text).read_bytes()).hexdigest()
    assert manifest["not_included"] == [
        {
            "image": 3,
            "came_with": "message 2",
            "received_on": testimony.received_on.isoformat(),
            "state": "refused",
            "reason": "not_an_image",
            "reason_params": {},
            "reason_text": manifest["not_included"][0]["reason_text"],
        }
    ]

    assert manifest["submission"]["reference"] == testimony.reference
    assert manifest["submission"]["received_on"] == testimony.received_on.isoformat()
    assert manifest["submission"]["status"] == "verified"
    actions_in_trail = [event["action"] for event in manifest["audit_trail"]]
    assert actions_in_trail == ["sent_message", "changed_status", "added_note", "exported"]
    assert manifest["audit_trail"][-1]["actor"] == "esme"
    assert manifest["export"]["by"] == "esme"
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert manifest["audit_trail"][-1]["at"] == manifest["export"]["at"] == event.at.isoformat()
    assert event.detail["manifest_sha256"] == hashlib.sha256((package / "manifest.json").read_bytes()).hexdigest()
    assert event.detail["files"] == len(manifest["files"])
    assert manifest["public_key"]["sha256"] == hashlib.sha256(crypto.public_signing_key()).hexdigest()


def test_the_account_and_the_conversation_are_in_the_package_but_not_the_notes(testimony, exporter, out):
    package = export(testimony, out)
    assert "They came at dawn, from the river road." in (package / "testimony.txt").read_text()
    assert "Jableh" in (package / "testimony.txt").read_text()
    conversation = (package / "conversation.txt").read_text()
    assert "Investigator (rania)" in conversation and "Which street was it?" in conversation
    assert "Witness" in conversation and "Al-Corniche, by the bakery." in conversation
    assert "files/2.jpg" in conversation
    assert not (package / "notes.txt").exists()
    assert "Matches the second account" not in (package / "manifest.json").read_text()


def test_the_notes_go_in_when_asked_for(testimony, exporter, out):
    package = export(testimony, out, "esme", "--with-notes")
    assert "Matches the second account from that street." in (package / "notes.txt").read_text()
    assert verify(package)[0] == 0


# --- Nothing altered after intake ---------------------------------------------------------------


def test_a_clean_file_replaced_on_disk_is_refused(testimony, exporter, out):
    first, second = (Image.objects.get(submission=testimony, position=n) for n in (0, 1))
    shutil.copyfile(blobs.path_of(second.clean_blob), blobs.path_of(first.clean_blob))
    with pytest.raises(CommandError, match="files/1.jpg cannot be read"):
        export(testimony, out)
    assert not (out / testimony.reference).exists()
    assert not any(out.iterdir())  # nothing half-written left behind
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_a_clean_file_whose_digest_differs_from_intake_is_refused(testimony, exporter, out):
    # A file that decrypts well but is not the one the worker cleaned and recorded.
    _rewrite_on_disk(Image.objects.get(submission=testimony, position=0).clean_blob, b"another file entirely")
    with pytest.raises(CommandError, match="files/1.jpg is not the file recorded at intake"):
        export(testimony, out)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_a_clean_file_without_a_digest_from_intake_is_refused(testimony, exporter, out):
    with _as_the_database_owner():
        Image.objects.filter(submission=testimony, position=1).update(sealed_sha256=None)
    with pytest.raises(CommandError, match="files/2.jpg has no SHA-256 recorded at intake"):
        export(testimony, out)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_a_digest_moved_from_another_row_is_refused_and_the_page_still_shows(testimony, exporter, exporter_client, out):
    first, second = (Image.objects.get(submission=testimony, position=n) for n in (0, 1))
    with _as_the_database_owner():
        Image.objects.filter(pk=second.pk).update(sealed_sha256=first.sealed_sha256)
    with pytest.raises(CommandError, match="files/2.jpg: the digest recorded at intake does not open"):
        export(testimony, out)
    page = exporter_client.get(reverse("review:submission", args=[testimony.pk]))
    assert page.status_code == 200
    assert "unreadable: the recorded digest is damaged" in page.content.decode()


# --- The command --------------------------------------------------------------------------------


def test_the_command_refuses_a_reviewer_without_the_exporter_role(testimony, reviewer, out):
    with pytest.raises(CommandError, match="Reviewer and Exporter"):
        export(testimony, out, by="rania")
    assert not any(out.iterdir())
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_the_command_refuses_an_exporter_who_is_not_a_reviewer_or_is_inactive(testimony, exporter, out):
    _user("xena", "Exporter")
    with pytest.raises(CommandError, match="Reviewer and Exporter"):
        export(testimony, out, by="xena")
    exporter.is_active = False
    exporter.save()
    with pytest.raises(CommandError, match="Reviewer and Exporter"):
        export(testimony, out)


def test_each_exported_submission_is_audited_once(testimony, exporter, out):
    submission = Submission.objects.create(receipt_digest="c" * 64, account="The second account.")
    _cleaned_image(submission, 0)
    printed = io.StringIO()
    call_command(
        "export_evidence",
        testimony.reference.lower(),
        str(submission.pk),
        "--out",
        str(out),
        "--by",
        "esme",
        stdout=printed,
    )
    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED)
    assert sorted(str(event.submission_id) for event in events) == sorted([str(testimony.pk), str(submission.pk)])
    assert all(event.actor == exporter for event in events)
    for event in events:
        package = out / Submission.objects.get(pk=event.submission_id).reference
        digest = hashlib.sha256((package / "manifest.json").read_bytes()).hexdigest()
        assert event.detail == {
            "manifest_sha256": digest,
            "files": len(manifest_of(package)["files"]),
            "via": "command",
        }
        assert f"{package}  manifest SHA-256 {digest}" in printed.getvalue()


def test_the_command_never_overwrites_a_package(testimony, exporter, out):
    export(testimony, out)
    before = (out / testimony.reference / "manifest.json").read_bytes()
    with pytest.raises(CommandError, match="already exists"):
        export(testimony, out)
    assert (out / testimony.reference / "manifest.json").read_bytes() == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).count() == 1


def test_an_unknown_reference_is_refused(exporter, out):
    with pytest.raises(CommandError, match="No submission"):
        call_command("export_evidence", "0000ABCD", "--out", str(out), "--by", "esme")


def test_verify_evidence_says_valid_or_fails(testimony, exporter, out):
    package = export(testimony, out)
    out = io.StringIO()
    call_command("verify_evidence", str(package), "--public-key", evidence.public_key_text(), stdout=out)
    assert out.getvalue().startswith("valid")
    (package / "testimony.txt").write_text("Something else.")
    with pytest.raises(CommandError):
        call_command("verify_evidence", str(package), stdout=io.StringIO())


def test_evidencekey_prints_the_raw_key_and_the_tink_keyset(db):
    out = io.StringIO()
    call_command("evidencekey", stdout=out)
    assert evidence.public_key_text() in out.getvalue()
    assert json.loads(out.getvalue().split("Tink public keyset (JSON):\n", 1)[1])["primaryKeyId"]


# --- The web --------------------------------------------------------------------------------------


def test_a_reviewer_without_the_exporter_role_sees_no_export_and_gets_404(reviewer_client, testimony):
    page = reviewer_client.get(reverse("review:submission", args=[testimony.pk])).content.decode()
    assert 'id="export"' not in page
    response = reviewer_client.post(reverse("review:export", args=[testimony.pk]))
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_an_exporter_without_a_second_factor_gets_404(client, exporter, testimony):
    client.force_login(exporter)  # a password alone
    response = client.post(reverse("review:export", args=[testimony.pk]))
    assert response.status_code in (302, 404)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_an_exporter_downloads_a_zip_that_verifies(exporter_client, testimony, out):
    page = exporter_client.get(reverse("review:submission", args=[testimony.pk])).content.decode()
    assert 'id="export"' in page
    assert page.index('id="notes"') < page.index('id="export"')
    response = exporter_client.post(reverse("review:export", args=[testimony.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{testimony.reference}.zip"'
    assert "no-store" in response["Cache-Control"]
    archive = out / "package.zip"
    archive.write_bytes(b"".join(response.streaming_content))
    status, said = verify(archive)
    assert status == 0, said
    names = zipfile.ZipFile(archive).namelist()
    assert f"{testimony.reference}/files/1.jpg" in names and f"{testimony.reference}/notes.txt" not in names
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.detail["via"] == "web" and event.submission_id == testimony.pk
    manifest = json.loads(zipfile.ZipFile(archive).read(f"{testimony.reference}/manifest.json"))
    assert (
        event.detail["manifest_sha256"]
        == hashlib.sha256(zipfile.ZipFile(archive).read(f"{testimony.reference}/manifest.json")).hexdigest()
    )
    assert manifest["audit_trail"][-1]["action"] == "exported"


def test_a_flipped_byte_in_a_downloaded_zip_fails(exporter_client, testimony, out):
    response = exporter_client.post(reverse("review:export", args=[testimony.pk]))
    archive = out / "package.zip"
    data = bytearray(b"".join(response.streaming_content))
    clean = Image.objects.get(submission=testimony, position=0)
    # The clean file is stored uncompressed: find it in the archive and change a byte of it.
    start = bytes(data).index(blobs.read(clean.clean_blob)[:64])
    data[start + 100] ^= 0x01
    archive.write_bytes(bytes(data))
    assert verify(archive)[0] == 1


def test_a_zip_holding_a_second_file_of_a_listed_name_fails(exporter_client, testimony, out):
    response = exporter_client.post(reverse("review:export", args=[testimony.pk]))
    archive = out / "package.zip"
    archive.write_bytes(b"".join(response.streaming_content))
    # Tools differ on which of two same-named members they extract: the planted one could be shown.
    with pytest.warns(UserWarning), zipfile.ZipFile(archive, "a") as appended:
        appended.writestr(f"{testimony.reference}/files/1.jpg", b"planted")
    status, said = verify(archive)
    assert status == 1 and "two files of the same name" in said


def test_the_web_export_of_an_altered_file_is_refused_with_a_message(exporter_client, testimony):
    _rewrite_on_disk(Image.objects.get(submission=testimony, position=0).clean_blob, b"another file entirely")
    response = exporter_client.post(reverse("review:export", args=[testimony.pk]), follow=True)
    assert response.status_code == 200
    assert "Not exported" in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_the_web_export_needs_the_csrf_token(exporter, testimony):
    client = Client(enforce_csrf_checks=True)
    log_in(client, exporter)
    response = client.post(reverse("review:export", args=[testimony.pk]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_the_admin_index_publishes_the_public_key(client, admin_user):
    log_in(client, admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert evidence.public_key_text() in page
    assert evidence.public_key_fingerprint() in page


# --- The offline verifier stands alone ------------------------------------------------------------


def test_the_verifier_runs_alone_without_django(testimony, exporter, out):
    package = export(testimony, out)
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    script = str(ROOT / "intake" / "evidence_verify.py")
    key = evidence.public_key_text()
    result = subprocess.run(
        [sys.executable, "-I", script, str(package), "--public-key", key],
        capture_output=True,
        text=True,
        env=clean_env,
        cwd=out,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("valid")
    # The same run with Django and the service made impossible to import: it needs neither.
    refuse = (
        "import sys, runpy\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('django', 'intake', 'tink'):\n"
        "            raise ImportError('the verifier imported ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        f"sys.argv = ['evidence_verify.py', {str(package)!r}, '--public-key', {key!r}]\n"
        f"runpy.run_path({script!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", refuse], capture_output=True, text=True, env=clean_env, cwd=out
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (package / "conversation.txt").write_text("rewritten")
    result = subprocess.run(
        [sys.executable, "-I", script, str(package), "--public-key", key], capture_output=True, text=True, env=clean_env
    )
    assert result.returncode == 1 and "conversation.txt" in result.stdout


def test_a_large_file_is_streamed_into_the_zip_in_chunks(exporter_client, exporter, out):
    large = bytes(range(256)) * (6 * 4096)  # 6 MiB
    submission = Submission.objects.create(receipt_digest="f" * 64, account="A long clip.")
    image = Image.objects.create(submission=submission, position=0, original_blob=blobs.write(b"raw upload"))
    cleaned = cleaning.Cleaned(
        file=io.BytesIO(large),
        size=len(large),
        media_type="video/mp4",
        extension="mp4",
        removed=(),
        sha256=hashlib.sha256(large).hexdigest(),
    )
    actions.record_clean(image, cleaned)
    response = exporter_client.post(reverse("review:export", args=[submission.pk]))
    chunks = list(response.streaming_content)
    # Sent as it is read, a chunk at a time: never the whole file in memory.
    assert max(len(chunk) for chunk in chunks) < 2 * 1024 * 1024
    archive = out / "large.zip"
    archive.write_bytes(b"".join(chunks))
    assert verify(archive)[0] == 0
    assert zipfile.ZipFile(archive).read(f"{submission.reference}/files/1.mp4") == large
