"""The cleaned image looks the way the original did in a browser, with no orientation tag left."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from intake.cleaning import clean, labels

from . import samples

ORIENTATIONS = range(1, 9)


def assert_shows_like(original: bytes, cleaned: bytes) -> None:
    before, after = samples.displayed(original), samples.displayed(cleaned)
    assert after.size == before.size
    for want, got in zip(samples.quadrant_colours(before), samples.quadrant_colours(after)):
        assert samples.close(want, got), (samples.quadrant_colours(before), samples.quadrant_colours(after))


def assert_no_orientation_tag(cleaned: bytes) -> None:
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.getexif().get(0x0112) in (None, 1)


@pytest.mark.parametrize("size", [(64, 48), (61, 37)], ids=["whole blocks", "partial blocks"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_jpeg_shows_the_right_way_up_in_every_orientation_by_its_tag_alone(orientation, size):
    original = samples.jpeg(orientation=orientation, size=size)
    result = clean(original)
    assert_shows_like(original, result.data)
    assert samples.scan_data(result.data) == samples.scan_data(original)
    with Image.open(io.BytesIO(result.data)) as image:
        assert dict(image.getexif()) == ({0x0112: orientation} if orientation != 1 else {})
    assert labels.ORIENTATION not in result.removed


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_whose_colours_are_converted_is_turned_in_its_pixels_and_loses_the_tag(orientation):
    original = samples.jpeg(orientation=orientation, icc=samples.icc_profile(wide_gamut=True))
    result = clean(original)
    assert_shows_like(original, result.data)
    assert_no_orientation_tag(result.data)
    assert labels.ORIENTATION in result.removed


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_png_exif_orientation_is_applied(orientation):
    original = samples.png(orientation=orientation)
    result = clean(original)
    assert_shows_like(original, result.data)
    assert_no_orientation_tag(result.data)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_webp_exif_orientation_is_applied(orientation):
    original = samples.webp(orientation=orientation, lossless=True)
    result = clean(original)
    assert_shows_like(original, result.data)
    assert_no_orientation_tag(result.data)


@pytest.mark.parametrize("orientation", [3, 6, 7])
def test_tiff_orientation_is_applied(orientation):
    original = samples.tiff(orientation=orientation)
    result = clean(original)
    assert_shows_like(original, result.data)


@pytest.mark.parametrize("orientation", [2, 6, 8])
def test_heic_rotation_and_mirroring_are_applied(orientation):
    original = samples.heic(orientation=orientation)
    result = clean(original)
    assert result.media_type == "image/jpeg"
    assert_shows_like(original, result.data)
    assert labels.ORIENTATION in result.removed


@pytest.mark.parametrize("orientation", [3, 6])
def test_avif_rotation_is_applied(orientation):
    original = samples.avif(orientation=orientation)
    result = clean(original)
    assert_shows_like(original, result.data)


def test_animated_webp_turned_keeps_every_frame_turned():
    original = samples.webp(animated=True, orientation=6)
    result = clean(original)
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(result.data)) as after:
        assert after.n_frames == before.n_frames == 3
        for index in range(3):
            before.seek(index)
            after.seek(index)
            turned = before.convert("RGB").transpose(Image.Transpose.ROTATE_270)
            pairs = zip(samples.quadrant_colours(turned), samples.quadrant_colours(after.convert("RGB")))
            assert all(samples.close(want, got) for want, got in pairs)
