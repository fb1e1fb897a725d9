"""Throughput and peak memory of the engine's video cleaning against FFmpeg, ExifTool and mat2.

    python benchmarks/clean_videos.py [--megabytes 500]

Builds a phone-like clip of about 500 MB (720p H.264 and AAC, encoded once for a few seconds and
repeated with ``-stream_loop`` and ``-c copy``, then given the place, make, model and XMP with
ExifTool), and cleans it with each tool in this same run, each in a child process of its own:

- the engine (``intake.cleaning.api.clean_media``), fed from a memory-backed file as the worker is;
- ``ffmpeg -map_metadata -1 -c copy``, FFmpeg's own remux: the reference the ratios are against;
- the same with ``-movflags +faststart`` (the index first, as the engine writes it: a second pass);
- ``exiftool -all=``;
- ``mat2`` (which runs FFmpeg itself for MP4).

For each: MB/s (of input), the time as a multiple of FFmpeg's remux, the child's peak resident memory
(``ru_maxrss``), and how many tags ExifTool still finds in the output that say where, who or when.
The engine's memory-backed files (the upload and the clean output, as in the worker) are not resident
memory of the process and are stated beside it. Not a test: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cleaning import videos  # noqa: E402

SECONDS_ENCODED = 6


def build(folder: Path, megabytes: int) -> Path:
    base = folder / "base.mp4"
    picture = "testsrc2=size=1280x720:rate=30,noise=alls=8:allf=t"
    videos.ffmpeg(
        "-f", "lavfi", "-i", picture, "-f", "lavfi", "-i", "sine=sample_rate=48000",
        "-t", str(SECONDS_ENCODED), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
        "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac", "-b:a", "128k", base,
    )  # fmt: skip
    loops = max(0, -(-megabytes * 1_000_000 // base.stat().st_size) - 1)
    clip = folder / "phone.mp4"
    videos.ffmpeg("-stream_loop", str(loops), "-i", base, "-c", "copy", "-metadata", f"location={videos.LOCI}", clip)
    base.unlink()
    videos.exiftool_write(
        clip,
        "-UserData:GPSCoordinates=" + ", ".join(videos.XYZ_AT),
        f"-UserData:Make={videos.MAKE}",
        f"-UserData:Model={videos.MODEL}",
        f"-XMP-dc:Creator={videos.XMP_CREATOR}",
    )
    return clip


ENGINE = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {root!r})
from intake.cleaning import video
from intake.cleaning.api import clean_media
imported = time.perf_counter()
upload = video.memfile("upload")
with open({source!r}, "rb") as source:
    while chunk := source.read(1 << 20):
        upload.write(chunk)
copied = time.perf_counter()
result = clean_media(upload)
cleaned = time.perf_counter()
with open({out!r}, "wb") as out:
    while chunk := result.file.read(1 << 20):
        out.write(chunk)
written = time.perf_counter()
print(json.dumps({{"start and imports": imported - started, "copy into memory": copied - imported,
                  "clean_media": cleaned - copied, "write out": written - cleaned}}))
"""


def commands(source: Path, out: Path) -> dict[str, list[str] | None]:
    mat2_copy = out / "mat2" / source.name
    return {
        "engine": [
            sys.executable,
            "-c",
            ENGINE.format(root=str(ROOT), source=str(source), out=str(out / "engine.mp4")),
        ],
        "ffmpeg": ["ffmpeg", "-v", "error", "-nostdin", "-i", str(source), "-map", "0", "-map_metadata", "-1"]
        + ["-c", "copy", str(out / "ffmpeg.mp4")],
        # What the engine writes: the index first, so that a browser plays while loading (a second pass).
        "ffmpeg +faststart": ["ffmpeg", "-v", "error", "-nostdin", "-i", str(source), "-map", "0:V", "-map", "0:a"]
        + ["-map_metadata", "-1", "-c", "copy", "-movflags", "+faststart", str(out / "ffmpeg-faststart.mp4")],
        "exiftool": ["exiftool", "-q", "-q", "-all=", "-o", str(out / "exiftool.mp4"), str(source)]
        if shutil.which("exiftool")
        else None,
        "mat2": ["mat2", str(mat2_copy)] if shutil.which("mat2") else None,
    }


