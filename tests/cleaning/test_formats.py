"""Per format: what goes, what stays, and that frames and pages survive."""

from __future__ import annotations

import hashlib
import io
import struct

from PIL import Image

from intake.cleaning import ACCEPTED_MEDIA_TYPES, clean, labels, sniff

from . import samples


def png_chunk_types(data: bytes) -> list[bytes]:
    found, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.append(kind)
        pos += 12 + length
    return found


def png_idat(data: bytes) -> bytes:
    pos, parts = 8, []
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind in (b"IDAT", b"fdAT"):
            parts.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return b"".join(parts)


def webp_chunk_types(data: bytes) -> list[bytes]:
    found, pos = [], 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, pos)
        found.append(kind)
        pos += 8 + length + (length & 1)
    return found


def frames(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return getattr(image, "n_frames", 1)


def test_png_keeps_only_rendering_chunks_and_its_pixel_data_bit_for_bit():
    original = samples.png()
    result = clean(original)
    assert set(png_chunk_types(result.data)) <= {b"IHDR", b"IDAT", b"IEND"}
    assert png_idat(result.data) == png_idat(original)
    for kind in (labels.GPS, labels.OWNER, labels.SOFTWARE, labels.XMP, labels.DATES, labels.PRIVATE, labels.TRAILER):
        assert kind in result.removed


def test_apng_keeps_every_frame_and_its_frame_data():
    original = samples.png(animated=True)
    result = clean(original)
    assert frames(result.data) == frames(original) == 3
    assert png_idat(result.data) == png_idat(original)


def test_webp_loses_exif_xmp_and_trailer_and_keeps_its_bitstream():
    original = samples.webp()
    result = clean(original)
    assert set(webp_chunk_types(result.data)) <= {b"VP8X", b"VP8 ", b"ALPH"}
    vp8x = result.data[20]
    assert vp8x & 0x2C == 0, "the EXIF, XMP and ICC flags must be cleared"
    assert result.data[8 + struct.unpack_from("<I", result.data, 4)[0] :] == b""
    assert labels.GPS in result.removed and labels.TRAILER in result.removed


def test_animated_webp_keeps_every_frame_without_re_encoding():
    original = samples.webp(animated=True)
    result = clean(original)
    assert result.media_type == "image/webp"
    assert frames(result.data) == frames(original) == 3
    assert set(webp_chunk_types(result.data)) <= {b"VP8X", b"ANIM", b"ANMF"}


def test_gif_keeps_frames_loop_and_timing_and_loses_comments_and_foreign_extensions():
    original = samples.gif()
    result = clean(original)
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(result.data)) as after:
        assert after.n_frames == before.n_frames == 3
        assert after.info.get("loop") == 0
        assert after.info.get("duration") == before.info.get("duration")
        assert "comment" not in after.info
    assert b"XMP DataXMP" not in result.data and b"SECRETAPP01" not in result.data
    for kind in (labels.DESCRIPTION, labels.XMP, labels.APPLICATION_EXTENSIONS, labels.TRAILER):
        assert kind in result.removed


def test_tiff_becomes_png_and_its_geotiff_tags_count_as_location():
    result = clean(samples.tiff())
    assert result.media_type == "image/png" and result.extension == "png"
    assert labels.GPS in result.removed and labels.SERIAL in result.removed


def test_multi_page_tiff_keeps_every_full_size_page_and_drops_its_thumbnail_page():
    result = clean(samples.tiff(pages=3, thumbnail_page=True))
    assert frames(result.data) == 3
    assert labels.THUMBNAIL in result.removed
    with Image.open(io.BytesIO(result.data)) as image:
        image.seek(1)
        assert image.convert("RGB").getpixel((5, 5)) != (0, 0, 0)


def test_heic_becomes_jpeg_and_reports_its_secondary_image():
    result = clean(samples.heic(secondary=True))
    assert result.media_type == "image/jpeg"
    assert labels.SECONDARY_IMAGES in result.removed and labels.GPS in result.removed
    assert frames(result.data) == 1


def test_heic_with_transparency_becomes_png_with_its_alpha():
    result = clean(samples.heic(alpha=True))
    assert result.media_type == "image/png"
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.mode == "RGBA"


def test_animated_avif_keeps_every_frame():
    original = samples.avif(animated=True)
    result = clean(original)
    assert result.media_type == "image/png"
    assert frames(result.data) == frames(original) == 2


def test_the_result_reports_its_digest_and_only_known_kinds():
    result = clean(samples.jpeg())
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert set(result.removed) <= set(labels.ORDER)
    assert list(result.removed) == sorted(result.removed, key=labels.ORDER.index)


def test_a_clean_photo_reports_nothing_removed():
    assert clean(samples.jpeg(everything=False)).removed == ()


def test_sniff_accepts_every_format_we_clean_and_rejects_html():
    for build in (samples.jpeg, samples.png, samples.webp, samples.gif, samples.tiff, samples.heic, samples.avif):
        assert sniff(build()[:4096]) in ACCEPTED_MEDIA_TYPES
    assert sniff(b"<html><body>hi</body></html>") not in ACCEPTED_MEDIA_TYPES
