"""HEIC/HEIF and AVIF: decode the primary image as it is meant to be shown, write it as JPEG or PNG.

Not every browser shows HEIC, and these containers carry many items besides the picture (Exif and
XMP items, thumbnails, depth maps, HDR gain maps, bursts), so the primary image is decoded with its
rotation and mirroring applied and re-encoded: nothing of the container survives. HEIC goes through
pillow-heif (libheif), AVIF through Pillow's own plugin (libavif). Animated AVIF becomes an APNG.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import pillow_heif
from PIL import Image

from intake.cleaning import animation, bmff, exif, icc, labels, orientation, raster
from intake.cleaning.contract import Declared, Outcome, contents, photo
from intake.cleaning.errors import Refused
from intake.cleaning.reasons import Reason

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
)


class _Heif:
    name = "HEIF"
    kind = "photo"
    media_types = frozenset({"image/heic", "image/heif", "image/avif"})
    extensions = {"image/jpeg": "jpg", "image/png": "png"}

    def recognise(self, head: bytes) -> bool:
        """An ISO media file that names a still-image brand: a video of the same family is not one."""
        return bool(bmff.brands(head) & (_AVIF_BRANDS | _HEIF_BRANDS))

    def declare(self, source: BinaryIO) -> Declared:
        """The primary image's size, and for AVIF its frames, read by the decoders without decoding."""
        data = contents(source)
        brands = bmff.brands(data)
        if brands & _AVIF_BRANDS:
            image = raster.open_image(data, "AVIF")
            return Declared(*image.size, frames=getattr(image, "n_frames", 1))
        if not brands & _HEIF_BRANDS:
            raise Refused(Reason.MEDIA_NOT_IMAGE)
        try:
            container = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
            width, height = container[container.primary_index].size
        except raster.DECODE_ERRORS as error:
            raise Refused(Reason.DAMAGED) from error
        return Declared(width, height)

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        return _clean(contents(source))

    def verify(self, outcome: Outcome) -> None:
        raster.verify(outcome, decode=outcome.media_type != "image/jpeg")


FORMAT = _Heif()


def _clean(data: bytes) -> Outcome:
    found = bmff.inventory(data)
    kinds = set(found.kinds)
    if found.turned:
        kinds.add(labels.ORIENTATION)
    if found.brands & _AVIF_BRANDS:
        return _avif(data, kinds)
    if found.brands & _HEIF_BRANDS:
        return _heic(data, kinds)
    raise Refused(Reason.MEDIA_NOT_IMAGE)


def _heic(data: bytes, kinds: set[str]) -> Outcome:
    try:
        container = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        primary = container[container.primary_index]
        info = primary.info
        _note_metadata(info, kinds)
        if len(container) > 1:
            kinds.add(labels.SECONDARY_IMAGES)
        if info.get("thumbnails"):
            kinds.add(labels.THUMBNAIL)
        if info.get("depth_images"):
            kinds.add(labels.DEPTH_MAP)
        # Zero copy: a view of libheif's decoded buffer, which stays alive with ``primary``.
        pixels = Image.frombuffer(primary.mode, primary.size, primary.data, "raw", primary.mode, primary.stride, 1)
    except raster.DECODE_ERRORS as error:
        raise Refused(Reason.DAMAGED) from error
    subsampling = 2 if info.get("chroma") == 420 else 0
    return _write(pixels, info.get("icc_profile") or b"", kinds, subsampling)


def _avif(data: bytes, kinds: set[str]) -> Outcome:
    image = raster.open_image(data, "AVIF")
    _note_metadata(image.info, kinds)
    turn = image.getexif().get(exif.ORIENTATION_TAG, 1)
    turn = turn if turn in range(1, 9) else 1
    if turn != 1:
        kinds.add(labels.ORIENTATION)
    profile = image.info.get("icc_profile") or b""
    if getattr(image, "n_frames", 1) > 1:
        convert = _needs_conversion(profile, kinds)
        result = animation.to_apng(image, turn=turn, profile=profile if convert else b"")
        return photo(result, "image/png", "png", kinds)
    raster.load(image)
    return _write(orientation.apply(image, turn), profile, kinds, subsampling=-1)


def _note_metadata(info: dict, kinds: set[str]) -> None:
    if info.get("exif"):
        kinds |= exif.read(info["exif"]).kinds
    if info.get("xmp"):
        kinds.add(labels.XMP)
    if info.get("metadata"):
        kinds.add(labels.IPTC)


def _needs_conversion(profile: bytes, kinds: set[str]) -> bool:
    if not profile:
        return False
    kinds.add(labels.COLOUR_PROFILE)
    return icc.must_apply(profile)


def _write(pixels: Image.Image, profile: bytes, kinds: set[str], subsampling: int) -> Outcome:
    if _needs_conversion(profile, kinds):
        pixels = icc.to_srgb(pixels, profile)
    if raster.has_alpha(pixels):
        return photo(raster.encode_png(pixels), "image/png", "png", kinds)
    return photo(raster.encode_jpeg(pixels, subsampling=subsampling), "image/jpeg", "jpg", kinds)
