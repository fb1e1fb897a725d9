"""TIFF, single or multi-page: re-encode as PNG (one page) or APNG (one frame per page).

Browsers do not show TIFF, and its IFD0 is where ExifTool's own writer leaves Make, Model, serial
numbers and GeoTIFF tags. Pillow applies the TIFF orientation while decoding, so the pages come out
the right way up with nothing of the original file around them.
"""
from __future__ import annotations

from PIL import Image

from intake.cleaning import animation, exif, guard, icc, labels, raster
from intake.cleaning.outcome import Outcome

_NEW_SUBFILE_TYPE, _REDUCED_RESOLUTION = 0x00FE, 0x1


def clean(data: bytes) -> Outcome:
    found = exif.read_tiff_file(data)
    kinds = set(found.kinds)
    if found.orientation != 1:
        kinds.add(labels.ORIENTATION)
    image = raster.open_image(data, "TIFF")
    pages = getattr(image, "n_frames", 1)
    guard.check_frames(*image.size, pages)
    profile = image.info.get("icc_profile") or b""
    convert = False
    if profile:
        kinds.add(labels.COLOUR_PROFILE)
        convert = icc.must_apply(profile)
    keep = _full_size_pages(image, pages)
    if len(keep) < pages:
        kinds.add(labels.THUMBNAIL)
    if len(keep) > 1:
        result = animation.to_apng(
            image,
            profile=profile if convert else b"",
            page_delay_ms=animation.PAGE_DELAY_MS,
            indices=keep,
        )
    else:
        animation.seek(image, keep[0])
        raster.load(image)
        pixels = icc.to_srgb(image, profile) if convert else image
        result = raster.encode_png(pixels)
    raster.decode_every_frame(result, "PNG")
    return Outcome(result, "image/png", "png", kinds)


def _full_size_pages(image: Image.Image, pages: int) -> list[int]:
    """Pages that are not marked as reduced-size copies (thumbnails) of another page."""
    keep = []
    for index in range(pages):
        animation.seek(image, index)
        if not int(image.tag_v2.get(_NEW_SUBFILE_TYPE, 0)) & _REDUCED_RESOLUTION:
            keep.append(index)
    return keep or [0]