def measure(command: list[str]) -> tuple[float, int, int, str]:
    """(seconds, peak resident bytes, exit status, what it printed) of a child process.

    The peak comes from GNU time, started in between: a child forked from this Python process would
    report this process's own size as its peak (Linux keeps the high-water mark across exec)."""
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *command], capture_output=True, check=False
        )
        elapsed = time.perf_counter() - started
        peak = int(report.read().split()[-1]) * 1024 if result.returncode == 0 else 0
    if result.returncode:
        print(f"  {command[0]} failed: {result.stderr.decode(errors='replace')[-500:]}", file=sys.stderr)
    return elapsed, peak, result.returncode, result.stdout.decode(errors="replace")


def output_of(tool: str, out: Path, source: Path) -> Path | None:
    if tool == "mat2":
        found = sorted((out / "mat2").glob("*.cleaned.*"))
        return found[0] if found else None
    path = out / f"{tool.replace(' +', '-')}.mp4"
    return path if path.exists() else None


def tags_left(path: Path | None) -> str:
    """Tags ExifTool finds in ``path`` that say where, who or when (see tests/cleaning/test_video_cleaning)."""
    if path is None:
        return "-"
    from tests.cleaning.test_video_cleaning import exiftool_tags, leaks_in_tags

    return str(len(leaks_in_tags(exiftool_tags(path))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=500, help="size of the clip to build")
    parser.add_argument("--runs", type=int, default=3, help="rounds of every tool (each one's fastest is kept)")
    args = parser.parse_args()
    if missing := videos.tools_missing() + ([] if shutil.which("time") or Path("/usr/bin/time").exists() else ["time"]):
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="clean-videos-"))
    try:
        print(f"building a {args.megabytes} MB clip in {work} ...", flush=True)
        started = time.perf_counter()
        source = build(work, args.megabytes)
        size = source.stat().st_size
        probe = json.loads(
            subprocess.run(
                ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(source)],
                capture_output=True,
                check=True,
            ).stdout
        )
        seconds = float(probe["format"]["duration"])
        print(
            f"built in {time.perf_counter() - started:.0f} s: {size / 1e6:.0f} MB, {seconds:.0f} s of 720p30 H.264 "
            f"at {size * 8 / seconds / 1e6:.0f} Mbit/s and AAC; ExifTool finds {tags_left(source)} tags to remove\n"
        )
        tools = ("engine", "ffmpeg", "ffmpeg +faststart", "exiftool", "mat2")
        best: dict[str, tuple[float, int]] = {}
        failed: set[str] = set()
        left: dict[str, str] = {}
        engine_steps = ""
        # Round after round, each tool once a round: a machine busier at one moment slows them all alike.
        for _ in range(args.runs):
            for tool in tools:
                out = work / "out" / tool.replace(" +", "-")
                shutil.rmtree(out, ignore_errors=True)
                (out / "mat2").mkdir(parents=True)
                command = commands(source, out)[tool]
                if command is None or tool in failed:
                    failed.add(tool)
                    continue
                if tool == "mat2":
                    shutil.copy(source, out / "mat2" / source.name)
                subprocess.run(["sync"], check=False)
                elapsed, peak, status, printed = measure(command)
                if status:
                    failed.add(tool)
                    continue
                if tool not in best or elapsed < best[tool][0]:
                    best[tool] = (elapsed, peak)
                    engine_steps = printed if tool == "engine" else engine_steps
                if tool not in left:
                    left[tool] = tags_left(output_of(tool, out, source))
                shutil.rmtree(out, ignore_errors=True)
        results: dict[str, tuple[float, int, str]] = {
            tool: (*best[tool], left[tool]) if tool in best else (0.0, 0, "failed or not installed") for tool in tools
        }
        reference = results["ffmpeg"][0]
        print(f"{'tool':18} {'seconds':>8} {'MB/s':>8} {'vs ffmpeg -c copy':>18} {'peak RSS MB':>12} {'tags left':>10}")
        for tool, (elapsed, peak, left) in results.items():
            if not elapsed:
                print(f"{tool:18} {left}")
                continue
            ratio = elapsed / reference
            label = "1.00x" if tool == "ffmpeg" else f"{ratio:.2f}x the time"
            print(f"{tool:18} {elapsed:8.2f} {size / 1e6 / elapsed:8.0f} {label:>18} {peak / 1e6:12.0f} {left:>10}")
        if engine_steps:
            steps = json.loads(engine_steps)
            print("\nthe engine's time: " + ", ".join(f"{step} {seconds:.2f} s" for step, seconds in steps.items()))
        print(
            f"the engine also holds its input and output in memory-backed files (memfd), not counted in its "
            f"resident memory: about {2 * size / 1e6:.0f} MB for this clip"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
