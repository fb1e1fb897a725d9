"""All cryptography of the service, in one place.

- Fields (testimony text, notes): Tink AEAD, XChaCha20-Poly1305. Its 192-bit random nonces stay safe
  at any number of messages under one key. The associated data names the table, column and row, so a
  ciphertext copied into another row or column does not decrypt.
- Files (uploads and cleaned images): Tink streaming AEAD, AES-256-GCM-HKDF with 1 MiB segments, so a
  large image is encrypted as it arrives and never lies in plaintext on disk. The associated data
  names the blob.
- Receipts: scrypt with a server-wide secret pepper. The digest is deterministic so that a receipt can
  be looked up, and slow so that a stolen table cannot be searched.
- Blind index (intake.search) and matching (intake.likeness): HMAC-SHA256 as a PRF, each under a key of
  its own purpose; a token says two values are equal and nothing else.
- Evidence (intake.evidence): Ed25519 signatures, published as a raw public key.
- Sent forms (intake.sent_forms): what a sent form must show again is sealed with AES-256-GCM under a key
  derived (HKDF-SHA256) from the form's one-time token, which only the witness's page holds. Tink takes
  no raw key, so this uses the ``cryptography`` package (docs/decisions/0001).

Envelope: one version byte, then Tink's own output (its 5-byte key-id prefix selects the key, which is
what makes rotation work). No timestamps, no pickling: a field decrypts to UTF-8 text and nothing else.

The keys are one JSON document (``INTAKE_KEYS`` or ``INTAKE_KEYS_FILE``), separate from SECRET_KEY, with
one entry per purpose (``PURPOSES``: what each key is for, and which process holds it); ``manage.py
initkeys`` writes one, and ``rotatekeys upgrade`` adds the purposes an older document lacks. ``manage.py
rotatekeys add`` then ``rotatekeys promote`` rotate it in two steps, so that processes running either of
two consecutive documents read each other's data. The worker
is given a smaller document with only the purposes it holds (``manage.py workerkeys``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO, cast

import tink
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from tink import aead, prf, secret_key_access, signature, streaming_aead
from tink.proto import tink_pb2

aead.register()
streaming_aead.register()
prf.register()
signature.register()

ENVELOPE_V1 = b"\x01"
KEYS_DOCUMENT_VERSION = 2
WEB = "web"
WORKER = "worker"


def _raw_output(template: tink_pb2.KeyTemplate) -> tink_pb2.KeyTemplate:
    """The same template with Tink's 5-byte key prefix left off: a signature any Ed25519 library checks."""
    raw = tink_pb2.KeyTemplate()
    raw.CopyFrom(template)
    raw.output_prefix_type = tink_pb2.RAW
    return raw


@dataclass(frozen=True)
class Purpose:
    """One purpose of the keys document: what its key does, of which kind, and which processes hold it.

    ``rotates``: whether ``rotatekeys`` gives it new keys. A PRF's outputs change with its key, so the
    index and matching keys are not rotated that way (docs/deployment.md, "Keys").
    """

    name: str
    primitive: type | None  # the Tink primitive; None for the receipt pepper, raw bytes
    template: tink_pb2.KeyTemplate | None
    holders: frozenset[str]
    rotates: bool


PURPOSES = {
    purpose.name: purpose
    for purpose in (
        # Testimony text, notes, messages, authenticator secrets: XChaCha20-Poly1305.
        Purpose("fields", aead.Aead, aead.aead_key_templates.XCHACHA20_POLY1305, frozenset({WEB}), True),
        # Uploads, clean files, previews, posters, and what the worker records of a file (its digest,
        # its perceptual hash): AES-256-GCM-HKDF, 1 MiB segments.
        Purpose(
            "files",
            streaming_aead.StreamingAead,
            streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB,
            frozenset({WEB, WORKER}),
            True,
        ),
        # The receipt digests' pepper (scrypt) and the witness's access tokens: 256 random bits.
        Purpose("receipt", None, None, frozenset({WEB}), False),
        # The blind index of words (intake.search): HMAC-SHA256 as a PRF.
        Purpose("index", prf.PrfSet, prf.prf_key_templates.HMAC_SHA256, frozenset({WEB}), False),
        # Keyed digests of clean files and bands of perceptual hashes (intake.likeness): HMAC-SHA256.
        Purpose("matching", prf.PrfSet, prf.prf_key_templates.HMAC_SHA256, frozenset({WEB, WORKER}), False),
        # Evidence packages' signatures (intake.evidence): Ed25519, raw output.
        Purpose(
            "signing",
            signature.PublicKeySign,
            _raw_output(signature.signature_key_templates.ED25519),
            frozenset({WEB}),
            True,
        ),
    )
}


