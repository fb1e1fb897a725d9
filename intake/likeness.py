"""What the worker works out of a clean photo after cleaning, and how near-identical photos are found.

- A preview: a JPEG at most ``INTAKE_PREVIEW_PIXELS`` on its long side, upright, in sRGB, with no
  metadata at all, for the reviewer's page. Made only of a picture within the viewing bound
  (``INTAKE_PREVIEW_MAX_PIXELS``) that decodes; any other is only ever downloaded. A video's poster
  frame already is its preview.
- A perceptual hash: PDQ (docs/decisions/0009), 256 bits that change little when a photo is resized,
  recompressed or lightly edited. It is stored sealed with the file keys, never plain, and as 16 keyed
  bands of 16 bits (``LikenessBand``). Two hashes within 15 bits of each other share a band whatever
  bits differ (16 bands, 15 differences: one band is left untouched); hashes up to ``NEAR`` bits apart
  share one often. Photos sharing a band are candidates; their sealed hashes, opened by the web, say
  how near they are. This is multi-index hashing, as in PDQ's own tools.
- The clean file's SHA-256, sealed, and as a keyed token (``digest_token``): the same file sent twice.

Without the matching key, a copy of the database says which photos share a band (likely near-identical
photos across submissions), and nothing about a photo held by whoever has the copy.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pdqhash
from django.conf import settings
from django.db.models import Q
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from intake import crypto
from intake.cleaning import guard  # noqa: F401 - sets Pillow's decompression-bomb limit before any open
from intake.models import Image, LikenessBand, Submission

log = logging.getLogger(__name__)

BANDS = 16
BAND_BYTES = 2
#: Hashes this many bits apart or fewer are near-identical: PDQ's usual threshold.
NEAR = 31
#: PDQ's quality says how much detail the hash rests on; a flat or nearly blank picture (a black frame,
#: a screenshot of a white page) has little, and its hash would match many unrelated ones.
MIN_QUALITY = 50
PREVIEW_QUALITY = 80
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Description:
    """What ``describe`` found: a preview (JPEG bytes) if one could be made, and the PDQ hash (32
    bytes) with its quality (0 to 100) if the picture was decoded."""

    preview: bytes | None = None
    pdq: bytes | None = None
    quality: int = 0


def describe(file: BinaryIO, width: int | None, height: int | None, *, make_preview: bool = True) -> Description:
    """A preview and the PDQ hash of the picture in ``file``, or an empty description if it is beyond the
    viewing bound or does not decode. ``width`` and ``height`` are its size as the engine declared it."""
    if not width or not height or width * height > settings.INTAKE_PREVIEW_MAX_PIXELS:
        return Description()
    try:
        picture = _upright_srgb(file, settings.INTAKE_PREVIEW_PIXELS)
    except Exception as error:  # noqa: BLE001 - a picture that does not decode gets no preview, nothing worse
        # The type only: a message could quote the file.
        log.warning("a clean picture could not be decoded for its preview (%s)", type(error).__name__)
        return Description()
    hash_bytes, quality = pdq(picture)
    preview = _jpeg(picture) if make_preview else None
    return Description(preview=preview, pdq=hash_bytes, quality=quality)


def _upright_srgb(file: BinaryIO, bound: int) -> PILImage.Image:
    """The picture, the right way up, in sRGB, at most ``bound`` pixels on its long side."""
    file.seek(0)
    with PILImage.open(file) as opened:
        if opened.format == "JPEG":
            # Decoded at 1/2, 1/4 or 1/8 of its size when that still covers the bound: a 12-megapixel
            # photo is never decoded whole.
            scale = bound / max(opened.size)
            opened.draft("RGB", (math.ceil(opened.width * scale), math.ceil(opened.height * scale)))
        opened.load()
        profile = opened.info.get("icc_profile")
        picture = ImageOps.exif_transpose(opened)
    picture = _eight_bit(picture)
    if profile:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if picture.mode not in ("RGB", "CMYK", "L"):
            picture = picture.convert("RGB")
        converted = ImageCms.profileToProfile(picture, source, _SRGB, outputMode="RGB")
        picture = converted if converted is not None else picture
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        flat = PILImage.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        picture = flat
    picture = picture.convert("RGB")
    picture.thumbnail((bound, bound), PILImage.Resampling.LANCZOS)
    picture.info.clear()  # nothing of the file's own goes into the preview
    return picture


def _eight_bit(picture: PILImage.Image) -> PILImage.Image:
    """Greyscale deeper than 8 bits (a 16-bit PNG) in 8 bits. Pillow's own conversion clips every value
    above 255, which turns the picture white. Scaled in its own mode (a linear map Pillow applies pixel by
    pixel), so that no wider copy of a large picture is ever made."""
    if picture.mode.startswith("I;16"):
        return picture.point(lambda value: value / 256).convert("L")
    if picture.mode not in ("I", "F"):
        return picture
    extrema = picture.getextrema()  # one band: two numbers
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
    if low >= 0 and high <= 255 and picture.mode == "I":
        return picture.convert("L")
    if picture.mode == "F" and low >= 0 and high <= 1:  # a floating-point picture's usual range
        low, high = 0, 1
    elif low >= 0 and high <= 65535:  # 16-bit values widened to 32 bits
        low, high = 0, 65535
    # Anything else is fitted to the range it uses.
    span = (high - low) or 1
    return picture.point(lambda value: (value - low) * 255 / span).convert("L")


def _jpeg(picture: PILImage.Image) -> bytes:
    out = io.BytesIO()
    # No exif, no icc_profile, no comment: the preview carries pixels only (and is sRGB, JPEG's default).
    picture.save(out, "JPEG", quality=PREVIEW_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def pdq(picture: PILImage.Image) -> tuple[bytes, int]:
    """The PDQ hash of a picture, as 32 bytes, and its quality."""
    if max(picture.size) > 512:
        # PDQ reduces to 64×64 itself; from 512 px it gives the same bits, faster (as its authors advise).
        picture = picture.copy()
        picture.thumbnail((512, 512), PILImage.Resampling.BILINEAR)
    bits, quality = pdqhash.compute(np.asarray(picture.convert("RGB"), dtype=np.uint8))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def picture_of(data: bytes) -> PILImage.Image:
    """A small picture (a video's poster frame) decoded whole, upright and in sRGB."""
    return _upright_srgb(io.BytesIO(data), settings.INTAKE_PREVIEW_PIXELS)


# --- Keyed and sealed ------------------------------------------------------------------------


def digest_token(sha256_hex: str) -> str:
    return crypto.matching_token(b"sha256", bytes.fromhex(sha256_hex))


def sealed_digest(image_id, sha256_hex: str) -> bytes:
    return crypto.seal_bytes(sha256_hex.encode(), crypto.field_context("intake_image", "sealed_sha256", image_id))


def band_tokens(hash_bytes: bytes) -> list[str]:
    """The keyed tokens of the hash's 16 bands; each band's number is in its token, so equal bits in
    different places do not match."""
    return [
        crypto.matching_token(b"pdq-band-%d" % band, hash_bytes[band * BAND_BYTES : (band + 1) * BAND_BYTES])
        for band in range(BANDS)
    ]


def seal(image_id, hash_bytes: bytes, quality: int) -> bytes:
    context = crypto.field_context("intake_image", "sealed_likeness", image_id)
    return crypto.seal_bytes(hash_bytes + bytes([quality]), context)


def opened(image: Image) -> tuple[bytes, int] | None:
    """The image's PDQ hash and quality, opened from their sealed copy (the web's file keys); None if it has none."""
    if not image.sealed_likeness:
        return None
    context = crypto.field_context("intake_image", "sealed_likeness", image.pk)
    plain = crypto.open_bytes(bytes(image.sealed_likeness), context)
    return plain[:32], plain[32]


def distance(first: bytes, second: bytes) -> int:
    """The number of bits in which two hashes differ (Hamming distance)."""
    return (int.from_bytes(first, "big") ^ int.from_bytes(second, "big")).bit_count()


# --- Found on a submission's page ----------------------------------------------------------------


@dataclass(frozen=True)
class Likeness:
    """Another submission holding the same file (``same_file``) or a near-identical photo."""

    submission: Submission
    same_file: bool


#: The other images a page reads at most, newest submissions first: a photo sent thousands of times
#: would otherwise have every hash that shares a band with it opened on every page that holds it.
MAX_CANDIDATES = 200
#: The other submissions a page lists at most, for each photo and in its summary; the rest are counted.
MAX_LISTED = 20


class Found(list):
    """The likenesses listed (at most ``MAX_LISTED``), with how many more were found (``more``), and
    whether the search stopped at ``MAX_CANDIDATES`` so that there may be others still (``incomplete``)."""

    more = 0
    incomplete = False

    @property
    def total(self) -> int:
        return len(self) + self.more


def attach_likenesses(submission: Submission, images: list[Image]) -> Found:
    """Set ``likenesses`` (a ``Found``) on each of ``images`` (a submission's clean photos and videos):
    the other submissions, ready for review, holding the same file or a near-identical photo. Returns
    every such submission once, for the page's summary. Two queries whatever the number of photos or of
    their copies: the candidate images (sharing a band or the digest with one of these, at most
    ``MAX_CANDIDATES``) with their submissions, and the bands of these photos and of the candidates."""
    for image in images:
        image.likenesses = Found()  # type: ignore[attr-defined]
    shown = {image.pk: image for image in images if image.state == Image.State.CLEAN}
    if not shown:
        return Found()
    own_tokens = LikenessBand.objects.filter(image__submission=submission).values("token")
    digests = {image.sha256_token for image in shown.values() if image.sha256_token}
    sharing = Q(pk__in=LikenessBand.objects.filter(token__in=own_tokens).values("image_id"))
    if digests:
        sharing |= Q(sha256_token__in=digests)
    others = list(
        Image.objects.filter(sharing)
        .filter(state=Image.State.CLEAN, submission__in=Submission.objects.ready_for_review().values("pk"))
        .exclude(submission=submission)
        .select_related("submission")
        .only("pk", "sha256_token", "sealed_likeness", "submission__id", "submission__status")
        .order_by("-submission__received_on", "pk")[: MAX_CANDIDATES + 1]
    )
    incomplete = len(others) > MAX_CANDIDATES
    del others[MAX_CANDIDATES:]
    if not others:
        return Found()
    bands_of: dict = {}  # image id -> its band tokens
    wanted = [*shown, *(other.pk for other in others)]
    for image_id, token in LikenessBand.objects.filter(image_id__in=wanted).values_list("image_id", "token"):
        bands_of.setdefault(image_id, set()).add(token)
    own = {image_id: bands_of.get(image_id, set()) for image_id in shown}
    hashes = {pk: _usable(opened(image)) for pk, image in shown.items() if own[pk]}
    own_tokens_seen = set().union(*own.values())
    found: dict = {}
    for other in others:
        other_bands = bands_of.get(other.pk, set())
        # Opened only when it shares a band: a candidate by its digest alone needs no hash.
        other_hash = _usable(opened(other)) if own_tokens_seen & other_bands else None
        for image in shown.values():
            same_file = bool(image.sha256_token) and image.sha256_token == other.sha256_token
            mine = hashes.get(image.pk)
            near = (
                mine is not None
                and other_hash is not None
                and bool(own[image.pk] & other_bands)
                and distance(mine, other_hash) <= NEAR
            )
            if same_file or near:
                _add(image.likenesses, Likeness(other.submission, same_file))  # type: ignore[attr-defined]
                found.setdefault(other.submission_id, other.submission)
    for image in shown.values():
        _cap(image.likenesses, incomplete)  # type: ignore[attr-defined]
    summary = Found(Likeness(found_submission, False) for found_submission in found.values())
    _cap(summary, incomplete)
    return summary


def _cap(found: Found, incomplete: bool) -> None:
    found.more = max(0, len(found) - MAX_LISTED)
    del found[MAX_LISTED:]
    found.incomplete = incomplete and bool(found)


def _usable(hashed: tuple[bytes, int] | None) -> bytes | None:
    """The hash, unless there is none or its quality is too low to match on (``MIN_QUALITY``)."""
    if hashed is None or hashed[1] < MIN_QUALITY:
        return None
    return hashed[0]


def _add(listed: list[Likeness], likeness: Likeness) -> None:
    """One entry per other submission; the same file outranks a near-identical photo in it."""
    for index, known in enumerate(listed):
        if known.submission.pk == likeness.submission.pk:
            if likeness.same_file and not known.same_file:
                listed[index] = likeness
            return
    listed.append(likeness)
