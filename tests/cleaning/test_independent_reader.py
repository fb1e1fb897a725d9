"""Every output of the corpus, read by ExifTool: nothing but structural tags, no secret byte left."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.cleaning import clean

from . import exiftool, samples

_DEVICE_PROFILE = samples.icc_profile(wide_gamut=False)
_WIDE_PROFILE = samples.icc_profile(wide_gamut=True)

CORPUS = {
    "jpeg_everything": lambda: samples.jpeg(),
    "jpeg_turned_6": lambda: samples.jpeg(orientation=6),
    "jpeg_turned_5_odd_size": lambda: samples.jpeg(orientation=5, size=(61, 37)),
    "jpeg_progressive": lambda: samples.jpeg(progressive=True),
    "jpeg_device_profile": lambda: samples.jpeg(icc=_DEVICE_PROFILE),
    "jpeg_wide_profile": lambda: samples.jpeg(icc=_WIDE_PROFILE, orientation=3),
    "jpeg_cmyk": lambda: samples.jpeg(mode="CMYK"),
    "jpeg_grey": lambda: samples.jpeg(mode="L"),
    "mpo": samples.mpo,
    "png_everything": lambda: samples.png(),
    "png_turned_8": lambda: samples.png(orientation=8),
    "png_device_profile": lambda: samples.png(icc=_DEVICE_PROFILE),
    "png_wide_profile": lambda: samples.png(icc=_WIDE_PROFILE),
    "apng": lambda: samples.png(animated=True),
    "apng_turned_6": lambda: samples.png(animated=True, orientation=6),
    "webp_lossy": lambda: samples.webp(),
    "webp_lossless_turned_6": lambda: samples.webp(orientation=6, lossless=True),
    "webp_wide_profile": lambda: samples.webp(icc=_WIDE_PROFILE),
    "webp_animated": lambda: samples.webp(animated=True),
    "webp_animated_turned_8": lambda: samples.webp(animated=True, orientation=8),
    "gif_animated": lambda: samples.gif(),
    "tiff": lambda: samples.tiff(),
    "tiff_turned_6_profile": lambda: samples.tiff(orientation=6, icc=_WIDE_PROFILE),
    "tiff_pages": lambda: samples.tiff(pages=3, thumbnail_page=True),
    "heic": lambda: samples.heic(orientation=6, secondary=True),
    "heic_alpha": lambda: samples.heic(alpha=True),
    "avif_turned_6": lambda: samples.avif(orientation=6),
    "avif_animated": lambda: samples.avif(animated=True),
}


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, dict[str, object]]]:
    folder = tmp_path_factory.mktemp("cleaned")
    outputs: dict[str, bytes] = {}
    paths = []
    for name, build in CORPUS.items():
        result = clean(build())
        outputs[name] = result.data
        path = folder / f"{name}.{result.extension}"
        path.write_bytes(result.data)
        paths.append(path)
    tags = exiftool.read(paths)
    return {name: (outputs[name], tags[Path(path).name]) for name, path in zip(CORPUS, paths)}


@pytest.mark.parametrize("name", CORPUS)
def test_exiftool_finds_only_structural_tags(cleaned, name):
    _data, tags = cleaned[name]
    assert tags, "ExifTool could not read the output"
    assert exiftool.disallowed(tags) == {}


@pytest.mark.parametrize("name", CORPUS)
def test_no_identifying_string_survives_in_the_bytes(cleaned, name):
    data, _tags = cleaned[name]
    left = [s for s in samples.SECRETS if s in data or s.decode().encode("utf-16-le") in data]
    assert left == []


@pytest.mark.parametrize("name", CORPUS)
def test_exiftool_sees_no_trailer_or_warning(cleaned, name):
    _data, tags = cleaned[name]
    assert "ExifTool:Warning" not in tags and "ExifTool:Error" not in tags, tags


@pytest.mark.parametrize("name", CORPUS)
def test_only_a_turned_jpeg_keeps_exif_and_then_its_orientation_alone(cleaned, name):
    _data, tags = cleaned[name]
    exif = {key for key in tags if key.startswith(("IFD", "ExifIFD", "GPS", "InteropIFD", "MakerNotes"))}
    turned_jpeg = name.startswith("jpeg_turned")
    assert exif == ({"IFD0:Orientation"} if turned_jpeg else set())
