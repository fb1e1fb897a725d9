"""ExifTool as an independent reader of our outputs, with an explicit allow-list of structural tags.

Any tag ExifTool reports outside this list fails the test: we would rather widen the list on purpose
than let an unknown tag through.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ARGS = ["-j", "-a", "-G1", "-U", "-ee"]

ALLOWED: dict[str, frozenset[str]] = {
    "File": frozenset(
        {
            "FileType",
            "FileTypeExtension",
            "MIMEType",
            "ImageWidth",
            "ImageHeight",
            "EncodingProcess",
            "BitsPerSample",
            "ColorComponents",
            "YCbCrSubSampling",
            "ExifByteOrder",  # of our own EXIF block: always big-endian
        }
    ),
    # A JPEG whose scans are copied keeps its orientation this way, alone (docs/decisions/0007).
    "IFD0": frozenset({"Orientation"}),
    "JFIF": frozenset({"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"}),
    "Adobe": frozenset({"DCTEncodeVersion", "APP14Flags0", "APP14Flags1", "ColorTransform"}),
    "PNG": frozenset(
        {
            "ImageWidth",
            "ImageHeight",
            "BitDepth",
            "ColorType",
            "Compression",
            "Filter",
            "Interlace",
            "Palette",
            "Transparency",
            "Gamma",
            "SRGBRendering",
            "BackgroundColor",
            "SignificantBits",
            "WhitePointX",
            "WhitePointY",
            "RedX",
            "RedY",
            "GreenX",
            "GreenY",
            "BlueX",
            "BlueY",
            "AnimationFrames",
            "AnimationPlays",
        }
    ),
    "APNG": frozenset({"AnimationFrames", "AnimationPlays"}),
    "GIF": frozenset(
        {
            "GIFVersion",
            "ImageWidth",
            "ImageHeight",
            "HasColorMap",
            "ColorResolutionDepth",
            "BitsPerPixel",
            "BackgroundColor",
            "AnimationIterations",
            "FrameCount",
            "Duration",
            "TransparentColor",
            "PixelAspectRatio",
        }
    ),
    "RIFF": frozenset(
        {
            "VP8Version",
            "ImageWidth",
            "ImageHeight",
            "HorizontalScale",
            "VerticalScale",
            "AlphaPreprocessing",
            "AlphaFiltering",
            "AlphaCompression",
            "WebP_Flags",
            "BackgroundColor",
            "AnimationLoopCount",
            "Duration",
            "FrameCount",
        }
    ),
}
IGNORED_GROUPS = frozenset({"SourceFile", "System", "Composite", "ExifTool"})


def available() -> bool:
    return shutil.which("exiftool") is not None


def read(paths: list[Path]) -> dict[str, dict[str, object]]:
    """{file name: {"Group:Tag": value}} for every file, in one ExifTool run."""
    if not available():
        raise AssertionError(
            "ExifTool is needed to check the outputs independently: apt-get install libimage-exiftool-perl"
        )
    result = subprocess.run(["exiftool", *ARGS, *map(str, paths)], capture_output=True, check=False, timeout=120)
    found: dict[str, dict[str, object]] = {}
    for record in json.loads(result.stdout or b"[]"):
        found[Path(record.pop("SourceFile")).name] = record
    return found


def disallowed(tags: dict[str, object]) -> dict[str, object]:
    leaks = {}
    for key, value in tags.items():
        group, _, tag = key.partition(":")
        if group in IGNORED_GROUPS or tag in ALLOWED.get(group, ()):
            continue
        leaks[key] = value
    return leaks