class DecryptionError(Exception):
    """A ciphertext is damaged, was moved to another place, or no key here opens it."""


@dataclass(frozen=True)
class Keys:
    """The keys a process holds, by purpose (``PURPOSES``). The worker holds only what its table row
    says: it never reads testimony text, so an exploit in the decoders it runs does not surrender the
    text (``worker_keys_document``)."""

    holder: str
    primitives: dict[str, object]
    public_signing: tink.KeysetHandle | None = None

    def _get(self, purpose: str):
        if purpose not in self.primitives:
            raise ImproperlyConfigured(f"These are the {self.holder}'s keys: they hold no {purpose!r} key.")
        return self.primitives[purpose]

    @property
    def fields(self) -> aead.Aead:
        return self._get("fields")

    @property
    def files(self) -> streaming_aead.StreamingAead:
        return self._get("files")

    @property
    def receipt_pepper(self) -> bytes:
        return self._get("receipt")

    @property
    def index(self) -> prf.PrfSet:
        return self._get("index")

    @property
    def matching(self) -> prf.PrfSet:
        return self._get("matching")

    @property
    def signing(self) -> signature.PublicKeySign:
        return self._get("signing")


# --- Keys ------------------------------------------------------------------------------------


def _keyset_json(template) -> dict:
    handle = tink.new_keyset_handle(template)
    return json.loads(tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN))


def _handle(keyset: dict) -> tink.KeysetHandle:
    return tink.json_proto_keyset_format.parse(json.dumps(keyset), secret_key_access.TOKEN)


def _new_key(purpose: Purpose):
    if purpose.template is None:
        return base64.b64encode(secrets.token_bytes(32)).decode()
    return _keyset_json(purpose.template)


def new_keys_document() -> str:
    """A fresh keys document: one key for each purpose."""
    document: dict = {"version": KEYS_DOCUMENT_VERSION}
    document.update({name: _new_key(purpose) for name, purpose in PURPOSES.items()})
    return json.dumps(document, indent=2)


def keys_document_upgraded(document: str) -> tuple[str, list[str]]:
    """The document with a new key for each purpose it lacks (a document from before that purpose
    existed), and the names of those purposes. Keys already there are kept as they are."""
    keys = json.loads(document)
    if keys.get("purpose") == WORKER:
        raise ValueError("upgrade the full keys document, then derive the worker's from it")
    if keys.get("version") == 1:  # the receipt's pepper had its own name
        keys["receipt"] = keys.pop("receipt_pepper")
    added = [name for name in PURPOSES if name not in keys]
    keys.update({name: _new_key(PURPOSES[name]) for name in added})
    keys["version"] = KEYS_DOCUMENT_VERSION
    return json.dumps(keys, indent=2), added


def keys_document_with_new_keys(document: str) -> str:
    """Step 1 of a rotation: the same document with a new key in each rotating keyset, not yet the primary.

    Processes given this document decrypt what the new key will encrypt, while still encrypting
    under the old primary, so it can be deployed to web and worker one at a time. The receipt pepper
    is never rotated: the receipts already handed out must keep working.
    """
    keys = json.loads(document)
    for name, purpose in PURPOSES.items():
        if not purpose.rotates:
            continue
        keyset = keys[name]
        taken = {key["keyId"] for key in keyset["key"]}
        new_key = _keyset_json(purpose.template)["key"][0]
        while new_key["keyId"] in taken:
            new_key = _keyset_json(purpose.template)["key"][0]
        keyset["key"].append(new_key)
    return json.dumps(keys, indent=2)


def keys_document_promoting_newest(document: str) -> str:
    """Step 2 of a rotation: the newest key of each rotating keyset becomes the one new data is
    encrypted (or signed) under.

    Deploy it only once every process runs the document of step 1: they all decrypt under that key.
    """
    keys = json.loads(document)
    for name, purpose in PURPOSES.items():
        if purpose.rotates:
            keys[name]["primaryKeyId"] = keys[name]["key"][-1]["keyId"]
    return json.dumps(keys, indent=2)


def worker_keys_document(document: str) -> str:
    """What the worker needs of a keys document: the purposes it holds, nothing that opens text or receipts."""
    keys = json.loads(document)
    held = {name: keys[name] for name, purpose in PURPOSES.items() if WORKER in purpose.holders}
    return json.dumps({"version": keys["version"], "purpose": WORKER, **held}, indent=2)


