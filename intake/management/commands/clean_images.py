"""Clean every photo or video under a folder into another, through the same pipeline as the worker."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake.cleaning import Refused, clean_media
from intake.cleaning_text import refusal_text

#: File name extensions that already name each output format; anything else is replaced.
_SAME_FORMAT = {
    "jpg": {".jpg", ".jpeg", ".jpe"},
    "png": {".png", ".apng"},
    "webp": {".webp"},
    "gif": {".gif"},
    "mp4": {".mp4", ".m4v"},
    "mov": {".mov", ".qt"},
    "3gp": {".3gp", ".3gpp"},
    "webm": {".webm"},
    "mkv": {".mkv"},
}


class Command(BaseCommand):
    help = (
        "Clean every file under IN_DIR into OUT_DIR with the same relative paths (the extension changes "
        "where the format does). Refused files are listed with their reason and get no output."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("in_dir", type=Path)
        parser.add_argument("out_dir", type=Path)

    def handle(self, *args, **options):
        source: Path = options["in_dir"]
        target: Path = options["out_dir"]
        if not source.is_dir():
            raise CommandError(f"{source} is not a folder.")
        started = time.monotonic()
        cleaned = refused = failed = 0
        written: set[Path] = set()
        bytes_in = bytes_out = 0
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(source)
            bytes_in += path.stat().st_size
            try:
                with path.open("rb") as original:
                    result = clean_media(original)
            except Refused as refusal:
                refused += 1
                self.stdout.write(f"refused {relative}: {refusal_text(refusal.code, refusal.params)} ({refusal.code})")
                continue
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the batch
                failed += 1
                self.stderr.write(f"error {relative}: internal error ({type(error).__name__})")
                continue
            name = output_name(relative, result.extension)
            if name in written:  # photo.png and photo.tif would both become photo.png
                name = relative.with_name(f"{relative.name}.{result.extension}")
            written.add(name)
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with result.file, destination.open("wb") as out:
                shutil.copyfileobj(result.file, out)
            cleaned += 1
            bytes_out += result.size
        seconds = time.monotonic() - started
        self.stdout.write(
            f"{cleaned} cleaned, {refused} refused, {failed} failed; "
            f"{bytes_in / 1e6:.1f} MB in, {bytes_out / 1e6:.1f} MB out, {seconds:.1f} s"
        )
        if failed:
            raise CommandError(f"{failed} file(s) hit an internal error.")


def output_name(relative: Path, extension: str) -> Path:
    if relative.suffix.lower() in _SAME_FORMAT[extension]:
        return relative
    return relative.with_suffix(f".{extension}")
