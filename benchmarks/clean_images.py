"""Throughput and memory of the cleaning engine against the careful manual pipeline, ExifTool, mat2
and a plain Pillow re-save.

    python benchmarks/clean_images.py [--copies N] [--jpegs DIR]

Builds a set of 12-megapixel JPEG, PNG and HEIC photos and an animated WebP (with GPS, serials,
maker notes and thumbnails), and a set of phone JPEGs as phones write them: half of them portraits
(Orientation 6), half of them with a Display P3 profile. ``--jpegs DIR`` adds your own camera
JPEGs as one more set. Each set is cleaned with every tool in this same run, and the script prints
images/s, MB/s (of input), the ratio to our engine, how many files each tool wrote and how many
tags ExifTool still finds in them outside a structural allow-list.

The manual pipeline ("exif+jpegtran") is what a careful person does by hand: ``exiftool -all=``
over all files, then ``jpegtran -copy none -rotate N`` for each turned photo, whose orientation
is read beforehand (not timed). ExifTool and mat2 run once over all files of a set, their best
case. The line ``engine vs exif+jpegtran`` gives our speed over the manual pipeline's: above 1.0
the engine is faster. Peak memory is measured in a fresh process per re-encoded format, as extra
resident memory over the decoded image's size. Not a test: it takes a few minutes and its numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pillow_heif  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

from intake.cleaning import clean, icc  # noqa: E402
from tests.cleaning import exiftool, samples  # noqa: E402

SIZE = (4032, 3024)


def photo(seed: int) -> Image.Image:
    """Something like a photo: smooth shapes and fine grain, so codecs do realistic work."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (63, 47), rng.randbytes(63 * 47 * 3))
    image = small.resize(SIZE, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    grain = Image.effect_noise(SIZE, 12).convert("RGB")
    return Image.blend(image, grain, 0.12)


def exif_for_phone(orientation: int = 1) -> bytes:
    return samples.exif_block(orientation)


SETS = ("jpeg", "phone-jpeg", "png", "heic", "webp-animated")

#: The wide-colour profile of the phone set: our own, with Display P3's primaries. It stands for the
#: Display P3 profile iPhones write, whose bytes we do not ship: main() puts its digest on the list of
#: standard profiles, and the engine keeps both the same way (a digest look-up, then a copy).
DISPLAY_P3 = samples.WIDE_GAMUT


def build(folder: Path, copies: int, wanted: tuple[str, ...] = SETS) -> dict[str, list[Path]]:
    sets: dict[str, list[Path]] = {name: [] for name in SETS}
    for i in range(copies):
        image = photo(i)
        path = folder / f"photo{i}.jpg"
        image.save(path, "JPEG", quality=92, exif=exif_for_phone(), icc_profile=None)
        sets["jpeg"].append(path)
        # As phones write them: portraits turned by their tag, wide-colour ones in Display P3.
        path = folder / f"phone{i}.jpg"
        profile = DISPLAY_P3 if i % 2 else None
        image.save(path, "JPEG", quality=92, exif=exif_for_phone(6 if i % 4 < 2 else 1), icc_profile=profile)
        sets["phone-jpeg"].append(path)
        if i < max(1, copies // 4) and set(wanted) & {"png", "heic", "webp-animated"}:
            path = folder / f"screen{i}.png"
            image.save(path, "PNG", exif=exif_for_phone())
            sets["png"].append(path)
            path = folder / f"phone{i}.heic"
            heif = pillow_heif.from_pillow(image)
            heif.info["exif"] = exif_for_phone(6)
            heif.save(path, quality=85)
            sets["heic"].append(path)
            frames = [photo(100 + i * 10 + k).resize((640, 480)) for k in range(24)]
            path = folder / f"clip{i}.webp"
            frames[0].save(
                path, "WEBP", save_all=True, append_images=frames[1:], duration=80, quality=80, exif=exif_for_phone()
            )
            sets["webp-animated"].append(path)
    return {name: paths for name, paths in sets.items() if name in wanted}


def run_engine(paths: list[Path], out: Path) -> float:
    started = time.perf_counter()
    for path in paths:
        result = clean(path.read_bytes())
        (out / f"{path.stem}.{result.extension}").write_bytes(result.data)
    return time.perf_counter() - started


def run_pillow(paths: list[Path], out: Path) -> float:
    pillow_heif.register_heif_opener()
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            fmt = image.format
            buffer = io.BytesIO()
            if getattr(image, "n_frames", 1) > 1:
                image.save(buffer, fmt, save_all=True)
            else:
                image.save(buffer, fmt)
        (out / path.name).write_bytes(buffer.getvalue())
    return time.perf_counter() - started


def run_exiftool(paths: list[Path], out: Path) -> float | None:
    if not shutil.which("exiftool"):
        return None
    started = time.perf_counter()
    subprocess.run(["exiftool", "-q", "-q", "-all=", "-o", f"{out}/", *map(str, paths)], check=False)
    return time.perf_counter() - started


def orientations(paths: list[Path]) -> dict[Path, int]:
    """Each JPEG's Orientation tag, as the manual pipeline reads it before stripping."""
    if not exiftool.available():
        return {}
    found = subprocess.run(["exiftool", "-j", "-n", "-Orientation", *map(str, paths)], capture_output=True, check=False)
    return {Path(r["SourceFile"]): int(r.get("Orientation", 1)) for r in json.loads(found.stdout or b"[]")}


#: jpegtran's arguments for each EXIF orientation.
_JPEGTRAN = {
    2: ["-flip", "horizontal"],
    3: ["-rotate", "180"],
    4: ["-flip", "vertical"],
    5: ["-transpose"],
    6: ["-rotate", "90"],
    7: ["-transverse"],
    8: ["-rotate", "270"],
}


def run_manual(paths: list[Path], out: Path) -> float | None:
    """``exiftool -all=`` over all files, then ``jpegtran -copy none`` turning each turned one."""
    if not shutil.which("exiftool") or not shutil.which("jpegtran") or any(p.suffix.lower() != ".jpg" for p in paths):
        return None
    turns = orientations(paths)
    started = time.perf_counter()
    subprocess.run(["exiftool", "-q", "-q", "-all=", "-o", f"{out}/", *map(str, paths)], check=False)
    for path in paths:
        turn = turns.get(path, 1)
        if turn in _JPEGTRAN:
            stripped = out / path.name
            turned = subprocess.run(
                ["jpegtran", "-copy", "none", *_JPEGTRAN[turn], str(stripped)], capture_output=True, check=False
            )
            stripped.write_bytes(turned.stdout)
    return time.perf_counter() - started


def run_mat2(paths: list[Path], out: Path) -> float | None:
    if not shutil.which("mat2"):
        return None
    copies = []
    for path in paths:
        shutil.copy(path, out / path.name)
        copies.append(out / path.name)
    started = time.perf_counter()
    subprocess.run(["mat2", *map(str, copies)], capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    for copy in copies:
        copy.unlink()
    return elapsed if any(out.iterdir()) else None


def written_and_left(out: Path) -> tuple[int, int]:
    """How many files a tool wrote, and how many tags outside the structural allow-list ExifTool
    finds in them (a tool that refuses a file, or leaves its metadata, is fast for nothing)."""
    outputs = sorted(path for path in out.iterdir() if path.is_file())
    if not outputs or not exiftool.available():
        return len(outputs), 0
    left = 0
    for name, tags in exiftool.read(outputs).items():
        leaks = exiftool.disallowed(tags)
        if standard_profile(out / name):  # kept on purpose (docs/decisions/0007): not a leak
            leaks = {key: value for key, value in leaks.items() if not key.startswith(("ICC_Profile:", "ICC-header:"))}
        left += len(leaks)
    return len(outputs), left


def standard_profile(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            return icc.is_standard(image.info.get("icc_profile") or b"")
    except OSError:
        return False


# ru_maxrss would include the parent's size at fork time; clear_refs=5 resets the high-water mark.
_MEMORY_PROBE = """
import json, re, sys
sys.path.insert(0, {root!r})
from intake.cleaning import clean
data = open({path!r}, "rb").read()
def status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\\s+(\\d+) kB", f.read()).group(1)) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
clean(data)
print(json.dumps({{"extra": status("VmHWM") - before}}))
"""


def peak_memory(path: Path) -> tuple[int, int]:
    """(extra peak resident bytes while cleaning, decoded size in bytes) in a fresh process."""
    pillow_heif.register_heif_opener()
    with Image.open(path) as image:
        channels = len(image.getbands())
        decoded = image.size[0] * image.size[1] * channels
    probe = _MEMORY_PROBE.format(root=str(ROOT), path=str(path))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True, text=True)
    return json.loads(result.stdout)["extra"], decoded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8, help="12-megapixel JPEGs to build (others: a quarter)")
    parser.add_argument("--jpegs", type=Path, help="a folder of camera JPEGs to measure as one more set")
    parser.add_argument("--sets", default=",".join(SETS), help=f"which built sets to measure (of {', '.join(SETS)})")
    args = parser.parse_args()
    icc.STANDARD_PROFILES[hashlib.sha256(DISPLAY_P3).hexdigest()] = "Display P3 (stand-in for the phones' own)"
    work = Path(tempfile.mkdtemp(prefix="clean-bench-"))
    try:
        print(f"building the set in {work} ...", flush=True)
        (work / "in").mkdir()
        sets = build(work / "in", args.copies, tuple(args.sets.split(",")))
        if args.jpegs:
            sets["your-jpegs"] = sorted(p for p in args.jpegs.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        print(f"{'format':14} {'tool':13} {'images/s':>9} {'MB/s':>8} {'vs engine':>13}", end=" ")
        print(f"{'written':>8} {'tags left':>10}")
        leaks = 0
        versus_manual: dict[str, float] = {}
        for name, paths in sets.items():
            size = sum(p.stat().st_size for p in paths) / 1e6
            timings: dict[str, float | None] = {}
            results: dict[str, tuple[int, int]] = {}
            for tool, runner in (
                ("engine", run_engine),
                ("exif+jpegtran", run_manual),
                ("pillow", run_pillow),
                ("exiftool", run_exiftool),
                ("mat2", run_mat2),
            ):
                out = work / "out" / name / tool
                out.mkdir(parents=True)
                timings[tool] = runner(paths, out)
                results[tool] = written_and_left(out)
            leaks += results["engine"][1]
            engine = timings["engine"]
            assert engine is not None
            manual = timings["exif+jpegtran"]
            if manual is not None:
                versus_manual[name] = manual / engine
            for tool, seconds in timings.items():
                if seconds is None:
                    print(f"{name:14} {tool:13} {'(not installed or not supported)':>32}")
                    continue
                ratio = engine / seconds if tool == "engine" else seconds / engine
                label = (
                    "1.0x" if tool == "engine" else f"{ratio:.1f}x slower" if ratio >= 1 else f"{1 / ratio:.1f}x faster"
                )
                written, left = results[tool]
                print(
                    f"{name:14} {tool:13} {len(paths) / seconds:9.2f} {size / seconds:8.1f} {label:>13} "
                    f"{written:>4}/{len(paths):<3} {left:>10}"
                )
        print(f"\ntags outside the structural allow-list in the engine's outputs (ExifTool): {leaks}")
        for name, ratio in versus_manual.items():
            print(f"engine vs exif+jpegtran on {name}: {ratio:.2f}x (above 1.0: the engine is faster)")
        if "heic" not in sets or "png" not in sets:
            return 0
        print("\npeak memory of re-encoding (extra resident memory / decoded image size):")
        for name in ("heic", "png"):
            extra, decoded = peak_memory(sets[name][0])
            print(f"  {name:6} {extra / 1e6:7.1f} MB over a {decoded / 1e6:.1f} MB image: {extra / decoded:.2f}x")
        turned = work / "in" / "turned.png"
        Image.open(sets["png"][0]).save(turned, "PNG", exif=samples.exif_block(6))
        extra, decoded = peak_memory(turned)
        print(f"  {'png turned':6} {extra / 1e6:5.1f} MB over a {decoded / 1e6:.1f} MB image: {extra / decoded:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
