"""Colour profiles: a standard one is kept byte for byte with the scans; any other goes.

A standard profile is recognised by the digest of its exact bytes (intake.cleaning.icc), so one that
merely calls itself by a standard profile's name is converted like any device's profile. The tests
use a wide-gamut profile of our own (samples.WIDE_GAMUT, Display P3's primaries), put on the list
for the test that needs it: the engine's own list holds vendors' digests, never their bytes.
"""

from __future__ import annotations

import hashlib
import io
import struct

import pytest
from PIL import Image

from intake.cleaning import clean, icc, labels

from . import exiftool, samples
from .samples import scan_data

#: The digest of Apple's Display P3 profile as iPhones write it (536 bytes, "Copyright Apple Inc., 2022").
APPLE_DISPLAY_P3 = "20789fdbea9835251a4f0796c8bf45cbd964896044886540da21ffc7457af0ab"


def profile_of(jpeg: bytes) -> bytes | None:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.info.get("icc_profile")


@pytest.fixture
def wide_gamut_is_standard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our wide-gamut profile on the engine's list of standard profiles, for one test."""
    digest = hashlib.sha256(samples.WIDE_GAMUT).hexdigest()
    monkeypatch.setitem(icc.STANDARD_PROFILES, digest, "Wide gamut (tests)")


def test_the_engine_keeps_apples_display_p3_by_its_digest_and_knows_nothing_of_our_test_profile():
    assert APPLE_DISPLAY_P3 in icc.STANDARD_PROFILES
    assert hashlib.sha256(samples.WIDE_GAMUT).hexdigest() not in icc.STANDARD_PROFILES


def test_the_test_profile_is_wide_gamut_so_dropping_it_would_change_colours():
    assert icc.usable(samples.WIDE_GAMUT)
    assert not icc.renders_as_srgb(samples.WIDE_GAMUT)
    assert icc.must_apply(samples.WIDE_GAMUT)


@pytest.mark.usefixtures("wide_gamut_is_standard")
def test_a_standard_profile_is_kept_byte_for_byte_and_the_scans_with_it():
    original = samples.jpeg(icc=samples.WIDE_GAMUT, orientation=6)
    result = clean(original)
    assert profile_of(result.data) == samples.WIDE_GAMUT
    assert scan_data(result.data) == scan_data(original)
    assert labels.COLOUR_PROFILE not in result.removed
    assert samples.SECRET_SERIAL not in result.data


@pytest.mark.usefixtures("wide_gamut_is_standard")
def test_exiftool_reads_the_kept_profile_as_it_was_and_nothing_else_but_the_orientation(tmp_path):
    path = tmp_path / "wide.jpg"
    path.write_bytes(clean(samples.jpeg(icc=samples.WIDE_GAMUT, orientation=6)).data)
    tags = exiftool.read([path])["wide.jpg"]
    assert tags["ICC_Profile:ProfileDescription"] == "Wide Gamut RGB (P3 primaries)"
    left = {key for key in exiftool.disallowed(tags) if not key.startswith(("ICC_Profile:", "ICC-header:"))}
    assert left == set()


def _another_year(profile: bytearray) -> None:
    struct.pack_into(">H", profile, 24, 2027)  # the profile's creation year: a device could write its own


def _another_letter(profile: bytearray) -> None:
    at = profile.index("Wide".encode("utf-16-be"))
    profile[at + 1] = ord("w")  # one letter of the description: anyone can write the text they like


@pytest.mark.usefixtures("wide_gamut_is_standard")
@pytest.mark.parametrize("alter", [_another_year, _another_letter], ids=["date", "description"])
def test_a_standard_profile_altered_by_one_byte_is_converted(alter):
    altered = bytearray(samples.WIDE_GAMUT)
    alter(altered)
    assert sum(a != b for a, b in zip(altered, samples.WIDE_GAMUT)) == 1
    assert icc.usable(bytes(altered))
    original = samples.jpeg(icc=bytes(altered))
    result = clean(original)
    assert profile_of(result.data) is None
    assert labels.COLOUR_PROFILE in result.removed
    assert scan_data(result.data) != scan_data(original)  # converted to sRGB in the pixels
    before, after = samples.displayed(original), samples.displayed(result.data)
    # P3's red is beyond sRGB's: converted, it reads as sRGB's most saturated red, not as stored.
    assert samples.quadrant_colours(after) != samples.quadrant_colours(before)


def test_a_wide_gamut_profile_off_the_list_is_converted():
    original = samples.jpeg(icc=samples.WIDE_GAMUT, orientation=6)
    result = clean(original)
    assert profile_of(result.data) is None
    assert labels.COLOUR_PROFILE in result.removed
    assert scan_data(result.data) != scan_data(original)
    before = samples.quadrant_colours(samples.displayed(original))
    after = samples.quadrant_colours(samples.displayed(result.data))
    red = max(range(4), key=lambda i: before[i][0] - before[i][1])  # wherever the turn put it
    assert after[red][0] > 240 and after[red][1] < 10  # P3's red is beyond sRGB's: the most saturated sRGB red


def test_a_device_profile_is_never_kept():
    original = samples.jpeg(icc=samples.icc_profile(wide_gamut=True))
    result = clean(original)
    assert profile_of(result.data) is None
    assert samples.SECRET_DEVICE_PROFILE not in result.data
    assert labels.COLOUR_PROFILE in result.removed
