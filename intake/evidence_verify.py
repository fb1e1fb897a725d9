"""Verify an evidence package offline: ``python evidence_verify.py PACKAGE --public-key KEY``.

A package (intake.evidence, docs/evidence.md) is a folder, or a ZIP holding one, with ``manifest.json``,
its detached Ed25519 signature ``manifest.json.sig``, and the files the manifest lists. It is valid when
the signature over the exact bytes of manifest.json checks with the service's public key, every file the
manifest lists is there with the size and SHA-256 it gives, and no other file is (but the signature and
``public-key.txt``, a convenience copy of the key that proves nothing).

This file stands alone, so that whoever receives a package can run it without the service: it imports
the standard library and ``cryptography`` only, never Django or the rest of the service. KEY is the
service's public key as published (the README, the admin, the organisation's own site), never the copy
inside the package: the raw 32-byte key in base64 or hex, Tink's JSON of the public keyset, or a file
holding either.

Exit status 0 and "valid", or 1 and what is wrong, one line each.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PUBLIC_KEY_COPY = "public-key.txt"
#: Files a package holds that the manifest does not list: they cannot list themselves.
UNLISTED = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY_COPY})
FORMAT = "intake-evidence/1"
CHUNK_BYTES = 1024 * 1024
ED25519_KEY_BYTES = 32
TINK_ED25519_PUBLIC_KEY = "type.googleapis.com/google.crypto.tink.Ed25519PublicKey"


class UnreadableKey(ValueError):
    """The public key given cannot be read as an Ed25519 public key."""


def public_key_bytes(text: str) -> bytes:
    """The raw 32-byte key from what a recipient was given: base64 or hex of the raw key, or Tink's JSON
    of the public keyset (its primary key)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            keyset = json.loads(text)
            keys = keyset["key"]
            primary = next(key for key in keys if key["keyId"] == keyset.get("primaryKeyId", key["keyId"]))
            if primary["keyData"]["typeUrl"] != TINK_ED25519_PUBLIC_KEY:
                raise UnreadableKey("the Tink keyset's primary key is not an Ed25519 public key")
            # An Ed25519PublicKey message: version, then the 32-byte key as its last field.
            return base64.b64decode(primary["keyData"]["value"], validate=True)[-ED25519_KEY_BYTES:]
        except (ValueError, KeyError, TypeError, StopIteration, binascii.Error) as error:
            if isinstance(error, UnreadableKey):
                raise
            raise UnreadableKey("not a Tink public keyset") from None
    compact = "".join(text.split())
    if len(compact) == 2 * ED25519_KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in compact):
        return bytes.fromhex(compact)
    try:
        raw = base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise UnreadableKey("not base64, hex or a Tink keyset") from None
    if len(raw) != ED25519_KEY_BYTES:
        raise UnreadableKey(f"an Ed25519 public key has {ED25519_KEY_BYTES} bytes, this one {len(raw)}")
    return raw


def read_public_key(argument: str) -> bytes:
    """``argument`` is the key itself or the name of a file holding it."""
    path = Path(argument)
    try:
        if path.is_file():
            return public_key_bytes(path.read_text(encoding="utf-8"))
    except OSError:
        pass
    return public_key_bytes(argument)


class Package(Protocol):
    def names(self) -> set[str]: ...

    def size(self, name: str) -> int: ...

    def open(self, name: str) -> BinaryIO: ...


class FolderPackage:
    def __init__(self, root: Path):
        self.root = root

    def names(self) -> set[str]:
        found = set()
        for path in self.root.rglob("*"):
            if path.is_file() or path.is_symlink():
                found.add(path.relative_to(self.root).as_posix())
        return found

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    def open(self, name: str) -> BinaryIO:
        path = self.root / name
        if path.is_symlink():  # a link could point anywhere, at a file that passes
            raise OSError(f"{name} is a symbolic link")
        return open(path, "rb")


