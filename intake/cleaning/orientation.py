"""The eight EXIF orientations, applied to pixels so that the tag can go.

EXIF orientation N says how to turn the stored pixels to show them the right way up. Browsers and
phone galleries honour it, so dropping the tag without turning the pixels shows the image sideways.
A JPEG whose pixels are copied keeps the tag instead, alone in an EXIF block of our own (jpeg.py);
every other image whose pixels are written anew is turned here, and loses the tag.
"""

from __future__ import annotations

from PIL import Image

_T = Image.Transpose
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: _T.FLIP_LEFT_RIGHT,
    3: _T.ROTATE_180,
    4: _T.FLIP_TOP_BOTTOM,
    5: _T.TRANSPOSE,
    6: _T.ROTATE_270,
    7: _T.TRANSVERSE,
    8: _T.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112


def apply(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` as it is meant to be shown; the same object when there is nothing to do."""
    operation = _TRANSPOSE.get(orientation)
    return image.transpose(operation) if operation is not None else image


def ignore_xmp_orientation(image: Image.Image) -> None:
    """Make Pillow's TIFF decoder turn a page by its own Orientation tag only, never by its XMP.

    Pillow falls back to an XMP ``tiff:Orientation`` when the IFD has no Orientation tag, but
    browsers and phones honour only the tag; call this after each seek and before the load.
    """
    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return
    image.info.pop("xmp", None)
    exif = image.getexif()
    if _ORIENTATION_TAG in exif and _ORIENTATION_TAG not in tags:
        del exif[_ORIENTATION_TAG]