def load_keys(document: str) -> Keys:
    try:
        keys = json.loads(document)
        if keys.get("version") != KEYS_DOCUMENT_VERSION:
            raise ValueError(
                f"keys document version {keys.get('version')!r}, not {KEYS_DOCUMENT_VERSION}: "
                "upgrade it with `manage.py rotatekeys upgrade` (docs/deployment.md, Keys)"
            )
        holder = WORKER if keys.get("purpose") == WORKER else WEB
        primitives: dict[str, object] = {}
        public_signing = None
        for name, purpose in PURPOSES.items():
            if holder not in purpose.holders:
                continue
            if purpose.primitive is None:
                pepper = base64.b64decode(keys[name], validate=True)
                if len(pepper) < 32:
                    raise ValueError(f"the {name} key must be at least 32 bytes")
                primitives[name] = pepper
                continue
            handle = _handle(keys[name])
            primitives[name] = handle.primitive(purpose.primitive)
            if name == "signing":
                public_signing = handle.public_keyset_handle()
        return Keys(holder=holder, primitives=primitives, public_signing=public_signing)
    except (ValueError, KeyError, TypeError, tink.TinkError) as error:
        raise ImproperlyConfigured(f"INTAKE_KEYS is not a valid keys document: {error}") from None


@cache
def keys() -> Keys:
    if not settings.INTAKE_KEYS:
        raise ImproperlyConfigured(
            "No encryption keys: set INTAKE_KEYS or INTAKE_KEYS_FILE, or run `manage.py initkeys`."
        )
    return load_keys(settings.INTAKE_KEYS)


def forget_loaded_keys() -> None:
    keys.cache_clear()


# --- Fields ----------------------------------------------------------------------------------


def field_context(table: str, column: str, row: object) -> bytes:
    return f"{table}.{column}:{row}".encode()


def seal_text(plaintext: str, context: bytes) -> bytes:
    return ENVELOPE_V1 + keys().fields.encrypt(plaintext.encode(), ENVELOPE_V1 + context)


def open_text(ciphertext: bytes, context: bytes) -> str:
    version, body = bytes(ciphertext[:1]), bytes(ciphertext[1:])
    if version != ENVELOPE_V1:
        raise DecryptionError(f"unknown envelope version {version.hex()}")
    try:
        return keys().fields.decrypt(body, ENVELOPE_V1 + context).decode()
    except tink.TinkError:
        raise DecryptionError("field does not decrypt in this place with these keys") from None


# --- Files -----------------------------------------------------------------------------------


def blob_context(name: str) -> bytes:
    return f"blob:{name}".encode()


def encrypting_stream(destination: BinaryIO, context: bytes) -> BinaryIO:
    """A writable stream; what is written to it reaches ``destination`` encrypted. Close it to finish."""
    destination.write(ENVELOPE_V1)
    return keys().files.new_encrypting_stream(destination, ENVELOPE_V1 + context)


def open_stream(source: BinaryIO, context: bytes) -> bytes:
    """All plaintext of an encrypted stream; raises DecryptionError unless every segment is authentic."""
    if source.read(1) != ENVELOPE_V1:
        raise DecryptionError("unknown file envelope version")
    try:
        with keys().files.new_decrypting_stream(source, ENVELOPE_V1 + context) as plaintext:
            return plaintext.read()
    except tink.TinkError:
        raise DecryptionError("file does not decrypt in this place with these keys") from None


@contextlib.contextmanager
def decrypting_stream(source: BinaryIO, context: bytes) -> Iterator[BinaryIO]:
    """A readable stream of the plaintext of ``source``, read segment by segment: memory stays small
    whatever the file's size. A segment that is not authentic, or a stream cut off before its last
    segment, raises DecryptionError when it is reached, before any of its bytes are returned."""
    if source.read(1) != ENVELOPE_V1:
        raise DecryptionError("unknown file envelope version")
    try:
        with keys().files.new_decrypting_stream(source, ENVELOPE_V1 + context) as plaintext:
            yield cast(BinaryIO, _RaisingDecryptionError(plaintext))
    except tink.TinkError:
        raise DecryptionError("file does not decrypt in this place with these keys") from None


class _RaisingDecryptionError:
    """Tink's reader, whose failures read as DecryptionError wherever in the stream they come."""

    def __init__(self, inner):
        self._inner = inner

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except tink.TinkError:
            raise DecryptionError("file does not decrypt in this place with these keys") from None


