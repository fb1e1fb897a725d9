"""Container structures: declared sizes are checked before decoding, and bytes no decoder reads are not copied."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageStat

from intake.cleaning import clean
from intake.cleaning.reasons import Reason

from . import samples
from .test_hostile_files import refused

PNG_MALFORMED = (Reason.MALFORMED, {"format": "PNG"})


def reason(data: bytes) -> tuple[str, dict]:
    refusal = refused(data)
    return refusal.code, refusal.params


MARKER = b"TRACKING-ID-7f3a9c"
ORIENTATION_6 = b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00"
XMP_ORIENTATION_6 = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


def png_parts(data: bytes) -> list[tuple[bytes, bytes]]:
    found, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return found


def png_body(data: bytes, kind: bytes) -> bytes:
    return next(body for found, body in png_parts(data) if found == kind)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def with_chunks_after_header(png: bytes, *chunks: bytes) -> bytes:
    return png[:33] + b"".join(chunks) + png[33:]


def idat(image: Image.Image) -> bytes:
    return png_body(encoded(image, "PNG"), b"IDAT")


def frame_control(sequence: int, width: int, height: int, x: int = 0, y: int = 0) -> bytes:
    return samples.png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, x, y, 30, 100, 0, 0))


def apng(frames: list[Image.Image], declared: int | None = None, poster: Image.Image | None = None) -> bytes:
    """An RGB APNG; with ``poster``, the IDAT image is shown only by viewers that do not animate."""
    width, height = frames[0].size
    parts = [
        samples.png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        samples.png_chunk(b"acTL", struct.pack(">II", len(frames) if declared is None else declared, 0)),
    ]
    sequence = 0
    if poster is not None:
        parts.append(samples.png_chunk(b"IDAT", idat(poster)))
    for index, frame in enumerate(frames):
        parts.append(frame_control(sequence, width, height))
        sequence += 1
        if index == 0 and poster is None:
            parts.append(samples.png_chunk(b"IDAT", idat(frame)))
        else:
            parts.append(samples.png_chunk(b"fdAT", struct.pack(">I", sequence) + idat(frame)))
            sequence += 1
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts) + samples.png_chunk(b"IEND", b"")


def riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def webp_parts(data: bytes) -> list[tuple[bytes, bytes]]:
    found, pos = [], 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, pos)
        found.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return found


# APNG frame limits


def test_an_apng_whose_actl_is_not_8_bytes_is_refused():
    data = apng([samples.picture(), samples.picture()])
    control = struct.pack(">II", 2, 0)
    longer = data.replace(samples.png_chunk(b"acTL", control), samples.png_chunk(b"acTL", control + b"\x00"))
    assert longer != data
    assert reason(longer) == PNG_MALFORMED


def test_apng_frames_beyond_what_actl_declares_are_refused_before_decoding():
    side = 8000  # 64 megapixels a frame: eight frames pass the 500-megapixel total
    parts = [
        samples.png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)),
        samples.png_chunk(b"acTL", struct.pack(">II", 1, 0)),
    ]
    for sequence in range(40):
        parts.append(frame_control(2 * sequence, side, side))
        parts.append(samples.png_chunk(b"fdAT", struct.pack(">I", 2 * sequence + 1) + b"\x78\x9c"))
    data = b"\x89PNG\r\n\x1a\n" + b"".join(parts) + samples.png_chunk(b"IEND", b"")
    assert reason(data) == PNG_MALFORMED


def test_an_apng_frame_larger_than_its_canvas_is_refused():
    data = apng([samples.picture(), samples.picture()])
    bigger = data.replace(frame_control(1, 64, 48), frame_control(1, 64, 48, x=10))
    assert bigger != data
    assert reason(bigger) == PNG_MALFORMED


def test_an_apng_frame_hidden_beyond_the_actl_count_is_refused():
    assert reason(apng([samples.picture(), samples.picture()], declared=1)) == PNG_MALFORMED


# TIFF pages


def test_a_huge_tiff_page_behind_a_thumbnail_page_is_refused_before_decoding():
    thumbnail = (Image.new("L", (1, 1)), {254: (4, (1,))})
    huge = (Image.new("L", (1, 1)), {256: (4, (12000,)), 257: (4, (12000,))})
    assert refused(samples.handmade_tiff(thumbnail, huge)).code == Reason.TOO_MANY_PIXELS


def unreadable_second_page() -> bytes:
    page = samples.picture()
    return samples.handmade_tiff((page, {}), (page, {258: (3, (3, 3, 3))}))


def truncated_three_pages() -> bytes:
    page = samples.picture()
    data = samples.handmade_tiff((page, {}), (page, {}), (page, {}))
    return data[: int(len(data) * 0.7)]


def subfile_type_as_text() -> bytes:
    return samples.handmade_tiff((samples.picture(), {254: (2, b"x\x00")}))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's word on the truncated file
@pytest.mark.parametrize(
    "build, expected",
    [
        (unreadable_second_page, (Reason.DAMAGED, {})),
        (truncated_three_pages, (Reason.DAMAGED, {})),
        (subfile_type_as_text, (Reason.MALFORMED, {"format": "TIFF"})),
    ],
)
def test_tiff_pages_pillow_cannot_read_are_refused_with_a_reason_of_their_own(build, expected):
    assert reason(build()) == expected


def test_a_multi_page_16_bit_grey_tiff_keeps_its_greys():
    grey = Image.linear_gradient("L").resize((64, 48)).convert("I").point(lambda v: v * 257).convert("I;16")
    result = clean(samples.handmade_tiff((grey, {}), (grey, {})))
    with Image.open(io.BytesIO(result.data)) as image:
        for index in range(2):
            image.seek(index)
            assert abs(ImageStat.Stat(image.convert("L")).mean[0] - 127.6) < 2


@pytest.mark.parametrize("pages", [1, 2])
def test_an_xmp_orientation_does_not_turn_a_tiff_page(pages):
    page = (samples.picture(), {700: (1, XMP_ORIENTATION_6)})
    result = clean(samples.handmade_tiff(*[page] * pages))
    with Image.open(io.BytesIO(result.data)) as image:
        for index in range(pages):
            image.seek(index)
            assert samples.quadrant_colours(image) == list(samples.QUADRANTS)


# Bytes no decoder reads


RGB_PNG_CHUNKS = [
    (b"gAMA", struct.pack(">I", 45455)),
    (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    (b"sRGB", b"\x00"),
    (b"cICP", b"\x01\x0d\x00\x01"),
    (b"cLLI", struct.pack(">II", 10000000, 4000000)),
    (b"mDCV", bytes(24)),
    (b"sBIT", b"\x08\x08\x08"),
    (b"bKGD", b"\x00\x10\x00\x10\x00\x10"),
    (b"tRNS", b"\x00\x01\x00\x02\x00\x03"),
]


@pytest.mark.parametrize("kind, body", RGB_PNG_CHUNKS, ids=[kind.decode() for kind, _ in RGB_PNG_CHUNKS])
def test_a_png_chunk_longer_than_its_fixed_length_is_cut_to_it(kind, body):
    data = with_chunks_after_header(encoded(samples.picture(), "PNG"), samples.png_chunk(kind, body + MARKER))
    result = clean(data)
    assert MARKER not in result.data
    assert png_body(result.data, kind) == body


def test_a_palette_png_keeps_only_the_palette_and_alpha_entries_its_pixels_can_use():
    two_colours = encoded(samples.picture().quantize(2), "PNG", transparency=0)
    palette, alpha = png_body(two_colours, b"PLTE"), png_body(two_colours, b"tRNS")
    assert struct.unpack_from(">B", two_colours, 24)[0] == 1, "one bit a pixel: two entries at most"
    data = two_colours.replace(samples.png_chunk(b"PLTE", palette), samples.png_chunk(b"PLTE", palette + MARKER))
    data = data.replace(samples.png_chunk(b"tRNS", alpha), samples.png_chunk(b"tRNS", alpha + b"\xff" + MARKER))
    result = clean(data)
    assert MARKER not in result.data
    assert png_body(result.data, b"PLTE") == palette[:6]


def test_a_png_keeps_one_copy_of_a_chunk_read_once_and_no_suggested_palette():
    data = with_chunks_after_header(
        encoded(samples.picture(), "PNG"),
        samples.png_chunk(b"gAMA", struct.pack(">I", 45455)),
        samples.png_chunk(b"gAMA", MARKER[:4]),
        samples.png_chunk(b"PLTE", MARKER[:15]),
    )
    result = clean(data)
    assert [kind for kind, _ in png_parts(result.data)] == [b"IHDR", b"gAMA", b"IDAT", b"IEND"]
    assert MARKER[:4] not in result.data


def test_png_iend_comes_out_empty():
    data = encoded(samples.picture(), "PNG")
    assert data.endswith(samples.png_chunk(b"IEND", b""))
    result = clean(data[:-12] + samples.png_chunk(b"IEND", MARKER))
    assert result.data.endswith(samples.png_chunk(b"IEND", b""))


def test_webp_anim_is_cut_to_its_six_bytes():
    frames = [samples.picture(), samples.picture().transpose(Image.Transpose.ROTATE_180)]
    data = encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    anim = dict(webp_parts(data))[b"ANIM"]
    assert len(anim) == 6
    data = riff(*[riff_chunk(k, b + MARKER if k == b"ANIM" else b) for k, b in webp_parts(data)])
    result = clean(data)
    assert MARKER not in result.data
    assert dict(webp_parts(result.data))[b"ANIM"] == anim


@pytest.mark.parametrize("extended", [False, True], ids=["simple", "VP8X"])
def test_a_still_webp_keeps_only_its_first_bitstream(extended):
    bitstream = riff_chunk(b"VP8L", dict(webp_parts(encoded(samples.picture(), "WEBP", lossless=True)))[b"VP8L"])
    canvas = riff_chunk(b"VP8X", b"\x00" + MARKER[:3] + (63).to_bytes(3, "little") + (47).to_bytes(3, "little"))
    data = riff(*([canvas] if extended else []), bitstream, riff_chunk(b"VP8L", MARKER))
    result = clean(data)
    assert MARKER[:3] not in result.data
    assert [kind for kind, _ in webp_parts(result.data)] == ([b"VP8X"] if extended else []) + [b"VP8L"]


def gif_control_with_an_extra_sub_block(control: bytes) -> bytes:
    return control[:-1] + bytes((len(MARKER),)) + MARKER + b"\x00"


def gif_control_with_a_longer_block(control: bytes) -> bytes:
    return b"\x21\xf9" + bytes((4 + len(MARKER),)) + control[3:7] + MARKER + b"\x00"


@pytest.mark.parametrize("hide", [gif_control_with_an_extra_sub_block, gif_control_with_a_longer_block])
def test_a_gif_graphic_control_keeps_only_its_four_bytes(hide):
    frames = [samples.picture().quantize(16), samples.picture().transpose(Image.Transpose.ROTATE_180).quantize(16)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=250, loop=0)
    start = data.index(b"\x21\xf9\x04")
    control = data[start : start + 8]
    result = clean(data.replace(control, hide(control)))
    assert MARKER not in result.data
    assert control in result.data
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.n_frames == 2 and image.info["duration"] == 250


# Pictures that must survive re-encoding


@pytest.mark.parametrize("mode", ["P", "RGB"])
def test_png_transparency_in_trns_survives_applying_a_colour_profile(mode):
    image = Image.new("P", (64, 48), 0)
    image.putpalette([30, 200, 30, 200, 40, 40])
    image.paste(1, (0, 0, 32, 48))
    if mode == "RGB":
        image = image.convert("RGB")
    transparency = 0 if mode == "P" else (30, 200, 30)
    profile = samples.png_chunk(b"iCCP", b"wide\x00\x00" + zlib.compress(samples.icc_profile(wide_gamut=True)))
    result = clean(with_chunks_after_header(encoded(image, "PNG", transparency=transparency), profile))
    with Image.open(io.BytesIO(result.data)) as cleaned:
        shown = cleaned.convert("RGBA")
        assert shown.getpixel((48, 10))[3] == 0
        assert shown.getpixel((10, 10))[3] == 255


def test_an_apng_poster_outside_the_animation_does_not_become_a_frame():
    red, blue = Image.new("RGB", (64, 48), (200, 0, 0)), Image.new("RGB", (64, 48), (0, 0, 200))
    data = apng([red, blue], poster=Image.new("RGB", (64, 48), (128, 128, 128)))
    turned = with_chunks_after_header(data, samples.png_chunk(b"eXIf", ORIENTATION_6))
    result = clean(turned)
    assert png_body(result.data, b"acTL")[:4] == struct.pack(">I", 2)
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.n_frames == 2
        assert image.convert("RGB").getpixel((5, 5)) == (200, 0, 0)


# --- What browsers honour in WebP ---------------------------------------------------------------------


def webp_with_trailing_exif(vp8x_flags: int | None) -> bytes:
    """A 64x32 lossless WebP with an EXIF chunk saying Orientation 6: after a simple WebP's only
    chunk (``vp8x_flags`` None), or in an extended one with the given VP8X flags."""
    out = io.BytesIO()
    Image.new("RGB", (64, 32), (200, 0, 0)).save(out, "WEBP", lossless=True)
    chunks = out.getvalue()[12:]
    if vp8x_flags is not None:
        canvas = bytes((vp8x_flags, 0, 0, 0)) + (63).to_bytes(3, "little") + (31).to_bytes(3, "little")
        chunks = b"VP8X" + struct.pack("<I", 10) + canvas + chunks
    body = chunks + b"EXIF" + struct.pack("<I", len(ORIENTATION_6)) + ORIENTATION_6
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


@pytest.mark.parametrize("vp8x_flags", [None, 0x00], ids=["simple", "extended-without-exif-flag"])
def test_a_webp_exif_orientation_browsers_ignore_is_not_applied_but_is_removed(vp8x_flags):
    result = clean(webp_with_trailing_exif(vp8x_flags))
    assert Image.open(io.BytesIO(result.data)).size == (64, 32)
    assert b"EXIF" not in result.data and result.removed


def test_a_webp_exif_orientation_announced_by_vp8x_is_applied():
    result = clean(webp_with_trailing_exif(0x08))
    assert Image.open(io.BytesIO(result.data)).size == (32, 64)


def test_a_16_bit_grey_png_with_transparency_and_a_profile_keeps_its_greys():
    image = Image.new("I;16", (256, 4))
    image.putdata([value * 257 for value in range(256)] * 4)
    out = io.BytesIO()
    image.save(out, "PNG", icc_profile=samples.icc_profile(wide_gamut=True), transparency=0)
    shown = Image.open(io.BytesIO(clean(out.getvalue()).data)).convert("RGBA")
    assert shown.getpixel((0, 0))[3] == 0  # the transparent grey stays transparent
    grey = shown.getpixel((128, 0))
    assert grey[3] == 255 and 100 < grey[0] < 160  # mid-grey, not clipped to white
