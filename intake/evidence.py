"""Evidence packages: a submission handed over as files anyone can check (docs/evidence.md).

A package is a folder named by the submission's reference (or a ZIP of it, for the web): the account
(``testimony.txt``), the conversation (``conversation.txt``), the internal notes only when asked for
(``notes.txt``: an investigator's notes are work product, not the witness's evidence), the clean files
exactly as stored (``files/<n>.<ext>``), their previews or a video's poster (``previews/<n>.<ext>``), and
``manifest.json``: the SHA-256 and size of every one of those files, what was removed from each clean
file, the day it was received, the submission's audit trail and who exported it when. The manifest is
signed with the service's Ed25519 key (``manifest.json.sig``, intake.crypto); intake.evidence_verify
checks a package offline.

Nothing altered after intake: every clean file's SHA-256 is computed again as it is read, and the
export is refused if it differs from what the worker recorded when it cleaned the file (or if the blob
no longer decrypts in its place). The package is built first, then, in one transaction, the audit
trail is read, the manifest signed and the export audited; only then is the package handed over (the
folder moved into place, the ZIP streamed). An EXPORTED event therefore says a signed package was made
and its hand-over began: a download cut off midway is still recorded as an export.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from intake import blobs, cleaning_text, crypto
from intake.crypto import DecryptionError
from intake.evidence_verify import FORMAT, MANIFEST, PUBLIC_KEY_COPY, SIGNATURE
from intake.models import AuditEvent, Image, Message, Submission

CHUNK_BYTES = blobs.COPY_CHUNK_BYTES
TEXT = "text/plain; charset=utf-8"


class ExportRefused(Exception):
    """A package that cannot be made as evidence: a clean file that changed since intake, or that
    cannot be read, or a package folder that already exists. The message says which."""


@dataclass
class Part:
    """One file of a package: where it goes, what it is, and how to read it (anew, each time)."""

    path: str
    media_type: str
    open: Callable[[], contextlib.AbstractContextManager[BinaryIO]]
    facts: dict = field(default_factory=dict)
    # What the worker recorded of a clean file at intake; None for what the export writes itself.
    intake_sha256: str | None = None
    sha256: str = ""
    size: int = 0


@dataclass(frozen=True)
class Exported:
    reference: str
    manifest_sha256: str
    files: int
    manifest: bytes
    signature: bytes


def public_key_text() -> str:
    """The raw public key in base64: what the README, the admin and ``manage.py evidencekey`` publish."""
    return base64.b64encode(crypto.public_signing_key()).decode()


def public_key_fingerprint() -> str:
    return hashlib.sha256(crypto.public_signing_key()).hexdigest()


# --- What goes in ----------------------------------------------------------------------------------


def _bytes_part(path: str, data: bytes, media_type: str = TEXT, **facts) -> Part:
    return Part(path, media_type, lambda: contextlib.nullcontext(io.BytesIO(data)), facts)


def _blob_part(path: str, blob: str, media_type: str, **facts) -> Part:
    return Part(path, media_type, lambda: blobs.open_plaintext(blob), facts)


def _day(value) -> str:
    return value.isoformat()


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _came_with(image: Image, positions: dict) -> str:
    return "testimony" if image.message_id is None else f"message {positions[image.message_id] + 1}"


def _received_on(image: Image, submission: Submission, days: dict) -> str:
    return _day(submission.received_on if image.message_id is None else days[image.message_id])


def parts_of(submission: Submission, *, with_notes: bool) -> tuple[list[Part], list[dict]]:
    """The files of ``submission``'s package, and the images left out of it (refused, or still being
    cleaned), each as the manifest describes it. Labels are English: a package is read outside the
    service, by whoever receives it; what the witness wrote stays in their words."""
    messages = list(submission.messages.select_related("author").prefetch_related("images").order_by("position"))
    positions = {message.pk: message.position for message in messages}
    days = {message.pk: message.sent_on for message in messages}
    images = list(submission.images.order_by("position"))
    number = {image.pk: image.position + 1 for image in images}
    files: dict = {}
    parts: list[Part] = []
    left_out: list[dict] = []
    for image in images:
        described = {
            "image": number[image.pk],
            "came_with": _came_with(image, positions),
            "received_on": _received_on(image, submission, days),
        }
        if image.state != Image.State.CLEAN:
            if image.state == Image.State.FAILED:
                left_out.append(
                    {
                        **described,
                        "state": "refused",
                        "reason": image.refusal,
                        "reason_params": image.refusal_params,
                        "reason_text": cleaning_text.refusal_text(image.refusal, image.refusal_params),
                    }
                )
            else:
                left_out.append({**described, "state": "being cleaned"})
            continue
        path = f"files/{number[image.pk]}.{image.extension}"
        files[image.pk] = path
        try:
            intake_sha256 = image.clean_sha256
        except crypto.DecryptionError:
            raise ExportRefused(
                f"{path}: the digest recorded at intake does not open in its place: it was damaged or moved."
            ) from None
        clean = _blob_part(
            path,
            image.clean_blob,
            image.media_type,
            kind="clean file",
            **described,
            sha256_at_intake=intake_sha256,
            removed=[{"code": code, "label": cleaning_text.removed_labels([code])[0]} for code in image.removed],
            **_shown_size(image),
        )
        clean.intake_sha256 = intake_sha256
        parts.append(clean)
        # A photo's preview, or else a video's poster frame: what the reviewer saw in the page. Both are
        # JPEGs the worker made (intake.likeness, intake.cleaning.video).
        shown = image.preview_blob or image.poster_blob
        if shown:
            kind = "preview" if image.preview_blob else "poster"
            preview = f"previews/{number[image.pk]}.jpg"
            parts.append(_blob_part(preview, shown, "image/jpeg", kind=kind, of=path, image=number[image.pk]))
    texts = [
        _bytes_part("testimony.txt", _testimony_text(submission).encode(), kind="testimony"),
        _bytes_part("conversation.txt", _conversation_text(messages, files).encode(), kind="conversation"),
    ]
    if with_notes:
        texts.append(_bytes_part("notes.txt", _notes_text(submission).encode(), kind="internal notes"))
    return texts + parts, left_out


def _shown_size(image: Image) -> dict:
    facts: dict = {}
    if image.width and image.height:
        facts["width"], facts["height"] = image.width, image.height
    if image.duration_ms is not None:
        facts["duration_seconds"] = image.duration_ms / 1000
    return facts


def _section(title: str, text: object) -> str:
    return f"{title}:\n{str(text).strip() or '-'}\n"


def _testimony_text(submission: Submission) -> str:
    return "\n".join(
        [
            f"Submission {submission.reference}, received on {_day(submission.received_on)}\n",
            _section("When it happened", submission.happened_when),
            _section("Where it happened", submission.happened_where),
            _section("Testimony", submission.account),
        ]
    )


def _conversation_text(messages: list[Message], files: dict) -> str:
    if not messages:
        return "No messages.\n"
    blocks = []
    for message in messages:
        if message.sender == Message.Sender.STAFF:
            sender = f"Investigator ({message.author.get_username() if message.author else 'unknown'})"
        else:
            sender = "Witness"
        lines = [f"Message {message.position + 1}. {sender}, {_day(message.sent_on)}", str(message.text).strip() or "-"]
        brought = [
            files.get(image.pk) or f"image {image.position + 1} (not included)" for image in message.images.all()
        ]
        if brought:
            lines.append("Files: " + ", ".join(brought))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _notes_text(submission: Submission) -> str:
    notes = submission.notes.select_related("author").order_by("created_at")
    blocks = [f"{note.author.get_username()}, {_utc(note.created_at)}\n{str(note.text).strip()}\n" for note in notes]
    return "\n".join(blocks) if blocks else "No notes.\n"


# --- Reading, checking, writing ----------------------------------------------------------------------


def _checked(part: Part) -> Iterator[bytes]:
    """The bytes of ``part`` in chunks, its SHA-256 and size recorded once it is read through. A clean
    file must still be the one recorded at intake, and a file read twice must read the same: raises
    ExportRefused otherwise, after its last chunk."""
    sha = hashlib.sha256()
    size = 0
    try:
        with part.open() as source:
            while chunk := source.read(CHUNK_BYTES):
                sha.update(chunk)
                size += len(chunk)
                yield chunk
    except (DecryptionError, FileNotFoundError, ValueError) as error:
        raise ExportRefused(f"{part.path} cannot be read as the file stored at intake ({error})") from None
    digest = sha.hexdigest()
    if part.intake_sha256 == "":
        raise ExportRefused(f"{part.path} has no SHA-256 recorded at intake to check it against")
    if part.intake_sha256 is not None and digest != part.intake_sha256:
        raise ExportRefused(f"{part.path} is not the file recorded at intake: its SHA-256 differs")
    if part.sha256 and (digest, size) != (part.sha256, part.size):
        raise ExportRefused(f"{part.path} changed while it was being exported")
    part.sha256, part.size = digest, size


def _manifest(submission: Submission, parts: list[Part], left_out: list[dict], user, at: datetime) -> dict:
    """The manifest, its audit trail read now (call it inside the transaction that audits the export)."""
    trail = AuditEvent.objects.filter(submission_id=submission.pk).order_by("at", "pk")
    events = [
        {
            "at": _utc(event.at),
            "actor": event.actor_name,
            "action": event.action,
            "description": str(event.get_action_display()),
            "detail": event.detail,
        }
        for event in trail
    ]
    # The export itself ends the trail. Its digest of the manifest is in the service's audit log only:
    # a file cannot hold its own digest.
    events.append(
        {
            "at": _utc(at),
            "actor": user.get_username(),
            "action": AuditEvent.Action.EXPORTED.value,
            "description": str(AuditEvent.Action.EXPORTED.label),
            "detail": {"files": len(parts)},
        }
    )
    return {
        "format": FORMAT,
        "service": settings.INTAKE_TOTP_ISSUER,
        "submission": {
            "reference": submission.reference,
            "id": str(submission.pk),
            "received_on": _day(submission.received_on),
            "status": submission.status,
            "tags": list(submission.tags.order_by("name").values_list("name", flat=True)),
        },
        "files": [
            {"path": part.path, "sha256": part.sha256, "size": part.size, "media_type": part.media_type, **part.facts}
            for part in parts
        ],
        "not_included": left_out,
        "audit_trail": events,
        "export": {"by": user.get_username(), "at": _utc(at)},
        "public_key": {"algorithm": "Ed25519", "sha256": public_key_fingerprint()},
    }


def _sign_and_audit(submission: Submission, parts: list[Part], left_out: list[dict], user, via: str) -> Exported:
    """Sign the manifest and write the EXPORTED event, in one transaction: the trail in the manifest
    is the trail as it stands when the event is written."""
    with transaction.atomic(), translation.override("en"):
        Submission.objects.select_for_update().filter(pk=submission.pk).first()  # one export of it at a time
        at = timezone.now()
        manifest = (
            json.dumps(_manifest(submission, parts, left_out, user, at), indent=2, ensure_ascii=False).encode() + b"\n"
        )
        digest = hashlib.sha256(manifest).hexdigest()
        signature = crypto.sign(manifest)
        AuditEvent.objects.create(
            at=at,
            actor=user,
            action=AuditEvent.Action.EXPORTED,
            submission_id=submission.pk,
            detail={"manifest_sha256": digest, "files": len(parts), "via": via},
        )
    return Exported(submission.reference, digest, len(parts), manifest, signature)


def _closing_files(exported: Exported) -> list[tuple[str, bytes]]:
    return [
        (MANIFEST, exported.manifest),
        (SIGNATURE, exported.signature),
        (PUBLIC_KEY_COPY, (public_key_text() + "\n").encode()),
    ]


def export_to_folder(submission: Submission, out: Path, user, *, with_notes: bool = False) -> tuple[Path, Exported]:
    """Write ``submission``'s package as ``out/<REF>/``, readable by the service's user only. Refuses an
    existing folder; leaves nothing behind on failure."""
    target = Path(out) / submission.reference
    if target.exists():
        raise ExportRefused(f"{target} already exists: a package is never overwritten")
    with translation.override("en"):
        parts, left_out = parts_of(submission, with_notes=with_notes)
    staging = Path(tempfile.mkdtemp(prefix=f".{submission.reference}-", dir=out))
    try:
        for part in parts:
            with _new_file(staging / part.path) as file:
                for chunk in _checked(part):
                    file.write(chunk)
        exported = _sign_and_audit(submission, parts, left_out, user, via="command")
        for name, data in _closing_files(exported):
            with _new_file(staging / name) as file:
                file.write(data)
        if target.exists():
            raise ExportRefused(f"{target} already exists: a package is never overwritten")
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target, exported


@contextlib.contextmanager
def _new_file(path: Path) -> Iterator[BinaryIO]:
    """A new file of the package, readable by the service's user only: the package holds testimony
    in plaintext, and who else may read it is for the operator to decide when they hand it over."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        yield file


