"""``manage.py clean_images IN_DIR OUT_DIR``: the operators' and benchmarks' way into the engine."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image, ImageOps

from intake.cleaning.reasons import Reason
from intake.cleaning_text import refusal_text

from . import samples


def run(source, target) -> str:
    out = io.StringIO()
    call_command("clean_images", str(source), str(target), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_cleans_a_tree_into_the_same_relative_paths(tmp_path):
    source, target = tmp_path / "in", tmp_path / "out"
    (source / "day1").mkdir(parents=True)
    (source / "day1" / "photo.JPG").write_bytes(samples.jpeg(orientation=6))
    (source / "scan.tif").write_bytes(samples.tiff())
    (source / "phone.heic").write_bytes(samples.heic())
    output = run(source, target)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "day1/photo.JPG",
        "phone.jpg",
        "scan.png",
    ]
    cleaned = (target / "day1" / "photo.JPG").read_bytes()
    assert samples.SECRET_SERIAL not in cleaned
    assert ImageOps.exif_transpose(Image.open(io.BytesIO(cleaned))).size == (48, 64)
    assert "3 cleaned, 0 refused, 0 failed" in output


def test_a_refused_file_gets_one_line_with_its_reason_and_no_output(tmp_path):
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "notes.txt").write_bytes(b"not an image at all")
    (source / "ok.png").write_bytes(samples.png())
    output = run(source, target)
    lines = output.splitlines()
    assert lines[0] == f"refused notes.txt: {refusal_text(Reason.NOT_AN_IMAGE)} (not_an_image)"
    assert not (target / "notes.txt").exists()
    assert (target / "ok.png").exists()
    assert "1 cleaned, 1 refused, 0 failed" in lines[-1]


def test_an_internal_error_exits_non_zero_after_the_whole_batch(tmp_path, monkeypatch):
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "a.png").write_bytes(samples.png())

    def broken(source):
        raise RuntimeError("bug")

    monkeypatch.setattr("intake.management.commands.clean_images.clean_media", broken)
    with pytest.raises(CommandError):
        run(source, target)


def test_two_files_that_would_get_the_same_output_name_both_get_one(tmp_path):
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "IMG_1.png").write_bytes(samples.png())
    (source / "IMG_1.tif").write_bytes(samples.tiff())
    output = run(source, target)
    assert sorted(p.name for p in target.iterdir()) == ["IMG_1.png", "IMG_1.tif.png"]
    assert "2 cleaned" in output
