"""Colour profiles: a standard one is kept byte for byte with the scans; any other goes.

A standard profile is recognised by the digest of its exact bytes (intake.cleaning.icc), so one that
merely calls itself "Display P3" is converted like any device's profile.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from intake.cleaning import clean, labels

from . import exiftool, samples
from .samples import scan_data


def profile_of(jpeg: bytes) -> bytes | None:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.info.get("icc_profile")


def test_apples_display_p3_profile_is_kept_byte_for_byte_and_the_scans_with_it():
    original = samples.jpeg(icc=samples.DISPLAY_P3, orientation=6)
    result = clean(original)
    assert profile_of(result.data) == samples.DISPLAY_P3
    assert scan_data(result.data) == scan_data(original)
    assert labels.COLOUR_PROFILE not in result.removed
    assert samples.SECRET_SERIAL not in result.data


def test_exiftool_reads_the_kept_profile_as_display_p3_and_nothing_else_but_the_orientation(tmp_path):
    path = tmp_path / "p3.jpg"
    path.write_bytes(clean(samples.jpeg(icc=samples.DISPLAY_P3, orientation=6)).data)
    tags = exiftool.read([path])["p3.jpg"]
    assert tags["ICC_Profile:ProfileDescription"] == "Display P3"
    left = {key for key in exiftool.disallowed(tags) if not key.startswith(("ICC_Profile:", "ICC-header:"))}
    assert left == set()


def test_a_profile_that_calls_itself_display_p3_but_differs_by_one_byte_is_converted():
    altered = bytearray(samples.DISPLAY_P3)
    struct.pack_into(">H", altered, 24, 2026)  # the profile's creation year: a device could write its own
    assert b"D\x00i\x00s\x00p\x00l\x00a\x00y\x00 \x00P\x003" in altered
    original = samples.jpeg(icc=bytes(altered))
    result = clean(original)
    assert profile_of(result.data) is None
    assert labels.COLOUR_PROFILE in result.removed
    assert scan_data(result.data) != scan_data(original)  # converted to sRGB in the pixels
    before, after = samples.displayed(original), samples.displayed(result.data)
    # Display P3's red is beyond sRGB's: converted, it reads as sRGB's most saturated red, not as stored.
    assert samples.quadrant_colours(after) != samples.quadrant_colours(before)


def test_a_device_profile_is_never_kept():
    original = samples.jpeg(icc=samples.icc_profile(wide_gamut=True))
    result = clean(original)
    assert profile_of(result.data) is None
    assert samples.SECRET_DEVICE_PROFILE not in result.data
    assert labels.COLOUR_PROFILE in result.removed
