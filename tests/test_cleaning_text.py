"""Refusals and the kinds of metadata removed are stored as codes and put into words when shown."""

import pytest
from django.utils import translation

from intake import cleaning_text
from intake.cleaning import labels
from intake.cleaning.reasons import Reason
from intake.models import Image

#: The numbers each code is stored with, as the engine and the worker give them.
EXAMPLES: dict[Reason, dict] = {
    Reason.EMPTY: {},
    Reason.TOO_LARGE: {"megabytes": 200},
    Reason.NOT_AN_IMAGE: {},
    Reason.MEDIA_NOT_IMAGE: {},
    Reason.NO_DIMENSIONS: {},
    Reason.TOO_MANY_PIXELS: {"width": 12000, "height": 12000, "megapixels": 110},
    Reason.TOO_MANY_FRAMES: {"frames": 1001, "limit": 1000},
    Reason.TOO_MANY_PIXELS_IN_ALL: {"frames": 8, "megapixels": 500},
    Reason.TOO_MANY_SCANS: {"limit": 500},
    Reason.TRUNCATED: {"format": "JPEG"},
    Reason.MALFORMED: {"format": "PNG"},
    Reason.DAMAGED: {},
    Reason.TOO_LONG: {"minutes": 30},
    Reason.TOO_MANY_TRACKS: {"tracks": 10000, "limit": 64},
    Reason.TOO_MANY_SAMPLES: {"samples": 1000000000, "limit": 5000000},
    Reason.NO_STREAMS: {},
    Reason.UNSUPPORTED_CODEC: {"format": "prores"},
    Reason.CANNOT_CLEAN_SAFELY: {},
    Reason.STOPPED_CLEANING: {"attempts": 3},
    Reason.UPLOAD_MISSING: {},
    Reason.UNDECRYPTABLE: {},
    Reason.TIME_LIMIT: {},
    Reason.MEMORY_LIMIT: {},
    Reason.COULD_NOT_CLEAN: {},
}
GENERIC = "The file could not be cleaned."


def in_english(code, params=None) -> str:
    with translation.override("en"):
        return cleaning_text.refusal_text(code, params)


def test_every_refusal_code_has_a_sentence_of_its_own():
    assert set(EXAMPLES) == set(Reason)
    sentences = {code: in_english(code, params) for code, params in EXAMPLES.items()}
    assert set(cleaning_text.REFUSALS) == set(Reason)
    assert [code for code, sentence in sentences.items() if sentence == GENERIC] == [Reason.COULD_NOT_CLEAN]
    assert len(set(sentences.values())) == len(Reason)
    for code, params in EXAMPLES.items():
        for value in params.values():
            assert str(value) in sentences[code], code


def test_every_kind_of_metadata_has_a_name_of_its_own():
    kinds = (*labels.ORDER, labels.OTHER)
    assert set(cleaning_text.KINDS) == set(kinds)
    with translation.override("en"):
        names = cleaning_text.removed_labels(list(kinds))
    assert len(names) == len(kinds) and not set(names) & set(kinds)


def test_a_refusal_reads_as_a_plain_sentence_with_its_numbers():
    assert in_english(Reason.TOO_MANY_PIXELS, {"width": 12000, "height": 9000, "megapixels": 110}) == (
        "The photo is 12000 × 9000 pixels, more than the 110 megapixels we accept."
    )
    assert in_english(Reason.TOO_MANY_PIXELS, {"megapixels": 210}) == (
        "The photo has more than the 210 megapixels we accept."
    )
    assert in_english(Reason.STOPPED_CLEANING, {"attempts": 1}) == "The file stopped the cleaning process 1 time."
    assert in_english(Reason.STOPPED_CLEANING, {"attempts": 3}) == "The file stopped the cleaning process 3 times."


@pytest.mark.parametrize(
    "code, params",
    [
        ("no_such_code", {}),
        ("", {}),
        (Reason.TRUNCATED, {}),  # its format is missing
        (Reason.TOO_MANY_FRAMES, {"limit": 1000}),  # the number its plural agrees with is missing
        (Reason.TOO_LARGE, ["200"]),
        (Reason.TOO_LARGE, None),
    ],
)
def test_an_unknown_code_or_numbers_that_do_not_fit_read_as_the_generic_sentence(code, params):
    assert in_english(code, params) == GENERIC


def test_unknown_kinds_read_as_other_metadata_once_and_the_stored_order_is_kept():
    with translation.override("en"):
        names = cleaning_text.removed_labels(["serial", "Some English", "gps", 7, "another"])
        assert names == ["camera or lens serial number", "other metadata", "GPS location"]
        assert cleaning_text.removed_labels(None) == []


def test_an_image_says_why_it_was_refused_only_when_it_was():
    refused = Image(state=Image.State.FAILED, refusal=Reason.TRUNCATED, refusal_params={"format": "GIF"})
    clean = Image(state=Image.State.CLEAN, removed=[labels.GPS, labels.DATES])
    lost = Image(state=Image.State.FAILED)  # refused before codes, with nothing recognisable kept
    with translation.override("en"):
        assert refused.refusal_text == (
            "The file is incomplete (GIF): it may not have finished copying or downloading."
        )
        assert clean.refusal_text == "" and Image().refusal_text == ""
        assert lost.refusal_text == GENERIC
        assert clean.removed_labels == ["GPS location", "dates and times"]


def test_the_words_follow_the_language_and_the_code_does_not_change():
    image = Image(state=Image.State.FAILED, refusal=Reason.EMPTY)
    with translation.override("ar"):
        in_arabic = image.refusal_text
    assert in_arabic and image.refusal == "empty"
    # Arabic when the catalogue has it (tests/test_languages.py checks that every sentence does).
    assert in_arabic == in_english(Reason.EMPTY) or not in_arabic.isascii()
