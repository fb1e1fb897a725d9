"""intake.crypto: known answers, and every way a ciphertext must fail to open."""

import io
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from intake import crypto

# A fixed keys document and ciphertexts made with it once. If these stop decrypting, stored data of
# every installation would stop decrypting too: the envelope format has changed.
KNOWN_KEYS = json.dumps(
    {
        "version": 1,
        "fields": {
            "primaryKeyId": 1597171912,
            "key": [
                {
                    "keyData": {
                        "typeUrl": "type.googleapis.com/google.crypto.tink.XChaCha20Poly1305Key",
                        "value": "GiAKv/0k7C4PF2Ltmf9KmoEAOpzUj2/rybC8U+EEXJQjTQ==",
                        "keyMaterialType": "SYMMETRIC",
                    },
                    "status": "ENABLED",
                    "keyId": 1597171912,
                    "outputPrefixType": "TINK",
                }
            ],
        },
        "files": {
            "primaryKeyId": 1050638122,
            "key": [
                {
                    "keyData": {
                        "typeUrl": "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
                        "value": "EggIgIBAECAYAxogkImXOJD4Hfhg4vdt0mqPjnQ5APvHSr9nu/iWykHRRC0=",
                        "keyMaterialType": "SYMMETRIC",
                    },
                    "status": "ENABLED",
                    "keyId": 1050638122,
                    "outputPrefixType": "RAW",
                }
            ],
        },
        "receipt_pepper": "3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvu8=",
    }
)
KNOWN_CONTEXT = crypto.field_context("intake_submission", "account", "0b6f1b0e-2a54-4a4e-9a7a-3b1f6b5f0c11")
KNOWN_FIELD = bytes.fromhex(
    "01015f32e8c886036d7164745f04933d3b5e406f7fd903bebd2548cb2deb5fc008412557da2081a72cb5f0bcd224e91caf19c1762acaa088dcdf7a9d69d8028ab00e2d94"
)
KNOWN_FILE = bytes.fromhex(
    "01284cad4a8154fc800e4bc6a87629879656794c50519742b15252e1c071171ed537c3fa5b1bd46c0512baa7d52935ef51f4d07f9869ce2bbecab43128a4d21b3a801793cab9ad1f35bd"
)


@pytest.fixture
def known_keys(settings):
    """A keys document of the first version (fields, files and the pepper), upgraded as
    ``rotatekeys upgrade`` does: what it encrypted must still decrypt."""
    settings.INTAKE_KEYS, added = crypto.keys_document_upgraded(KNOWN_KEYS)
    assert added == ["index", "matching", "signing"]
    crypto.forget_loaded_keys()


def test_a_keys_document_of_the_first_version_is_refused_until_upgraded():
    with pytest.raises(ImproperlyConfigured, match="rotatekeys upgrade"):
        crypto.load_keys(KNOWN_KEYS)


def test_upgrading_keeps_every_key_and_adds_none_twice():
    upgraded, _ = crypto.keys_document_upgraded(KNOWN_KEYS)
    again, added = crypto.keys_document_upgraded(upgraded)
    assert added == [] and json.loads(again) == json.loads(upgraded)
    old, new = json.loads(KNOWN_KEYS), json.loads(upgraded)
    assert new["fields"] == old["fields"] and new["files"] == old["files"]
    assert new["receipt"] == old["receipt_pepper"]


def test_each_process_holds_the_purposes_of_the_table_and_no_other(settings):
    worker = crypto.load_keys(crypto.worker_keys_document(settings.INTAKE_KEYS))
    web = crypto.load_keys(settings.INTAKE_KEYS)
    assert set(worker.primitives) == {"files", "matching"}
    assert set(web.primitives) == set(crypto.PURPOSES)
    for purpose in ("fields", "receipt", "index", "signing"):
        with pytest.raises(ImproperlyConfigured, match="worker"):
            getattr(worker, {"receipt": "receipt_pepper"}.get(purpose, purpose))


def test_tokens_are_keyed_by_purpose(settings):
    word, digest = crypto.index_token("شاهد"), crypto.matching_token(b"sha256", b"\x00" * 32)
    assert word == crypto.index_token("شاهد") and len(word) == 32
    settings.INTAKE_KEYS = crypto.new_keys_document()
    crypto.forget_loaded_keys()
    assert crypto.index_token("شاهد") != word
    assert crypto.matching_token(b"sha256", b"\x00" * 32) != digest