def open_bytes(sealed: bytes, context: bytes) -> bytes:
    """What ``seal_bytes`` sealed; raises DecryptionError as ``open_stream`` does."""
    return open_stream(io.BytesIO(sealed), context)


def seal_bytes(plaintext: bytes, context: bytes) -> bytes:
    buffer = io.BytesIO()
    # typing.BinaryIO is nominal: a binary io stream is one at run time but not by type (Tink casts too).
    with encrypting_stream(cast(BinaryIO, _Unclosing(buffer)), context) as stream:
        stream.write(plaintext)
    return buffer.getvalue()


class _Unclosing(io.BufferedIOBase):
    """Lets Tink close its stream without closing the buffer we still want to read."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self._inner.write(data)

    def close(self) -> None:
        pass


# --- Receipts --------------------------------------------------------------------------------


def receipt_digest(receipt: str) -> str:
    """Hex scrypt digest of a normalised receipt, peppered with a key that never leaves the server."""
    n = settings.INTAKE_RECEIPT_SCRYPT_N
    digest = hashlib.scrypt(
        receipt.encode(), salt=keys().receipt_pepper, n=n, r=8, p=1, dklen=32, maxmem=256 * n * 8 + 1024 * 1024
    )
    return digest.hex()


def witness_access_key() -> bytes:
    """The key that signs a witness's short-lived access to their conversation (intake.access). Derived
    from the receipt pepper, not SECRET_KEY: whoever has SECRET_KEY and a copy of the database, with its
    receipt digests, must not be able to forge one."""
    return hmac.new(keys().receipt_pepper, b"intake: witness access token", hashlib.sha256).digest()


# --- Sent forms ------------------------------------------------------------------------------

TOKEN_KEY_INFO = b"intake: sent form"
NONCE_BYTES = 12


def _token_key(token: str) -> AESGCM:
    # The token is random (intake.sent_forms.new_token), so HKDF needs no salt to make a uniform key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=TOKEN_KEY_INFO).derive(token.encode())
    return AESGCM(key)


def seal_with_token(plaintext: bytes, token: str, context: bytes) -> bytes:
    """``plaintext`` sealed under a key derived from ``token``: the server cannot open it again without
    the token, which it does not keep."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return ENVELOPE_V1 + nonce + _token_key(token).encrypt(nonce, plaintext, ENVELOPE_V1 + context)


def open_with_token(sealed: bytes, token: str, context: bytes) -> bytes:
    if sealed[:1] != ENVELOPE_V1:
        raise DecryptionError(f"unknown envelope version {sealed[:1].hex()}")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return _token_key(token).decrypt(nonce, body, ENVELOPE_V1 + context)
    except (InvalidTag, ValueError):
        raise DecryptionError("does not open with this token in this place") from None


# --- Keyed tokens: the blind index and matching --------------------------------------------------

TOKEN_BYTES = 16  # 128 bits: no two different inputs share a token, in any number the service will see


def index_token(word: str) -> str:
    """The blind-index token of a word already normalised (intake.search): equal words, equal tokens;
    without the index key, nothing to test a guessed word against."""
    return keys().index.primary().compute(b"word:" + word.encode(), TOKEN_BYTES).hex()


def matching_token(kind: bytes, value: bytes) -> str:
    """A keyed token of a fact about a file (a clean file's SHA-256, a band of its perceptual hash), so
    that equal facts can be found without storing the fact: whoever holds a copy of the database and a
    photo cannot test whether that photo was sent without the matching key."""
    return keys().matching.primary().compute(kind + b":" + value, TOKEN_BYTES).hex()


# --- Signatures: evidence packages ---------------------------------------------------------------


def sign(data: bytes) -> bytes:
    """An Ed25519 signature of ``data`` under the service's signing key (raw, 64 bytes)."""
    return keys().signing.sign(data)


def public_signing_keyset() -> str:
    """The public half of the signing keyset, as Tink's JSON: what ``verify_evidence`` is given."""
    public = keys().public_signing
    if public is None:
        raise ImproperlyConfigured("These keys hold no signing key.")
    return tink.json_proto_keyset_format.serialize_without_secret(public)


def public_signing_key() -> bytes:
    """The raw 32-byte Ed25519 public key of the primary signing key, for any other Ed25519 verifier."""
    keyset = json.loads(public_signing_keyset())
    primary = next(key for key in keyset["key"] if key["keyId"] == keyset["primaryKeyId"])
    # An Ed25519PublicKey message: its last field is the 32-byte key.
    return base64.b64decode(primary["keyData"]["value"])[-32:]
