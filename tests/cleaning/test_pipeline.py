"""The pipeline (intake.cleaning.api) holds every format to the same steps: a format declares, the
pipeline guards, and only then does the format clean. No format can skip the guard, or call it."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from typing import BinaryIO

import pytest

from intake import cleaning
from intake.cleaning import Limits, Refused, api, clean, clean_media, contract, guard
from intake.cleaning.contract import Declared, Outcome
from intake.cleaning.reasons import Reason

from . import samples
from .test_independent_reader import CORPUS


@dataclass
class Spy:
    """A format that declares whatever it is told to, and notes whether it was asked to clean."""

    declared: Declared
    kind: str = "photo"
    name: str = "Spy"
    media_types: frozenset[str] = frozenset({"application/x-spy"})
    extensions: dict[str, str] = field(default_factory=lambda: {"image/png": "png"})
    calls: list[str] = field(default_factory=list)

    def recognise(self, head: bytes) -> bool:
        return head.startswith(b"SPY")

    def declare(self, source: BinaryIO) -> Declared:
        self.calls.append("declare")
        return self.declared

    def clean(self, source: BinaryIO, declared: Declared) -> Outcome:
        self.calls.append("clean")
        return contract.photo(samples.png(), "image/png", "png", set())

    def verify(self, outcome: Outcome) -> None:
        self.calls.append("verify")


@pytest.fixture
def plug(monkeypatch):
    def plug_in(spy: Spy) -> Spy:
        monkeypatch.setattr(api, "FORMATS", (spy, *api.FORMATS))
        return spy

    return plug_in


def refusal(source: bytes, limits: Limits = Limits()) -> Refused:
    with pytest.raises(Refused) as raised:
        clean_media(io.BytesIO(source), limits)
    return raised.value


def test_a_format_declaring_too_many_pixels_is_refused_before_it_is_asked_to_clean(plug):
    spy = plug(Spy(Declared(width=60000, height=60000)))
    assert refusal(b"SPY-bomb").code == Reason.TOO_MANY_PIXELS
    assert spy.calls == ["declare"]


def test_a_format_declaring_too_many_frames_is_refused_before_it_is_asked_to_clean(plug):
    spy = plug(Spy(Declared(width=10, height=10, frames=guard.MAX_FRAMES + 1)))
    assert refusal(b"SPY-frames").code == Reason.TOO_MANY_FRAMES
    assert spy.calls == ["declare"]


@pytest.mark.parametrize(
    ("declared", "code"),
    [
        (Declared(duration_seconds=61), Reason.TOO_LONG),
        (Declared(tracks=guard.MAX_TRACKS + 1), Reason.TOO_MANY_TRACKS),
        (Declared(samples=10**9), Reason.TOO_MANY_SAMPLES),
        (Declared(width=60000, height=60000), Reason.TOO_MANY_PIXELS),
    ],
    ids=["duration", "tracks", "samples", "pixels"],
)
def test_a_video_format_declaring_too_much_is_refused_before_it_is_asked_to_clean(plug, declared, code):
    spy = plug(Spy(declared, kind="video"))
    assert refusal(b"SPY-video", Limits(video_seconds=60)).code == code
    assert spy.calls == ["declare"]


def test_a_file_over_its_kinds_size_limit_is_refused_before_anything_is_declared(plug):
    spy = plug(Spy(Declared(width=10, height=10)))
    refused = refusal(b"SPY" + bytes(2 * 1024 * 1024), Limits(photo_bytes=1024 * 1024))
    assert (refused.code, refused.params) == (Reason.TOO_LARGE, {"megabytes": 1})
    assert spy.calls == []


def test_a_format_that_passes_the_guard_is_cleaned_then_verified_then_described(plug):
    spy = plug(Spy(Declared(width=10, height=10)))
    result = clean_media(io.BytesIO(b"SPY-fine"))
    assert spy.calls == ["declare", "clean", "verify"]
    assert (result.media_type, result.extension, result.size) == ("image/png", "png", len(result.data))


def test_an_output_type_the_format_does_not_list_is_refused(plug):
    spy = plug(Spy(Declared(width=10, height=10), extensions={"image/gif": "gif"}))
    assert refusal(b"SPY-liar").code == Reason.CANNOT_CLEAN_SAFELY
    assert spy.calls == ["declare", "clean", "verify"]


def test_only_the_pipeline_calls_the_guard_whatever_the_format(monkeypatch):
    """Any format module calling a guard function, for any file of the corpus, fails this test."""
    callers: list[str] = []
    for name in [name for name in vars(guard) if name.startswith(("check", "_check"))]:
        real = getattr(guard, name)

        def watched(*args, _real=real, **kwargs):
            callers.append(sys._getframe(1).f_globals["__name__"])
            return _real(*args, **kwargs)

        monkeypatch.setattr(guard, name, watched)
    for build in CORPUS.values():
        clean(build())
    assert callers
    assert {caller for caller in callers} <= {"intake.cleaning.api", "intake.cleaning.guard"}
    # The input's size, what it declares, and what its output turned out to hold.
    assert callers.count("intake.cleaning.api") == 3 * len(CORPUS)


def test_bytes_and_a_file_give_the_same_result():
    data = samples.jpeg(orientation=6)
    from_bytes, from_file = clean(data), clean_media(io.BytesIO(data))
    assert from_bytes.data == from_file.data and from_bytes.sha256 == from_file.sha256
    assert from_bytes.size == len(from_bytes.data)


def test_media_types_and_extensions_come_from_the_formats_own_tables():
    for fmt in api.FORMATS:
        assert fmt.media_types <= cleaning.ACCEPTED_MEDIA_TYPES
        for media_type, extension in fmt.extensions.items():
            assert cleaning.extension_for(media_type) == extension
    assert {"image/jpeg", "image/png", "image/webp", "image/gif"} <= api.OUTPUT_MEDIA_TYPES
    assert "image/tiff" not in api.OUTPUT_MEDIA_TYPES and "image/heic" not in api.OUTPUT_MEDIA_TYPES
