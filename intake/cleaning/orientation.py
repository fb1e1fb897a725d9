"""The eight EXIF orientations, applied to pixels so that the tag can go.

EXIF orientation N says how to turn the stored pixels to show them the right way up. Browsers and
phone galleries honour it, so dropping the tag without turning the pixels shows the image sideways.
For JPEG the turn is lossless through ``jpegtran -perfect`` when it is installed and the image's
size is a whole number of blocks (it is for phone photos); otherwise the pixels are re-encoded.
"""

from __future__ import annotations

import shutil
import subprocess

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
_JPEGTRAN: dict[int, list[str]] = {
    2: ["-flip", "horizontal"],
    3: ["-rotate", "180"],
    4: ["-flip", "vertical"],
    5: ["-transpose"],
    6: ["-rotate", "90"],
    7: ["-transverse"],
    8: ["-rotate", "270"],
}
_JPEGTRAN_TIMEOUT_SECONDS = 60
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


def jpeg_lossless(jpeg: bytes, orientation: int) -> bytes | None:
    """``jpeg`` turned without re-encoding, or None when that cannot be done exactly.

    ``-copy none`` copies no marker segment at all, so nothing we removed comes back.
    """
    executable = shutil.which("jpegtran")
    if executable is None or orientation not in _JPEGTRAN:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - a fixed argument list, no shell; the image goes to stdin
            [executable, "-copy", "none", "-perfect", "-optimize", *_JPEGTRAN[orientation]],
            input=jpeg,
            capture_output=True,
            timeout=_JPEGTRAN_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 or not result.stdout.startswith(b"\xff\xd8"):
        return None
    return result.stdout
