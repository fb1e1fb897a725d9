"""A corpus of images built in the tests, carrying every kind of identifying metadata we remove.

Identifying values are distinctive strings (``SECRET_*``) so a test can look for them byte for byte
in the output, independently of any parser.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import piexif
import pillow_heif
from PIL import Image, ImageCms

SECRET_MAKE = b"SecretMakeCo"
SECRET_MODEL = b"SecretModel-X1"
SECRET_SERIAL = b"SERIAL-0042-SECRET"
SECRET_OWNER = b"Jane Q. Witness"
SECRET_MAKER_NOTE = b"MAKERNOTE-SECRET-PAYLOAD"
SECRET_SOFTWARE = b"SecretPhoneOS 17.1"
SECRET_COMMENT = b"SECRET-COMMENT-text"
SECRET_XMP = b"SECRET-XMP-creator"
SECRET_DEVICE_PROFILE = b"SecretScanner ICC"
SECRETS = (
    SECRET_MAKE,
    SECRET_MODEL,
    SECRET_SERIAL,
    SECRET_OWNER,
    SECRET_MAKER_NOTE,
    SECRET_SOFTWARE,
    SECRET_COMMENT,
    SECRET_XMP,
    SECRET_DEVICE_PROFILE,
)
GPS_LATITUDE = ((50, 1), (27, 1), (1234, 100))


def wide_gamut_profile(description: str = "Wide Gamut RGB (P3 primaries)") -> bytes:
    """An ICC v4 display profile of our own, written field by field: Display P3's primaries and white.

    The colorimetry is public (DCI-P3 primaries, D65 white, the sRGB tone curve, adapted to the D50
    connection space with Bradford); the bytes are ours, not a copy of any vendor's profile. It is
    wider than sRGB, so the engine converts it unless its digest is on the standard list.
    """

    def fixed(*values: float) -> bytes:  # s15Fixed16Number
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + fixed(x, y, z)

    def mluc(text: str) -> bytes:
        encoded = text.encode("utf-16-be")
        return b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded

    srgb_curve = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + fixed(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    tags = [
        (b"desc", mluc(description)),
        (b"cprt", mluc("No copyright, use freely")),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),  # D50: a v4 display profile's media white is the PCS's
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", srgb_curve),
        (b"gTRC", srgb_curve),
        (b"bTRC", srgb_curve),
        # Bradford, D65 to D50: the display's own white is D65.
        (b"chad", b"sf32\0\0\0\0" + fixed(1.0479, 0.0229, -0.0502, 0.0296, 0.9904, -0.0171, -0.0092, 0.0151, 0.7519)),
    ]
    table = struct.pack(">I", len(tags))
    body = b""
    offsets: dict[bytes, int] = {}  # identical elements (the three curves) are stored once, as profiles do
    start = 128 + 4 + 12 * len(tags)
    for signature, element in tags:
        if element not in offsets:
            offsets[element] = start + len(body)
            body += element + bytes(-len(element) % 4)
        table += struct.pack(">4sII", signature, offsets[element], len(element))
    size = start + len(body)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\0\0\0\0", 0x04300000, b"mntr", b"RGB ", b"XYZ ")
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8)  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + fixed(0.9642, 1.0, 0.8249)  # the PCS illuminant, D50
        + bytes(4)  # creator
    )
    profile = bytearray(header + bytes(16 + 28) + table + body)
    assert len(profile) == size and len(header) == 84
    # Profile ID: MD5 of the profile with its flags, rendering intent and ID fields zeroed (they are).
    profile[84:100] = hashlib.md5(profile, usedforsecurity=False).digest()
    return bytes(profile)


#: A wide-gamut profile of our own with Display P3's primaries (not Apple's bytes): it stands for a
#: standard profile when a test puts its digest on ``icc.STANDARD_PROFILES``.
WIDE_GAMUT = wide_gamut_profile()

QUADRANTS = ((230, 30, 30), (30, 200, 30), (30, 30, 230), (240, 240, 40))


def picture(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    """Four coloured quadrants: any turn or mirror changes where each colour lands."""
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    for index, box in enumerate(
        [
            (0, 0, half_w, half_h),
            (half_w, 0, width, half_h),
            (0, half_h, half_w, height),
            (half_w, half_h, width, height),
        ]
    ):
        image.paste(QUADRANTS[index], box)
    return image.convert(mode) if mode != "RGB" else image


def thumbnail_jpeg() -> bytes:
    out = io.BytesIO()
    picture(16, 12).save(out, "JPEG")
    return out.getvalue()


def exif_block(orientation: int = 1, thumbnail: bool = True) -> bytes:
    """A full EXIF block (with the ``Exif\\0\\0`` header): GPS, serials, maker note, thumbnail."""
    zeroth = {
        piexif.ImageIFD.Make: SECRET_MAKE,
        piexif.ImageIFD.Model: SECRET_MODEL,
        piexif.ImageIFD.Software: SECRET_SOFTWARE,
        piexif.ImageIFD.Artist: SECRET_OWNER,
        piexif.ImageIFD.DateTime: b"2024:03:01 10:11:12",
        piexif.ImageIFD.ImageDescription: SECRET_COMMENT,
        piexif.ImageIFD.Orientation: orientation,
    }
    exif_ifd = {
        piexif.ExifIFD.BodySerialNumber: SECRET_SERIAL,
        piexif.ExifIFD.LensSerialNumber: SECRET_SERIAL + b"-LENS",
        piexif.ExifIFD.CameraOwnerName: SECRET_OWNER,
        piexif.ExifIFD.MakerNote: SECRET_MAKER_NOTE,
        piexif.ExifIFD.DateTimeOriginal: b"2024:03:01 10:11:12",
        piexif.ExifIFD.ImageUniqueID: b"0123456789abcdef0123456789abcdef",
        piexif.ExifIFD.LensModel: b"SecretLens 50mm",
        piexif.ExifIFD.ExposureTime: (1, 250),
    }
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: GPS_LATITUDE,
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((30, 1), (31, 1), (0, 1)),
    }
    block = {"0th": zeroth, "Exif": exif_ifd, "GPS": gps}
    if thumbnail:
        block["1st"] = {piexif.ImageIFD.JPEGInterchangeFormat: 0}
        block["thumbnail"] = thumbnail_jpeg()
    return piexif.dump(block)


def xmp_packet() -> bytes:
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="50,27.2N">'
        b"<dc:creator><rdf:Seq><rdf:li>" + SECRET_XMP + b"</rdf:li></rdf:Seq></dc:creator>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
    )


def iptc_resource() -> bytes:
    """A Photoshop image resource block holding IPTC by-line and city records."""
    records = b"\x1c\x02\x50" + struct.pack(">H", len(SECRET_OWNER)) + SECRET_OWNER
    records += b"\x1c\x02\x5a" + struct.pack(">H", 6) + b"Odessa"
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(records)) + records
    return b"Photoshop 3.0\x00" + resource + (b"\x00" if len(records) & 1 else b"")


def icc_profile(wide_gamut: bool) -> bytes:
    """sRGB's profile renamed to a device, or (``wide_gamut``) also given wider primaries."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[48:56] = b"SECRSCN1"  # device manufacturer and model
    count = struct.unpack_from(">I", profile, 128)[0]
    primaries = {
        b"rXYZ": (0.6097, 0.3111, 0.0195),
        b"gXYZ": (0.2053, 0.6257, 0.0609),
        b"bXYZ": (0.1492, 0.0632, 0.7446),
    }
    for i in range(count):
        signature, offset, _size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
        if wide_gamut and signature in primaries:
            values = [round(v * 65536) for v in primaries[signature]]
            struct.pack_into(">3i", profile, offset + 8, *values)
    # A device name in the profile's own text, as scanners and some cameras write it.
    return bytes(profile) + b"desc" + SECRET_DEVICE_PROFILE


