"""JPEG: metadata segments go, the compressed image data stays bit for bit."""

from __future__ import annotations

import io
import random

import piexif
import pytest
from PIL import Image, ImageChops, ImageOps

from intake.cleaning import clean, labels

from . import samples
from .samples import scan_data


def test_the_witness_photo_loses_gps_serial_maker_note_and_thumbnail_and_stays_upright():
    original = samples.jpeg(orientation=6)
    result = clean(original)
    for kind in (labels.GPS, labels.SERIAL, labels.MAKER_NOTES, labels.THUMBNAIL):
        assert kind in result.removed
    assert labels.ORIENTATION not in result.removed  # kept, alone
    with Image.open(io.BytesIO(result.data)) as image:
        assert dict(image.getexif()) == {0x0112: 6}
        assert ImageOps.exif_transpose(image).size == (48, 64)
    assert (result.width, result.height) == (48, 64)
    assert samples.SECRET_SERIAL not in result.data
    assert samples.SECRET_MAKER_NOTE not in result.data


def test_compressed_image_data_is_kept_bit_for_bit():
    original = samples.jpeg()
    result = clean(original)
    assert scan_data(result.data) == scan_data(original)


def test_progressive_scans_are_kept_bit_for_bit():
    original = samples.jpeg(progressive=True)
    assert scan_data(clean(original).data) == scan_data(original)


def luma(jpeg: bytes) -> Image.Image:
    """The decoded Y channel, which no colour conversion or chroma upsampling blurs."""
    image = Image.open(io.BytesIO(jpeg))
    image.draft("YCbCr", image.size)
    image.load()
    return image.getchannel(0)


@pytest.mark.parametrize("size", [(64, 48), (61, 37)], ids=["whole blocks", "partial blocks"])
def test_a_turned_photo_is_a_copy_of_its_scans_shown_turned_by_its_orientation_tag(size):
    """Nothing is decoded or re-encoded: the luma of a noisy picture comes out identical."""
    noise = Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=75, exif=piexif.dump({"0th": {piexif.ImageIFD.Orientation: 8}}))
    original = out.getvalue()
    result = clean(original)
    assert scan_data(result.data) == scan_data(original)
    assert ImageChops.difference(luma(result.data), luma(original)).getextrema() == (0, 0)
    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(result.data)))
    assert shown.size == (size[1], size[0])


def test_mpo_secondary_image_and_picture_index_are_dropped():
    result = clean(samples.mpo())
    assert labels.SECONDARY_IMAGES in result.removed
    assert result.data.count(b"\xff\xd8") == 1
    assert b"MPF\x00" not in result.data


def test_everything_after_the_end_of_image_is_dropped():
    original = samples.jpeg(everything=False) + b"PK\x03\x04" + samples.SECRET_OWNER + b"<html>"
    result = clean(original)
    assert result.data.endswith(b"\xff\xd9")
    assert labels.TRAILER in result.removed


def test_comment_xmp_iptc_and_private_segments_are_reported():
    result = clean(samples.jpeg())
    for kind in (labels.DESCRIPTION, labels.XMP, labels.IPTC, labels.PRIVATE, labels.CONTENT_CREDENTIALS):
        assert kind in result.removed


def test_a_device_profile_that_renders_as_srgb_is_dropped_without_touching_pixels():
    original = samples.jpeg(icc=samples.icc_profile(wide_gamut=False))
    result = clean(original)
    assert labels.COLOUR_PROFILE in result.removed
    assert b"ICC_PROFILE" not in result.data
    assert scan_data(result.data) == scan_data(original)


def test_a_wide_gamut_profile_is_applied_to_the_pixels():
    profile = samples.icc_profile(wide_gamut=True)
    original = samples.jpeg(icc=profile)
    result = clean(original)
    assert b"ICC_PROFILE" not in result.data
    from PIL import ImageCms

    with Image.open(io.BytesIO(original)) as image:
        managed = ImageCms.profileToProfile(
            image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB")
        )
        unmanaged = image.convert("RGB")
    cleaned = samples.displayed(result.data)
    green = (3 * 64 // 4, 48 // 4)
    assert samples.close(cleaned.getpixel(green), managed.getpixel(green), tolerance=6)
    assert not samples.close(cleaned.getpixel(green), unmanaged.getpixel(green), tolerance=6)


def test_cmyk_jpeg_keeps_its_adobe_colour_transform():
    original = samples.jpeg(mode="CMYK")
    result = clean(original)
    assert scan_data(result.data) == scan_data(original)
    before, after = samples.displayed(original), samples.displayed(result.data)
    assert samples.quadrant_colours(before) == samples.quadrant_colours(after)