def test_text_round_trips_in_its_own_context():
    context = crypto.field_context("t", "c", "row-1")
    assert crypto.open_text(crypto.seal_text("شهادة", context), context) == "شهادة"


def test_the_same_text_encrypts_differently_each_time():
    context = crypto.field_context("t", "c", "row-1")
    assert crypto.seal_text("same", context) != crypto.seal_text("same", context)


def test_ciphertext_starts_with_the_envelope_version_and_holds_no_plaintext():
    sealed = crypto.seal_text("MARKER-plaintext", crypto.field_context("t", "c", "r"))
    assert sealed[:1] == crypto.ENVELOPE_V1
    assert b"MARKER" not in sealed


@pytest.mark.parametrize("other", [("t", "c", "row-2"), ("t", "other_column", "row-1"), ("other_table", "c", "row-1")])
def test_ciphertext_moved_to_another_row_column_or_table_does_not_open(other):
    sealed = crypto.seal_text("secret", crypto.field_context("t", "c", "row-1"))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_text(sealed, crypto.field_context(*other))


def test_a_flipped_bit_is_detected():
    context = crypto.field_context("t", "c", "row-1")
    sealed = bytearray(crypto.seal_text("secret", context))
    sealed[-3] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.open_text(bytes(sealed), context)


def test_an_unknown_envelope_version_is_refused():
    context = crypto.field_context("t", "c", "row-1")
    sealed = crypto.seal_text("secret", context)
    with pytest.raises(crypto.DecryptionError, match="version"):
        crypto.open_text(b"\x02" + sealed[1:], context)


def test_other_keys_cannot_open_it(settings):
    context = crypto.field_context("t", "c", "row-1")
    sealed = crypto.seal_text("secret", context)
    settings.INTAKE_KEYS = crypto.new_keys_document()
    crypto.forget_loaded_keys()
    with pytest.raises(crypto.DecryptionError):
        crypto.open_text(sealed, context)


def sealed_under(document: str, settings) -> tuple[bytes, bytes]:
    """A field and a file encrypted by a process running ``document``."""
    settings.INTAKE_KEYS = document
    crypto.forget_loaded_keys()
    return crypto.seal_text("text", FIELD), crypto.seal_bytes(b"image", crypto.blob_context("b"))


def opens_under(document: str, settings, sealed: tuple[bytes, bytes]) -> bool:
    settings.INTAKE_KEYS = document
    crypto.forget_loaded_keys()
    field, file = sealed
    return (
        crypto.open_text(field, FIELD) == "text"
        and crypto.open_stream(io.BytesIO(file), crypto.blob_context("b")) == b"image"
    )


FIELD = crypto.field_context("t", "c", "row-1")


def test_during_each_step_of_a_rotation_web_and_worker_read_each_others_data(settings):
    """While a new document is deployed, some processes run it and some the one before."""
    original = settings.INTAKE_KEYS
    added = crypto.keys_document_with_new_keys(original)
    promoted = crypto.keys_document_promoting_newest(added)
    for before, after in ((original, added), (added, promoted)):
        assert opens_under(after, settings, sealed_under(before, settings))
        assert opens_under(before, settings, sealed_under(after, settings))
    # Data from before the rotation still opens at its end.
    assert opens_under(promoted, settings, sealed_under(original, settings))


def test_adding_a_key_does_not_change_what_new_data_is_encrypted_under(settings):
    original = settings.INTAKE_KEYS
    prefix_before = sealed_under(original, settings)[0][1:6]  # Tink's key-id prefix
    added = crypto.keys_document_with_new_keys(original)
    assert sealed_under(added, settings)[0][1:6] == prefix_before
    promoted = crypto.keys_document_promoting_newest(added)
    assert sealed_under(promoted, settings)[0][1:6] != prefix_before


def test_the_last_step_of_a_rotation_is_not_readable_by_the_document_before_the_first(settings):
    """Why the rotation has two steps: skipping the first would strand data on some processes."""
    original = settings.INTAKE_KEYS
    promoted = crypto.keys_document_promoting_newest(crypto.keys_document_with_new_keys(original))
    with pytest.raises(crypto.DecryptionError):
        opens_under(original, settings, sealed_under(promoted, settings))