def scan_data(jpeg: bytes) -> bytes:
    """Everything from the first SOS marker to EOI, found by walking segment lengths."""
    pos = 2
    while jpeg[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    end = jpeg.index(b"\xff\xd9", pos)
    return jpeg[pos : end + 2]


def jpeg_app_segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes((marker,)) + struct.pack(">H", len(payload) + 2) + payload


def insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def jpeg(
    orientation: int = 1,
    size: tuple[int, int] = (64, 48),
    everything: bool = True,
    icc: bytes | None = None,
    mode: str = "RGB",
    **save: object,
) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 90, **save}
    if everything:
        options["exif"] = exif_block(orientation)
        options["comment"] = SECRET_COMMENT
    elif orientation != 1:
        options["exif"] = piexif.dump({"0th": {piexif.ImageIFD.Orientation: orientation}})
    if icc:
        options["icc_profile"] = icc
    picture(*size, mode=mode).save(out, "JPEG", **options)
    data = out.getvalue()
    if not everything:
        return data
    xmp = jpeg_app_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet())
    extended = jpeg_app_segment(
        0xE1, b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 32 + b"\x00\x00\x00\x10\x00\x00\x00\x00" + SECRET_XMP
    )
    photoshop = jpeg_app_segment(0xED, iptc_resource())
    private = jpeg_app_segment(0xE3, b"SECRET-APP3\x00" + SECRET_SERIAL)
    c2pa = jpeg_app_segment(0xEB, b"JP\x00\x00\x00\x01jumb" + b"c2pa" + SECRET_OWNER)
    return insert_after_soi(data, xmp, extended, photoshop, private, c2pa)


