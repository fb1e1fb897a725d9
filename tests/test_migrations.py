"""Migrations keep what is already stored: an upgrade must not blank the chain of custody."""

import importlib
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation

from intake.cleaning import labels
from intake.cleaning.reasons import Reason
from intake.models import AuditEvent, Image, Submission


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_audit_events_from_before_actor_names_were_kept_get_their_actors_name(reviewer):
    call_command("migrate", "intake", "0003", verbosity=0)
    some_submission = "0" * 32 if connection.vendor == "sqlite" else "00000000-0000-0000-0000-000000000000"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO intake_auditevent (at, actor_id, action, submission_id, detail)"
            " VALUES (CURRENT_TIMESTAMP, %s, 'viewed', %s, '{}')",
            [reviewer.pk, some_submission],
        )
    call_command("migrate", "intake", verbosity=0)
    assert AuditEvent.objects.get().actor_name == "rania"


# --- 0008: refusals and removed kinds as codes -----------------------------------------------------

codes_migration = importlib.import_module("intake.migrations.0008_refusal_codes")

STORED_IN_ENGLISH = {
    "The image declares 12000x12000 pixels, more than the 80 megapixels we accept.": (
        "too_many_pixels",
        {"width": 12000, "height": 12000, "megapixels": 80},
    ),
    "The PNG file is truncated: it ends before its last chunk.": ("truncated", {"format": "PNG"}),
    "The file stopped the cleaning process several times.": ("stopped_cleaning", {"attempts": 3}),
    "The file is larger than 200 MB.": ("too_large", {"megabytes": 200}),
    "Nothing the service ever wrote, or a reason typed by hand.": ("could_not_clean", {}),
}


def _model_at(migration: str, name: str):
    return MigrationExecutor(connection).loader.project_state(("intake", migration)).apps.get_model("intake", name)


def _images_at(migration: str):
    return _model_at(migration, "Image")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refusals_and_removed_kinds_stored_in_english_become_codes_and_the_english_column_goes():
    call_command("migrate", "intake", "0007", verbosity=0)
    submission = _model_at("0007_conversation", "Submission").objects.create(receipt_digest="e" * 64, account="x")
    OldImage = _images_at("0007_conversation")
    for position, reason in enumerate(STORED_IN_ENGLISH):
        OldImage.objects.create(submission_id=submission.pk, position=position, state="failed", failure_reason=reason)
    OldImage.objects.create(submission_id=submission.pk, position=10, state="failed")
    OldImage.objects.create(
        submission_id=submission.pk,
        position=11,
        state="clean",
        removed=["GPS location", "camera or lens serial number", "a label we never had", "GPS location", "another"],
    )

    call_command("migrate", "intake", verbosity=0)

    with connection.cursor() as cursor:
        columns = {column.name for column in connection.introspection.get_table_description(cursor, "intake_image")}
    assert "failure_reason" not in columns
    images = {image.position: image for image in Image.objects.all()}
    for position, expected in enumerate(STORED_IN_ENGLISH.values()):
        assert (images[position].refusal, images[position].refusal_params) == expected
    assert (images[10].refusal, images[10].refusal_params) == ("could_not_clean", {})
    assert images[11].removed == ["gps", "serial", "other"]
    assert {image.refusal for image in images.values()} - {""} <= set(Reason)
    with translation.override("en"):
        assert images[0].refusal_text == "The photo is 12000 × 12000 pixels, more than the 80 megapixels we accept."
        assert images[11].removed_labels == ["GPS location", "camera or lens serial number", "other metadata"]
    with translation.override("ar"):
        assert images[0].refusal_text and images[11].removed_labels  # the words of the Arabic catalogue


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_going_back_before_the_codes_writes_the_english_sentences_again():
    submission = Submission.objects.create(receipt_digest="f" * 64, account="x")
    Image.objects.create(
        submission=submission, position=0, state="failed", refusal="truncated", refusal_params={"format": "GIF"}
    )
    Image.objects.create(submission=submission, position=1, state="clean", removed=["dates", "other"])
    call_command("migrate", "intake", "0007", verbosity=0)
    old = {image.position: image for image in _images_at("0007_conversation").objects.all()}
    assert old[0].failure_reason == "The GIF file is truncated: it ends inside a frame or block."
    assert old[1].removed == ["dates and times"]
    call_command("migrate", "intake", verbosity=0)


@pytest.mark.parametrize("template, code, fixed", codes_migration.LEGACY_REASONS)
def test_every_english_reason_ever_stored_maps_to_its_code_and_back(template, code, fixed):
    numbers = {name: 40 + index for index, name in enumerate(re.findall(r"\{(\w+)\}", template))}
    sentence = template.format(**numbers)
    assert codes_migration.reason_to_code(sentence) == (code, {**fixed, **numbers})
    assert code in set(Reason)
    back = codes_migration.code_to_reason(code, {**fixed, **numbers})
    if template.startswith("The image's {frames} frames of"):  # an older wording: it comes back as the newer
        assert codes_migration.reason_to_code(back) == (code, {**fixed, "frames": 40, "megapixels": 43})
    else:
        assert back == sentence


def test_every_english_kind_ever_stored_maps_to_a_kind_the_engine_reports():
    # Every kind the engine reported in English maps to a code; the kinds found only in videos came
    # after the codes, so were never stored in English.
    born_as_codes = {labels.UUID_BOXES, labels.TELEMETRY, labels.SUBTITLES, labels.TIMECODE}
    born_as_codes |= {labels.COVER_ART, labels.CHAPTERS, labels.UNSUPPORTED_TRACKS}
    assert set(codes_migration.LEGACY_KINDS.values()) == set(labels.ORDER) - born_as_codes