class ZipPackage:
    """A ZIP of a package: its files at the top, or all in one folder (``<REF>/...``) as the service makes it."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        members = [info for info in archive.infolist() if not info.is_dir()]
        tops = {info.filename.split("/", 1)[0] for info in members}
        nested = len(tops) == 1 and all("/" in info.filename for info in members)
        self.prefix = next(iter(tops)) + "/" if nested else ""
        self.members = {info.filename[len(self.prefix) :]: info for info in members}
        # Two members of one name: tools differ on which one they extract.
        self.duplicated = len(self.members) != len(members)

    def names(self) -> set[str]:
        return set(self.members)

    def size(self, name: str) -> int:
        return self.members[name].file_size

    def open(self, name: str) -> BinaryIO:
        return self.archive.open(self.members[name])  # type: ignore[return-value]


@contextmanager
def opened(path: Path) -> Iterator[Package]:
    if path.is_dir():
        yield FolderPackage(path)
        return
    with zipfile.ZipFile(path) as archive:
        yield ZipPackage(archive)


def digest(stream: BinaryIO) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_BYTES):
        sha.update(chunk)
        size += len(chunk)
    return sha.hexdigest(), size


def safe_name(name: object) -> bool:
    """A relative path inside the package, without ``..``: a manifest cannot point outside it."""
    if not isinstance(name, str) or not name or "\\" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and ".." not in parts and "." not in parts


def problems(package: Package, key: bytes) -> list[str]:
    """What is wrong with ``package`` under ``key``; empty when it is valid."""
    names = package.names()
    if getattr(package, "duplicated", False):
        return ["the ZIP holds two files of the same name"]
    for needed in (MANIFEST, SIGNATURE):
        if needed not in names:
            return [f"{needed} is missing"]
    with package.open(MANIFEST) as file:
        manifest_bytes = file.read()
    with package.open(SIGNATURE) as file:
        signature = file.read()
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, manifest_bytes)
    except (InvalidSignature, ValueError):
        return [
            "the signature of manifest.json does not match this public key: the manifest was changed, "
            "or was signed by another key"
        ]
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        listed = manifest["files"]
        if manifest.get("format") != FORMAT:
            return [f"manifest.json is not in a format this verifier knows ({manifest.get('format')!r})"]
        paths = [entry["path"] for entry in listed]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return ["manifest.json is signed but not a manifest this verifier can read"]
    found: list[str] = []
    for entry in listed:
        path = entry["path"]
        if not safe_name(path) or path in UNLISTED:
            found.append(f"{path!r} is not a path a package may list")
            continue
        if path not in names:
            found.append(f"{path} is missing")
            continue
        if package.size(path) != entry.get("size"):
            found.append(f"{path} has {package.size(path)} bytes, the manifest says {entry.get('size')}")
            continue
        try:
            with package.open(path) as stream:
                sha256, _ = digest(stream)
        except OSError as error:
            found.append(f"{path} cannot be read: {error}")
            continue
        if sha256 != entry.get("sha256"):
            found.append(f"{path} does not have the SHA-256 the manifest gives: it was changed")
    for extra in sorted(names - set(paths) - UNLISTED):
        found.append(f"{extra} is in the package but not in the manifest")
    if len(set(paths)) != len(paths):
        found.append("the manifest lists a file twice")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an evidence package (a folder or a ZIP) offline.")
    parser.add_argument("package", help="the package's folder, or its ZIP")
    parser.add_argument(
        "--public-key",
        required=True,
        help="the service's published public key (base64 or hex of the raw key, Tink's JSON), or a file holding it",
    )
    arguments = parser.parse_args(argv)
    return run(Path(arguments.package), arguments.public_key, sys.stdout)


def run(path: Path, public_key: str, out) -> int:
    try:
        key = read_public_key(public_key)
    except UnreadableKey as error:
        print(f"invalid: the public key cannot be read: {error}", file=out)
        return 2
    try:
        with opened(path) as package:
            found = problems(package, key)
    except (OSError, zipfile.BadZipFile) as error:
        print(f"invalid: the package cannot be read: {error}", file=out)
        return 1
    if found:
        for problem in found:
            print(f"invalid: {problem}", file=out)
        return 1
    fingerprint = hashlib.sha256(key).hexdigest()
    print(f"valid: {path} (signed by the key with SHA-256 {fingerprint})", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
