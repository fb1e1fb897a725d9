"""Refusal reasons and the kinds of metadata removed become codes, translated when shown.

Until now the worker stored English sentences (``Image.failure_reason``, ``Image.removed``), which an
Arabic witness or reviewer could only read in English. Every sentence the service ever wrote is mapped
to its code and the numbers it carried; a sentence not recognised becomes the generic code, so no
English is left in either column. Then ``failure_reason`` goes.

The tables below are frozen copies of what the code wrote, on purpose: the codes in intake.cleaning may
grow, these sentences will not. Going back writes the English sentences again.
"""

import re

from django.db import migrations

GENERIC = "could_not_clean"
OTHER_KIND = "other"

#: Every English reason ever stored, with its code and the fixed numbers it stood for. ``{name}`` is a
#: number read back from the sentence.
LEGACY_REASONS = [
    ("The file is empty.", "empty", {}),
    ("The file is larger than {megabytes} MB.", "too_large", {}),
    ("The file is not an image in a format we accept (JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF).", "not_an_image", {}),
    ("The file is a media container but not a HEIC, HEIF or AVIF image.", "media_not_image", {}),
    ("The image declares no width or height.", "no_dimensions", {}),
    (
        "The image declares {width}x{height} pixels, more than the {megapixels} megapixels we accept.",
        "too_many_pixels",
        {},
    ),
    ("The image declares more than {megapixels} megapixels, more than we accept.", "too_many_pixels", {}),
    ("The image declares {frames} frames, more than the {limit} we accept.", "too_many_frames", {}),
    ("The image's {frames} frames add up to more than {megapixels} megapixels.", "too_many_pixels_in_all", {}),
    (
        "The image's {frames} frames of {width}x{height} pixels add up to more than {megapixels} megapixels.",
        "too_many_pixels_in_all",
        {},
    ),
    ("The JPEG file has more than {limit} scans, far more than any camera writes.", "too_many_scans", {}),
    ("The JPEG file is truncated: its image data ends early.", "truncated", {"format": "JPEG"}),
    ("The PNG file is truncated: it ends before its last chunk.", "truncated", {"format": "PNG"}),
    ("The GIF file is truncated: it ends inside a frame or block.", "truncated", {"format": "GIF"}),
    ("The WebP file is truncated: it ends before its last chunk.", "truncated", {"format": "WebP"}),
    ("The JPEG file's structure is malformed.", "malformed", {"format": "JPEG"}),
    ("The PNG file's structure is malformed.", "malformed", {"format": "PNG"}),
    ("The GIF file's structure is malformed.", "malformed", {"format": "GIF"}),
    ("The WebP file's structure is malformed.", "malformed", {"format": "WebP"}),
    ("The TIFF file's structure is malformed.", "malformed", {"format": "TIFF"}),
    ("The image data is damaged or incomplete, so it cannot be shown or cleaned.", "damaged", {}),
    ("The file's structure is damaged or unusual in a way we cannot clean safely.", "cannot_clean_safely", {}),
    # The worker's own (intake.tasks); it gave up after three attempts, always.
    ("The file stopped the cleaning process several times.", "stopped_cleaning", {"attempts": 3}),
    ("The upload could not be read back from storage.", "upload_missing", {}),
    (
        "The upload could not be decrypted with the worker's keys. It is kept, encrypted, for an operator.",
        "undecryptable",
        {},
    ),
    ("Cleaning took longer than the time limit.", "time_limit", {}),
    ("Cleaning needed more memory than allowed.", "memory_limit", {}),
    ("The file could not be cleaned.", GENERIC, {}),
]

#: Every English name of a kind of metadata ever stored, with its code.
LEGACY_KINDS = {
    "GPS location": "gps",
    "camera make and model": "camera",
    "camera or lens serial number": "serial",
    "owner or author name": "owner",
    "maker notes": "maker_notes",
    "unique image ID": "unique_id",
    "dates and times": "dates",
    "software or device names": "software",
    "lens details": "lens",
    "description or comment": "description",
    "camera settings": "camera_settings",
    "embedded thumbnail or preview": "thumbnail",
    "secondary images": "secondary_images",
    "depth map": "depth_map",
    "HDR gain map": "gain_map",
    "data after the end of the image": "trailer",
    "XMP metadata": "xmp",
    "IPTC or Photoshop data": "iptc",
    "content credentials": "content_credentials",
    "text chunks": "text",
    "private or unknown data blocks": "private",
    "application extensions": "application_extensions",
    "colour profile": "colour_profile",
    "orientation tag (applied to the pixels)": "orientation",
}
KIND_CODES = set(LEGACY_KINDS.values()) | {OTHER_KIND}


def _pattern(template):
    parts = re.split(r"\{(\w+)\}", template)
    literal, names = parts[0::2], parts[1::2]
    pattern = re.escape(literal[0])
    for name, text in zip(names, literal[1:], strict=True):
        pattern += rf"(?P<{name}>\d{{1,12}})" + re.escape(text)
    return re.compile(pattern)


_PATTERNS = [(_pattern(template), code, fixed) for template, code, fixed in LEGACY_REASONS]


def reason_to_code(text):
    """(code, params) for an English reason; the generic code for one not recognised."""
    for pattern, code, fixed in _PATTERNS:
        match = pattern.fullmatch(text.strip())
        if match:
            return code, {**fixed, **{name: int(value) for name, value in match.groupdict().items()}}
    return GENERIC, {}


def code_to_reason(code, params):
    """The English sentence the worker would have stored for ``code``: for going back."""
    for template, legacy_code, fixed in LEGACY_REASONS:
        names = set(re.findall(r"\{(\w+)\}", template))
        if legacy_code == code and fixed.items() <= params.items() and names <= params.keys():
            return template.format(**params)
    return "The file could not be cleaned."


def kinds_to_codes(kinds):
    codes = []
    for kind in kinds if isinstance(kinds, list) else []:
        code = kind if kind in KIND_CODES else LEGACY_KINDS.get(kind, OTHER_KIND)
        if code not in codes:
            codes.append(code)
    return codes


def to_codes(apps, schema_editor):
    Image = apps.get_model("intake", "Image")
    for pk, reason, refusal, removed in Image.objects.values_list(
        "pk", "failure_reason", "refusal", "removed"
    ).iterator():
        changes = {}
        if reason and not refusal:
            changes["refusal"], changes["refusal_params"] = reason_to_code(reason)
        if removed and kinds_to_codes(removed) != removed:
            changes["removed"] = kinds_to_codes(removed)
        if changes:
            # Only these columns: an UPDATE that leaves the foreign keys alone queues no deferred
            # check, so PostgreSQL can drop the column in the same transaction.
            Image.objects.filter(pk=pk).update(**changes)
    Image.objects.filter(state="failed", refusal="").update(refusal=GENERIC, refusal_params={})


def to_english(apps, schema_editor):
    Image = apps.get_model("intake", "Image")
    names = {code: name for name, code in LEGACY_KINDS.items()}
    for pk, refusal, params, removed in Image.objects.values_list(
        "pk", "refusal", "refusal_params", "removed"
    ).iterator():
        changes = {}
        if refusal:
            changes["failure_reason"] = code_to_reason(refusal, params if isinstance(params, dict) else {})[:300]
        if removed:
            changes["removed"] = [names.get(code, code) for code in removed if code in names]
        if changes:
            Image.objects.filter(pk=pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0007_conversation"),
    ]

    operations = [
        migrations.RunPython(to_codes, to_english),
        migrations.RemoveField(model_name="image", name="failure_reason"),
    ]