def test_rotation_keeps_the_receipt_pepper(settings):
    before = crypto.receipt_digest("abandon ability able about above absent absorb abstract")
    settings.INTAKE_KEYS = crypto.keys_document_promoting_newest(
        crypto.keys_document_with_new_keys(settings.INTAKE_KEYS)
    )
    crypto.forget_loaded_keys()
    assert crypto.receipt_digest("abandon ability able about above absent absorb abstract") == before


def test_the_rotate_command_prints_each_step(settings):
    from django.core.management import call_command

    def run(step: str, document: str) -> str:
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stdin", io.StringIO(document))
            call_command("rotatekeys", step, stdout=out)
        return out.getvalue()

    added = json.loads(run("add", settings.INTAKE_KEYS))
    assert len(added["fields"]["key"]) == len(added["files"]["key"]) == 2
    assert added["fields"]["primaryKeyId"] == added["fields"]["key"][0]["keyId"]
    promoted = json.loads(run("promote", json.dumps(added)))
    assert promoted["fields"]["primaryKeyId"] == promoted["fields"]["key"][1]["keyId"]
    assert promoted["files"]["primaryKeyId"] == promoted["files"]["key"][1]["keyId"]


def test_files_round_trip_across_many_segments():
    plaintext = bytes(range(256)) * 20_000  # 5 MB: several 1 MiB segments
    sealed = crypto.seal_bytes(plaintext, crypto.blob_context("name"))
    assert crypto.open_stream(io.BytesIO(sealed), crypto.blob_context("name")) == plaintext


def test_a_file_under_another_name_does_not_open():
    sealed = crypto.seal_bytes(b"image bytes", crypto.blob_context("one"))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_stream(io.BytesIO(sealed), crypto.blob_context("two"))


def test_a_truncated_file_does_not_open():
    sealed = crypto.seal_bytes(b"x" * 3_000_000, crypto.blob_context("one"))
    with pytest.raises(crypto.DecryptionError):
        crypto.open_stream(io.BytesIO(sealed[: len(sealed) // 2]), crypto.blob_context("one"))


def test_receipt_digest_depends_on_the_pepper(settings):
    receipt = "abandon ability able about above absent absorb abstract"
    first = crypto.receipt_digest(receipt)
    settings.INTAKE_KEYS = crypto.new_keys_document()
    crypto.forget_loaded_keys()
    assert crypto.receipt_digest(receipt) != first
    assert len(first) == 64


def test_missing_keys_are_a_configuration_error(settings):
    settings.INTAKE_KEYS = ""
    crypto.forget_loaded_keys()
    with pytest.raises(ImproperlyConfigured, match="initkeys"):
        crypto.seal_text("x", b"c")


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"version": 2}),
        json.dumps({"version": 1, "fields": {}, "files": {}, "receipt_pepper": "AA=="}),
    ],
)
def test_a_broken_keys_document_is_a_configuration_error(document):
    with pytest.raises(ImproperlyConfigured):
        crypto.load_keys(document)


def test_known_answer_field_decrypts(known_keys):
    assert crypto.open_text(KNOWN_FIELD, KNOWN_CONTEXT) == "Known answer: شاهد"


def test_known_answer_file_decrypts(known_keys):
    source = io.BytesIO(KNOWN_FILE)
    assert crypto.open_stream(source, crypto.blob_context("0123456789abcdef0123456789abcdef")) == b"Known file answer"


def test_known_answer_receipt_digest(known_keys, settings):
    settings.INTAKE_RECEIPT_SCRYPT_N = 16
    digest = crypto.receipt_digest("abandon ability able about above absent absorb abstract")
    assert digest == KNOWN_RECEIPT_DIGEST


KNOWN_RECEIPT_DIGEST = "cfe115634ddffe822a7d55704f2351eb65c9d50de6b64dd82d6a3afcdbe635f6"


# --- The worker's share of the keys ---------------------------------------------------------------


