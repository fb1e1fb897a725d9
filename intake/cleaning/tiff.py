"""TIFF, single or multi-page: re-encode as PNG (one page) or APNG (one frame per page).

Browsers do not show TIFF, and its IFD0 is where ExifTool's own writer leaves Make, Model, serial
numbers and GeoTIFF tags. Pillow applies each page's Orientation tag while decoding (never an XMP
one, see orientation.py), so the pages come out the right way up with nothing of the original file
around them.
"""

from __future__ import annotations

from PIL import Image

from intake.cleaning import animation, exif, guard, icc, labels, raster
from intake.cleaning.errors import Refused
from intake.cleaning.outcome import Outcome
from intake.cleaning.reasons import Reason

_NEW_SUBFILE_TYPE, _REDUCED_RESOLUTION = 0x00FE, 0x1


def clean(data: bytes) -> Outcome:
    found = exif.read_tiff_file(data)
    kinds = set(found.kinds)
    if found.orientation != 1:
        kinds.add(labels.ORIENTATION)
    image = raster.open_image(data, "TIFF")
    profile = image.info.get("icc_profile") or b""
    convert = False
    if profile:
        kinds.add(labels.COLOUR_PROFILE)
        convert = icc.must_apply(profile)
    reduced = _reduced_pages(image)
    keep = [index for index, is_reduced in enumerate(reduced) if not is_reduced] or [0]
    if len(keep) < len(reduced):
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


def _reduced_pages(image: Image.Image) -> list[bool]:
    """For each page, whether it is a reduced-size copy (a thumbnail) of another.

    Reads every page's tags, and checks every page's declared size, before any page is decoded: a
    thumbnail first page must not vouch for a huge second one.
    """
    reduced: list[bool] = []
    sizes: list[tuple[int, int]] = []
    # One page more than the limit is enough to refuse; Pillow's own page count walks them all.
    while len(sizes) <= guard.MAX_FRAMES:
        try:
            image.seek(len(sizes))
        except EOFError:
            break
        except raster.DECODE_ERRORS as error:
            raise Refused(Reason.DAMAGED) from error
        guard.check_dimensions(*image.size)
        sizes.append(image.size)
        reduced.append(_is_reduced(image))
    guard.check_frames(max(w for w, _ in sizes), max(h for _, h in sizes), len(sizes))
    return reduced


def _is_reduced(image: Image.Image) -> bool:
    # A TiffImageFile always has tag_v2; Pillow's Image type does not declare it.
    flags = image.tag_v2.get(_NEW_SUBFILE_TYPE, 0)  # type: ignore[attr-defined]
    if not isinstance(flags, int):
        raise Refused(Reason.MALFORMED, format="TIFF")
    return bool(flags & _REDUCED_RESOLUTION)
