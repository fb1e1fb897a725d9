"""Colour profiles: keep the colours right without keeping a device's profile.

An ICC profile can name the device or software that made it (description, manufacturer, model,
copyright, creation date). We never copy a device's own profile into the output. A profile that
renders like sRGB is simply dropped, since browsers take an untagged image as sRGB. A standard
profile, written byte for byte the same by millions of devices, is kept where the format allows
(JPEG): it says no more than "a wide-gamut phone", and keeping it spares re-encoding the evidence.
Any other profile is applied to the pixels (converted to sRGB), which means re-encoding.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from typing import cast

from PIL import Image, ImageChops, ImageCms

from intake.cleaning import raster

#: Largest difference (0-255) between a profile's rendering and sRGB's that we call "the same".
_SAME_AS_SRGB = 3
_SRGB = ImageCms.createProfile("sRGB")

#: Standard profiles, by the SHA-256 of their exact bytes: never by their description, which anyone
#: can write into a profile of their own. A profile differing by one byte is not one of these.
STANDARD_PROFILES: dict[str, str] = {
    # "Display P3", 536 bytes, "Copyright Apple Inc., 2022": what iPhones write into their
    # wide-colour photos (this one from an iPhone SE of the second generation).
    "20789fdbea9835251a4f0796c8bf45cbd964896044886540da21ffc7457af0ab": "Display P3 (Apple)",
}


def is_standard(profile: bytes) -> bool:
    """True when ``profile`` is, byte for byte, one of the standard profiles we keep."""
    return bool(profile) and hashlib.sha256(profile).hexdigest() in STANDARD_PROFILES


def renders_as_srgb(profile: bytes) -> bool:
    """True when dropping ``profile`` leaves every colour (within a few levels) where it was."""
    return _renders_as_srgb(profile)


@lru_cache(maxsize=64)  # a phone writes the same profile into every photo
def _renders_as_srgb(profile: bytes) -> bool:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if source.profile.xcolor_space.strip() == "GRAY":
            # A grey profile only sets a tone curve, and the usual ones are within a hair of sRGB's.
            return True
        if source.profile.xcolor_space.strip() != "RGB":
            return False
        probe = _probe()
        converted = ImageCms.profileToProfile(probe, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    assert converted is not None
    # An RGB image has one (low, high) pair per band; Pillow's type also allows a single-band pair.
    extrema = cast("tuple[tuple[int, int], ...]", ImageChops.difference(probe, converted).getextrema())
    worst = max(high for _, high in extrema)
    return worst <= _SAME_AS_SRGB


def must_apply(profile: bytes) -> bool:
    """True when the pixels must be converted for the colours to stay right once ``profile`` goes."""
    return bool(profile) and not renders_as_srgb(profile) and usable(profile)


def usable(profile: bytes) -> bool:
    try:
        ImageCms.ImageCmsProfile(io.BytesIO(profile))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    return True


def to_srgb(image: Image.Image, profile: bytes) -> Image.Image:
    """``image`` with ``profile`` applied, in RGB or RGBA; unchanged if the profile is unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    if "transparency" in image.info:
        # A tRNS colour or palette entry would not survive the conversion to RGB: make it an alpha channel.
        image = raster.eight_bit_grey(image).convert("RGBA")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    colour = image.convert("RGB") if image.mode in ("RGBA", "LA", "P", "PA") else image
    converted: Image.Image | None
    try:
        if colour.mode == "RGB" and source.profile.xcolor_space.strip() == "RGB":
            ImageCms.profileToProfile(colour, source, _SRGB, inPlace=True)
            converted = colour
        else:
            converted = ImageCms.profileToProfile(colour, source, _SRGB, outputMode="RGB")
    except ImageCms.PyCMSError:
        return image
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


@lru_cache(maxsize=1)
def _probe() -> Image.Image:
    """Every colour on a 16-step grid of the RGB cube."""
    steps = [round(i * 255 / 15) for i in range(16)]
    pixels = bytes(value for r in steps for g in steps for b in steps for value in (r, g, b))
    return Image.frombytes("RGB", (64, 64), pixels)