def test_the_workers_keys_open_files_but_no_text_and_no_receipt(settings):
    full = settings.INTAKE_KEYS
    text = crypto.seal_text("testimony", FIELD)
    file = crypto.seal_bytes(b"image", crypto.blob_context("b"))

    settings.INTAKE_KEYS = crypto.worker_keys_document(full)
    crypto.forget_loaded_keys()
    assert crypto.open_stream(io.BytesIO(file), crypto.blob_context("b")) == b"image"
    cleaned = crypto.seal_bytes(b"clean", crypto.blob_context("c"))
    with pytest.raises(ImproperlyConfigured, match="worker"):
        crypto.open_text(text, FIELD)
    with pytest.raises(ImproperlyConfigured, match="worker"):
        crypto.receipt_digest("abandon ability able about above absent absorb abstract")

    settings.INTAKE_KEYS = full  # the web reads what the worker wrote
    crypto.forget_loaded_keys()
    assert crypto.open_stream(io.BytesIO(cleaned), crypto.blob_context("c")) == b"clean"


def test_the_workers_document_holds_no_key_material_but_the_file_and_matching_keys(settings):
    full = json.loads(settings.INTAKE_KEYS)
    worker = crypto.worker_keys_document(settings.INTAKE_KEYS)
    assert json.loads(worker)["files"] == full["files"]
    assert json.loads(worker)["matching"] == full["matching"]
    for purpose in ("fields", "index", "signing"):
        for key in full[purpose]["key"]:
            assert key["keyData"]["value"] not in worker
    assert full["receipt"] not in worker


def test_initkeys_upgrade_adds_the_missing_purposes_to_a_laptops_keys(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "intake-keys.json").write_text(KNOWN_KEYS)
    (folder / "worker-keys.json").write_text("{}")
    (folder / "secret_key").write_text("x" * 50)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INTAKE_", "SECRET_KEY"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "INTAKE_DATA_DIR": str(tmp_path)})
    command = [sys.executable, "manage.py", "initkeys"]  # what `make run` runs each time
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    upgraded = (folder / "intake-keys.json").read_text()
    assert json.loads(upgraded)["fields"] == json.loads(KNOWN_KEYS)["fields"]
    crypto.load_keys(upgraded)
    assert (folder / "worker-keys.json").read_text() == crypto.worker_keys_document(upgraded)


def test_the_workerkeys_command_refuses_a_workers_document(settings):
    from django.core.management import CommandError, call_command

    worker = crypto.worker_keys_document(settings.INTAKE_KEYS)
    with pytest.MonkeyPatch.context() as patch, pytest.raises((ImproperlyConfigured, CommandError)):
        patch.setattr("sys.stdin", io.StringIO(worker))
        call_command("workerkeys", stdout=io.StringIO())


def test_initkeys_writes_private_key_files_once_and_the_workers_share_matches(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {key: value for key, value in os.environ.items() if not key.startswith(("INTAKE_", "SECRET_KEY"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "INTAKE_DATA_DIR": str(tmp_path)})

    def initkeys(*args):
        command = [sys.executable, "manage.py", "initkeys", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout

    initkeys()
    folder = tmp_path / "keys"
    files = {path.name: path.read_text() for path in folder.iterdir()}
    assert sorted(files) == ["intake-keys.json", "secret_key", "worker-keys.json"]
    assert all(path.stat().st_mode & 0o077 == 0 for path in folder.iterdir())
    assert files["worker-keys.json"] == crypto.worker_keys_document(files["intake-keys.json"])

    initkeys()  # a second run leaves every key as it was
    assert {path.name: path.read_text() for path in folder.iterdir()} == files

    printed = dict(line.split("=", 1) for line in initkeys("--print").splitlines())
    assert sorted(printed) == ["INTAKE_KEYS", "INTAKE_WORKER_KEYS", "SECRET_KEY"]
    full, worker = (json.loads(printed[name].strip("'")) for name in ("INTAKE_KEYS", "INTAKE_WORKER_KEYS"))
    assert worker == json.loads(crypto.worker_keys_document(json.dumps(full)))


def test_rotatekeys_upgrade_prints_the_upgraded_document():
    from django.core.management import call_command

    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(KNOWN_KEYS))
        call_command("rotatekeys", "upgrade", stdout=output, stderr=io.StringIO())
    upgraded = output.getvalue()
    assert set(crypto.load_keys(upgraded).primitives) == set(crypto.PURPOSES)
    assert json.loads(upgraded)["files"] == json.loads(KNOWN_KEYS)["files"]
