"""TIFF, single or multi-page: re-encode as PNG (one page) or APNG (one frame per page).

Browsers do not show TIFF, and its IFD0 is where ExifTool's own writer leaves Make, Model, serial
numbers and GeoTIFF tags. Pillow applies each page's Orientation tag while decoding (never an XMP
one, see orientation.py), so the pages come out the right way up with nothing of the original file
around them.
"""

from __future__ import annotations

from typing import BinaryIO

from PIL import Image

from intake.cleaning import animation, exif, guard, icc, labels, raster
from intake.cleaning.contract import Declared, Outcome, contents, photo
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

_NEW_SUBFILE_TYPE, _REDUCED_RESOLUTION = 0x00FE, 0x1
#: Pages read by declare(): one more than the limit is enough for the pipeline to refuse.
_COUNT_AT_MOST = guard.MAX_FRAMES + 1


class _Tiff:
    name = "TIFF"
    kind = "photo"
    media_types = frozenset({"image/tiff"})
    extensions = {"image/png": "png"}

    def recognise(self, head: bytes) -> bool:
        return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

    def declare(self, source: BinaryIO) -> Declared:
        """Every page's declared size, read from its tags: a thumbnail first page must not vouch for
        a huge second one."""
        sizes = [size for size, _ in _pages(raster.open_image(contents(source), "TIFF"))]
        return Declared(max(w for w, _ in sizes), max(h for _, h in sizes), frames=len(sizes))

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        return _clean(contents(source))

    def verify(self, outcome: Outcome) -> None:
        raster.verify(outcome)


FORMAT = _Tiff()


def _clean(data: bytes) -> Outcome:
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
    reduced = [is_reduced for _, is_reduced in _pages(image)]
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
    return photo(result, "image/png", "png", kinds)


def _pages(image: Image.Image) -> list[tuple[tuple[int, int], bool]]:
    """Each page's size and whether it is a reduced-size copy of another (a thumbnail), from its tags."""
    pages: list[tuple[tuple[int, int], bool]] = []
    # Pillow's own page count walks them all, however many.
    while len(pages) < _COUNT_AT_MOST:
        try:
            image.seek(len(pages))
        except EOFError:
            break
        except raster.DECODE_ERRORS as error:
            raise Refused(Reason.DAMAGED) from error
        pages.append((image.size, _is_reduced(image)))
    return pages


def _is_reduced(image: Image.Image) -> bool:
    # A TiffImageFile always has tag_v2; Pillow's Image type does not declare it.
    flags = image.tag_v2.get(_NEW_SUBFILE_TYPE, 0)  # type: ignore[attr-defined]
    if not isinstance(flags, int):
        raise Refused(Reason.MALFORMED, format="TIFF")
    return bool(flags & _REDUCED_RESOLUTION)
