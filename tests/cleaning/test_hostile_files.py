"""Hostile and broken files are refused with a reason's code, quickly, before any big decode."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from intake.cleaning import Refused, clean, guard, heif, png
from intake.cleaning.reasons import Reason

from . import samples


def with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def refused(data: bytes) -> Refused:
    started = time.monotonic()
    with pytest.raises(Refused) as raised:
        clean(data)
    assert time.monotonic() - started < 2, "refusing took long enough to suggest a decode"
    return raised.value


def test_a_tiny_jpeg_claiming_a_huge_size_is_refused_before_decoding():
    bomb = with_jpeg_size(samples.jpeg(everything=False), 60000, 60000)
    assert len(bomb) < 1000
    refusal = refused(bomb)
    assert refusal.code == Reason.TOO_MANY_PIXELS
    assert refusal.params == {"width": 60000, "height": 60000, "megapixels": guard.MAX_JPEG_PIXELS // 1_000_000}


def test_a_huge_jpeg_whose_colours_must_be_converted_is_refused_before_decoding():
    """Its pixels would be decoded at full size, so the lower limit of a decode applies."""
    wide = samples.jpeg(everything=False, icc=samples.icc_profile(wide_gamut=True))
    refusal = refused(with_jpeg_size(wide, 12000, 12000))
    assert refusal.code == Reason.TOO_MANY_PIXELS
    assert refusal.params["megapixels"] == guard.MAX_DECODE_PIXELS // 1_000_000


def test_a_huge_turned_jpeg_is_held_to_the_limit_of_a_copy_since_it_is_never_decoded():
    turned = samples.jpeg(everything=False, orientation=6, size=(61, 37))
    assert refused(with_jpeg_size(turned, 15000, 15000)).params["megapixels"] == guard.MAX_JPEG_PIXELS // 1_000_000


def test_a_png_claiming_a_huge_size_is_refused():
    data = bytearray(samples.png())
    struct.pack_into(">II", data, 16, 100_000, 100_000)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    assert refused(bytes(data)).code == Reason.TOO_MANY_PIXELS


def test_a_gif_with_more_frames_than_the_limit_is_refused():
    one = io.BytesIO()
    Image.new("P", (4, 4)).save(one, "GIF")
    data = one.getvalue()
    start = data.index(b"\x2c")
    frame = data[start:-1]
    bomb = data[:start] + frame * (guard.MAX_FRAMES + 1) + b"\x3b"
    refusal = refused(bomb)
    assert refusal.code == Reason.TOO_MANY_FRAMES
    assert refusal.params == {"frames": guard.MAX_FRAMES + 1, "limit": guard.MAX_FRAMES}


def test_an_animated_webp_claiming_a_huge_canvas_is_refused():
    data = bytearray(samples.webp(animated=True))
    vp8x = data.index(b"VP8X")
    data[vp8x + 12 : vp8x + 15] = (19999).to_bytes(3, "little")
    data[vp8x + 15 : vp8x + 18] = (19999).to_bytes(3, "little")
    assert refused(bytes(data)).code == Reason.TOO_MANY_PIXELS


def test_an_animation_whose_frames_add_up_to_too_many_pixels_is_refused():
    data = bytearray(samples.gif(frames=10))
    struct.pack_into("<HH", data, 6, 8000, 8000)
    refusal = refused(bytes(data))
    assert refusal.code == Reason.TOO_MANY_PIXELS_IN_ALL
    assert refusal.params["megapixels"] == guard.MAX_TOTAL_PIXELS // 1_000_000


def test_a_tiff_claiming_a_huge_size_is_refused():
    data = samples.tiff()
    image = Image.open(io.BytesIO(data))
    offset = struct.unpack_from("<I", data, 4)[0]
    patched = bytearray(data)
    for i in range(struct.unpack_from("<H", data, offset)[0]):
        entry = offset + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):
            struct.pack_into("<HHII", patched, entry, tag, 4, 1, 50_000)
    assert image.size == (64, 48)
    assert refused(bytes(patched)).code == Reason.TOO_MANY_PIXELS


@pytest.mark.parametrize(
    "build",
    [samples.jpeg, samples.png, samples.webp, samples.gif, samples.tiff, samples.heic, samples.avif],
    ids=["jpeg", "png", "webp", "gif", "tiff", "heic", "avif"],
)
def test_a_truncated_file_is_refused_as_incomplete_or_damaged_naming_nothing_of_its_content(build):
    data = build()
    refusal = refused(data[: len(data) // 2])
    assert refusal.code in {Reason.TRUNCATED, Reason.DAMAGED, Reason.MALFORMED}
    assert set(refusal.params) <= {"format"}


def test_a_jpeg_cut_inside_its_scan_is_refused():
    data = samples.jpeg(everything=False, size=(256, 256))
    refusal = refused(data[: len(data) - 200])
    assert (refusal.code, refusal.params) == (Reason.TRUNCATED, {"format": "JPEG"})


def test_random_bytes_are_refused_as_not_an_image():
    assert refused(b"<html><script>alert(1)</script></html>" * 20).code == Reason.NOT_AN_IMAGE


def test_an_empty_file_is_refused():
    assert refused(b"").code == Reason.EMPTY


def test_an_mp4_video_is_never_taken_for_a_heif_photo():
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 100
    assert not heif.FORMAT.recognise(mp4)
    assert heif.FORMAT.recognise(samples.heic()[:8192]) and heif.FORMAT.recognise(samples.avif()[:8192])


def test_a_jpeg_with_corrupt_huffman_data_is_refused_or_still_decodes():
    data = bytearray(samples.jpeg(everything=False, size=(128, 128)))
    sos = data.index(b"\xff\xda")
    for i in range(sos + 20, len(data) - 2, 7):
        data[i] = 0xFF if data[i] % 3 == 0 else data[i]
    try:
        result = clean(bytes(data))
    except Refused:
        return
    Image.open(io.BytesIO(result.data)).load()


def test_a_polyglot_with_a_zip_after_the_png_loses_the_zip():
    original = samples.png()
    assert b"PK\x03\x04" in original
    result = clean(original)
    assert b"PK\x03\x04" not in result.data
    assert result.data.endswith(b"IEND\xaeB`\x82")


def test_an_exif_block_whose_offsets_loop_is_survived():
    looping = (
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00"
        + b"\x01\x00"
        + struct.pack("<HHII", 0x8769, 4, 1, 8)
        + b"\x08\x00\x00\x00"
    )
    out = io.BytesIO()
    samples.picture().save(out, "JPEG", exif=looping)
    result = clean(out.getvalue())
    assert b"Exif" not in result.data


# --- EXIF built to exhaust the reader ---------------------------------------------------------------


def exif_nested(depth: int) -> bytes:
    """An Exif IFD pointing to an Exif IFD pointing to ... ``depth`` deep."""
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for level in range(depth):
        out += struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 8 + 18 * (level + 1)) + b"\x00" * 4
    return bytes(out + b"\x00\x00\x00\x00\x00\x00")


def exif_overlapping(entries: int = 4096) -> bytes:
    """One IFD of ``entries`` pointers, each to a different offset in a region where every offset
    reads as another IFD of ``entries`` entries: millions of entries in a hundred kilobytes."""
    region = 8 + 2 + 12 * entries + 4
    pointers = b"".join(struct.pack("<HHII", 0x8769, 4, 1, region + 2 * k) for k in range(entries))
    block = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", entries) + pointers + b"\x00" * 4
    return block + struct.pack("<H", entries) * ((2 * entries + 2 + 12 * entries + 8) // 2)


def jpeg_with_exif(*blocks: bytes) -> bytes:
    segments = [samples.jpeg_app_segment(0xE1, b"Exif\x00\x00" + block) for block in blocks]
    return samples.insert_after_soi(samples.jpeg(everything=False), *segments)


def test_exif_pointers_nested_deeper_than_pythons_recursion_limit_are_survived():
    result = clean(jpeg_with_exif(exif_nested(2000)))
    assert b"Exif" not in result.data


def test_overlapping_exif_directories_cost_milliseconds_not_minutes():
    block = exif_overlapping(2048)
    assert len(block) < 65000  # fits one segment
    started = time.monotonic()
    result = clean(jpeg_with_exif(block))
    assert time.monotonic() - started < 1
    assert b"Exif" not in result.data


# Small, and each as costly to read as the reader allows: a thousand of them take seconds to read.
COSTLY_EXIF = exif_overlapping(128)


def test_only_the_first_of_many_exif_segments_is_read():
    started = time.monotonic()
    clean(jpeg_with_exif(*[COSTLY_EXIF] * 1000))
    assert time.monotonic() - started < 1


# --- JPEG structure --------------------------------------------------------------------------------


def test_a_jpeg_with_thousands_of_scans_is_refused_before_any_is_decoded():
    baseline = samples.jpeg(everything=False)
    eoi = baseline.rindex(b"\xff\xd9")
    sos = baseline.index(b"\xff\xda")
    scan = baseline[sos:eoi]
    bomb = baseline[:eoi] + scan * 600 + b"\xff\xd9"
    refusal = refused(bomb)
    assert (refusal.code, refusal.params) == (Reason.TOO_MANY_SCANS, {"limit": 500})


def test_a_jpeg_with_as_many_scans_as_progressive_encoders_write_is_cleaned():
    out = io.BytesIO()
    samples.picture(256, 192).save(out, "JPEG", progressive=True, quality=90)
    assert out.getvalue().count(b"\xff\xda") >= 5
    assert clean(out.getvalue()).data.count(b"\xff\xda") == out.getvalue().count(b"\xff\xda")


@pytest.mark.parametrize("marker", [0xCC, 0xDC, 0xDF], ids=["DAC", "DNL", "EXP"])
def test_segments_meaningless_to_a_huffman_jpeg_are_dropped_and_it_still_decodes(marker):
    segment = bytes((0xFF, marker)) + struct.pack(">H", 6) + b"LHK1"
    original = samples.jpeg(everything=False)
    sos = original.index(b"\xff\xda")
    result = clean(original[:sos] + segment + original[sos:])
    assert b"LHK1" not in result.data
    Image.open(io.BytesIO(result.data)).load()


# --- Whatever a decoder raises, the engine refuses ---------------------------------------------------


def test_a_damaged_avif_is_refused_not_raised():
    out = io.BytesIO()
    samples.picture().save(out, "AVIF", quality=90)
    data = bytearray(out.getvalue())
    tile = data.index(b"mdat") + 16
    data[tile:] = b"\xff" * (len(data) - tile)
    with pytest.raises(Refused):
        clean(bytes(data))


@pytest.mark.parametrize("error", [RecursionError, RuntimeError, IndexError, ZeroDivisionError, AssertionError])
def test_an_unexpected_error_inside_a_format_module_becomes_a_refusal(monkeypatch, error):
    def explode(source, declared):
        raise error("inside a decoder")

    monkeypatch.setattr(png.FORMAT, "clean", explode)
    with pytest.raises(Refused) as raised:
        clean(samples.png())
    assert raised.value.code == Reason.CANNOT_CLEAN_SAFELY


@pytest.mark.parametrize("container", ["png", "webp"])
def test_only_the_first_of_many_exif_chunks_is_read(container):
    block = COSTLY_EXIF
    if container == "png":
        original = samples.png()
        ihdr_end = 8 + 25
        data = original[:ihdr_end] + samples.png_chunk(b"eXIf", block) * 1000 + original[ihdr_end:]
    else:
        out = io.BytesIO()
        samples.picture().save(out, "WEBP")
        riff = out.getvalue()
        exif_chunk = b"EXIF" + struct.pack("<I", len(block)) + block + b"\x00" * (len(block) % 2)
        body = riff[12:] + exif_chunk * 1000
        data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    started = time.monotonic()
    clean(data)
    assert time.monotonic() - started < 1


def test_a_32_bit_grey_tiff_is_cleaned_with_its_values_clipped_to_16_bits():
    out = io.BytesIO()
    page = Image.new("I", (8, 4))
    page.putdata([-5, 300, 70000, 40000] * 8)
    page.save(out, "TIFF")
    shown = Image.open(io.BytesIO(clean(out.getvalue()).data))
    assert shown.mode in ("I;16", "I") and shown.getpixel((2, 0)) == 65535 and shown.getpixel((1, 0)) == 300