# --- The ZIP the web hands over --------------------------------------------------------------------


class _Drain:
    """Where zipfile writes: what it wrote is taken out after each chunk and sent on, so that the ZIP is
    never whole in memory nor on disk."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def export_as_zip(submission: Submission, user, *, with_notes: bool = False) -> tuple[Exported, Iterator[bytes]]:
    """``submission``'s package as a ZIP of ``<REF>/``, to be streamed. Every file is read and checked
    once before anything is sent or audited (an altered file refuses the export with a clear error,
    not a broken download), then read again as it is sent; a file that reads differently the second
    time stops the stream, and the ZIP is left incomplete."""
    with translation.override("en"):
        parts, left_out = parts_of(submission, with_notes=with_notes)
    for part in parts:
        for _chunk in _checked(part):
            pass
    exported = _sign_and_audit(submission, parts, left_out, user, via="web")
    return exported, _zip_chunks(submission.reference, parts, exported)


def _zip_chunks(reference: str, parts: list[Part], exported: Exported) -> Iterator[bytes]:
    drain = _Drain()
    with zipfile.ZipFile(drain, "w") as archive:
        for part in parts:
            info = zipfile.ZipInfo(f"{reference}/{part.path}")
            # Photos and videos are compressed already; text is worth compressing.
            info.compress_type = zipfile.ZIP_DEFLATED if part.media_type == TEXT else zipfile.ZIP_STORED
            with archive.open(info, "w", force_zip64=part.size >= zipfile.ZIP64_LIMIT) as member:
                for chunk in _checked(part):
                    member.write(chunk)
                    yield drain.take()
            yield drain.take()
        for name, data in _closing_files(exported):
            info = zipfile.ZipInfo(f"{reference}/{name}")
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    yield drain.take()