def mpo() -> bytes:
    """A two-image MPO (stereo camera) whose primary carries full EXIF."""
    out = io.BytesIO()
    first, second = picture(), picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    first.save(out, "MPO", save_all=True, append_images=[second], exif=exif_block(thumbnail=False))
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(orientation: int = 1, icc: bytes | None = None, animated: bool = False) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if animated:
        frames = [picture(), picture().transpose(Image.Transpose.ROTATE_180), picture(mode="L").convert("RGB")]
        frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=200, loop=0, **options)
    else:
        picture().save(out, "PNG", **options)
    data = out.getvalue()
    extra = b"".join(
        [
            png_chunk(b"tEXt", b"Author\x00" + SECRET_OWNER),
            png_chunk(b"tEXt", b"Software\x00" + SECRET_SOFTWARE),
            png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(SECRET_COMMENT)),
            png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet()),
            png_chunk(b"eXIf", exif_block(orientation, thumbnail=False)[6:]),
            png_chunk(b"tIME", struct.pack(">HBBBBB", 2024, 3, 1, 10, 11, 12)),
            png_chunk(b"prVt", SECRET_SERIAL),
            png_chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
        ]
    )
    after_header = 8 + 25
    return data[:after_header] + extra + data[after_header:] + b"PK\x03\x04" + SECRET_OWNER


def webp(orientation: int = 1, animated: bool = False, lossless: bool = False, icc: bytes | None = None) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"exif": exif_block(orientation), "xmp": xmp_packet(), "lossless": lossless}
    if icc:
        options["icc_profile"] = icc
    if animated:
        frames = [
            picture(),
            picture().transpose(Image.Transpose.ROTATE_180),
            picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        ]
        frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=150, loop=0, **options)
    else:
        picture().save(out, "WEBP", quality=90, **options)
    return out.getvalue() + b"<html>" + SECRET_COMMENT + b"</html>"


def gif(frames: int = 3) -> bytes:
    out = io.BytesIO()
    images = [picture().convert("P", palette=Image.Palette.ADAPTIVE) for _ in range(frames)]
    images = [im if i % 2 == 0 else im.transpose(Image.Transpose.ROTATE_180) for i, im in enumerate(images)]
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0, comment=SECRET_COMMENT)
    data = out.getvalue()
    xmp_extension = b"\x21\xff\x0bXMP DataXMP" + _gif_sub_blocks(xmp_packet()) + b"\x00"
    private_extension = b"\x21\xff\x0bSECRETAPP01" + _gif_sub_blocks(SECRET_SERIAL) + b"\x00"
    plain_text = b"\x21\x01\x0c" + bytes(12) + _gif_sub_blocks(SECRET_OWNER) + b"\x00"
    trailer = data.rindex(b"\x3b")
    return data[:trailer] + xmp_extension + private_extension + plain_text + data[trailer:] + SECRET_OWNER


def _gif_sub_blocks(payload: bytes) -> bytes:
    return b"".join(bytes((len(payload[i : i + 255]),)) + payload[i : i + 255] for i in range(0, len(payload), 255))


def tiff(orientation: int = 1, pages: int = 1, icc: bytes | None = None, thumbnail_page: bool = False) -> bytes:
    out = io.BytesIO()
    first = picture()
    info = Image.Exif()
    info[0x010F] = SECRET_MAKE.decode()
    info[0x0110] = SECRET_MODEL.decode()
    info[0x0131] = SECRET_SOFTWARE.decode()
    info[0x013B] = SECRET_OWNER.decode()
    info[0xC62F] = SECRET_SERIAL.decode()
    info[0x0112] = orientation
    info[0x00FE] = 0  # NewSubfileType on every page, so one can be marked as a thumbnail
    info[0x87B1] = "WGS 84|SECRET-GEO"  # GeoTIFF GeoAsciiParams
    info[0x830E] = (0.0001, 0.0001, 0.0)  # GeoTIFF ModelPixelScale
    options: dict[str, object] = {"exif": info}
    if icc:
        options["icc_profile"] = icc
    rest = [picture(48, 40).transpose(Image.Transpose.ROTATE_90) for _ in range(pages - 1)]
    if thumbnail_page:
        small = picture(16, 12).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        rest.append(small)
    first.save(out, "TIFF", save_all=bool(rest), append_images=rest, **options)
    data = out.getvalue()
    if thumbnail_page:
        data = _mark_last_page_reduced(data)
    return data


def _mark_last_page_reduced(data: bytes) -> bytes:
    """Set NewSubfileType=1 (a reduced-resolution copy) on the last page of a little-endian TIFF."""
    buffer = bytearray(data)
    offset = struct.unpack_from("<I", buffer, 4)[0]
    last = offset
    while offset:
        last = offset
        count = struct.unpack_from("<H", buffer, offset)[0]
        offset = struct.unpack_from("<I", buffer, offset + 2 + 12 * count)[0]
    count = struct.unpack_from("<H", buffer, last)[0]
    for i in range(count):
        entry = last + 2 + 12 * i
        if struct.unpack_from("<H", buffer, entry)[0] == 0x00FE:
            struct.pack_into("<HHII", buffer, entry, 0x00FE, 4, 1, 1)
            return bytes(buffer)
    raise AssertionError("no NewSubfileType entry to mark")


def heic(orientation: int = 1, alpha: bool = False, secondary: bool = False) -> bytes:
    image = picture(mode="RGBA" if alpha else "RGB")
    container = pillow_heif.from_pillow(image)
    container.info["exif"] = exif_block(orientation, thumbnail=False)
    container.info["xmp"] = xmp_packet()
    if secondary:
        container.add_from_pillow(picture(32, 24).transpose(Image.Transpose.ROTATE_180))
    out = io.BytesIO()
    container.save(out, quality=90)
    return out.getvalue()


def avif(orientation: int = 1, animated: bool = False) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif.load(exif_block(orientation, thumbnail=False))
    options: dict[str, object] = {"exif": exif, "xmp": xmp_packet(), "quality": 90}
    if animated:
        frames = [picture(), picture().transpose(Image.Transpose.ROTATE_180)]
        frames[0].save(out, "AVIF", save_all=True, append_images=frames[1:], duration=100, **options)
    else:
        picture().save(out, "AVIF", **options)
    return out.getvalue()


def displayed(data: bytes) -> Image.Image:
    """How a browser shows ``data``: decoded, turned by its EXIF orientation, in RGB."""
    pillow_heif.register_heif_opener()
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        shown = image if image.format in ("HEIF", "TIFF") else ImageOps.exif_transpose(image)
        return shown.convert("RGB")


def quadrant_colours(image: Image.Image) -> list[tuple[int, ...]]:
    width, height = image.size
    points = [
        (width // 4, height // 4),
        (3 * width // 4, height // 4),
        (width // 4, 3 * height // 4),
        (3 * width // 4, 3 * height // 4),
    ]
    return [image.convert("RGB").getpixel(p) for p in points]  # type: ignore[misc]


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def handmade_tiff(*pages: tuple[Image.Image, dict[int, tuple[int, tuple[int, ...] | bytes]]]) -> bytes:
    """A little-endian TIFF with one uncompressed strip per page, written tag by tag.

    Each page is an image (L, RGB or I;16) and tags ``{tag: (TIFF type, values or raw bytes)}`` that
    are added to, or replace, those describing the image, so a test can make a page lie.
    """
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    pointer = 4  # where the offset of the next IFD goes
    for image, extra in pages:
        strip = image.tobytes()
        bits, channels, photometric = {"L": ((8,), 1, 1), "RGB": ((8, 8, 8), 3, 2), "I;16": ((16,), 1, 1)}[image.mode]
        tags: dict[int, tuple[int, tuple[int, ...] | bytes]] = {
            256: (4, (image.width,)),
            257: (4, (image.height,)),
            258: (3, bits),
            259: (3, (1,)),
            262: (3, (photometric,)),
            273: (4, (_tiff_append(out, strip),)),
            277: (3, (channels,)),
            278: (4, (image.height,)),
            279: (4, (len(strip),)),
            **extra,
        }
        entries = b""
        for tag, (kind, values) in sorted(tags.items()):
            raw = values if isinstance(values, bytes) else b"".join(struct.pack(_TIFF_FORMATS[kind], v) for v in values)
            count = len(raw) // struct.calcsize(_TIFF_FORMATS.get(kind, "<B"))
            if len(raw) > 4:
                raw = struct.pack("<I", _tiff_append(out, raw))
            entries += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\x00")
        ifd = _tiff_append(out, struct.pack("<H", len(tags)) + entries + b"\x00\x00\x00\x00")
        struct.pack_into("<I", out, pointer, ifd)
        pointer = ifd + 2 + len(entries)
    return bytes(out)


_TIFF_FORMATS = {3: "<H", 4: "<I"}  # SHORT, LONG; other types are given as raw bytes


def _tiff_append(out: bytearray, data: bytes) -> int:
    if len(out) % 2:
        out.append(0)  # TIFF offsets point to even bytes
    offset = len(out)
    out += data
    return offset
