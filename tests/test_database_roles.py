"""On PostgreSQL the web and the worker connect as roles with no more rights than they need
(``manage.py grantroles``): a compromised web process cannot rewrite the audit log, and a compromised
worker, which parses hostile files, cannot read testimony."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles exist only on PostgreSQL"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WEB, WORKER = "intake_test_web", "intake_test_worker"


@pytest.fixture
def connect_as():
    call_command("grantroles", web=WEB, worker=WORKER, stdout=open("/dev/null", "w"))  # noqa: SIM115
    opened = []

    def connect(role: str) -> psycopg.Connection:
        db = connection.settings_dict
        conn = psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, dbname=db["NAME"], user=role, autocommit=True
        )
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def refused(conn, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_web_role_adds_to_the_audit_log_but_cannot_rewrite_it(connect_as, reviewer):
    web = connect_as(WEB)
    web.execute(
        "INSERT INTO intake_auditevent (at, actor_id, actor_name, action, account, detail)"
        " VALUES (now(), %s, 'rania', 'logged_in', '', '{}')",
        [reviewer.pk],
    )
    assert refused(web, "UPDATE intake_auditevent SET action = 'viewed'")
    assert refused(web, "DELETE FROM intake_auditevent")
    assert refused(web, "TRUNCATE intake_auditevent")
    assert refused(web, "ALTER TABLE intake_auditevent DISABLE TRIGGER intake_audit_no_update_delete")
    assert refused(web, "DROP TRIGGER intake_audit_no_update_delete ON intake_auditevent")
    assert web.execute("SELECT action FROM intake_auditevent").fetchall() == [("logged_in",)]


def test_the_web_role_reads_and_writes_the_rest(connect_as):
    web = connect_as(WEB)
    web.execute("SELECT count(*) FROM intake_submission").fetchone()
    web.execute("INSERT INTO auth_group (name) VALUES ('Translators')")  # draws on an identity sequence
    web.execute("DELETE FROM django_session")
    assert refused(web, "DELETE FROM django_migrations")


def test_the_worker_role_reads_and_updates_images_and_nothing_else(connect_as):
    worker = connect_as(WORKER)
    worker.execute("SELECT id, original_blob FROM intake_image").fetchall()
    worker.execute("UPDATE intake_image SET attempts = attempts")
    # What the worker records of a refusal, and of a cleaned file (intake.actions).
    worker.execute("UPDATE intake_image SET state = state, refusal = refusal, refusal_params = refusal_params")
    worker.execute("UPDATE intake_image SET clean_blob = clean_blob, media_type = media_type, removed = removed")
    for table in ("intake_submission", "intake_note", "intake_auditevent", "auth_user", "django_session"):
        assert refused(worker, f"SELECT * FROM {table}"), table  # noqa: S608 - fixed names
    assert refused(worker, "INSERT INTO intake_image (id) VALUES (gen_random_uuid())")
    assert refused(worker, "UPDATE intake_image SET submission_id = submission_id")
    assert refused(worker, "UPDATE intake_image SET position = position")
    assert refused(worker, "DELETE FROM intake_image")


def test_the_worker_role_removes_expired_sent_forms_and_reads_nothing_they_hold(connect_as, clock):
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from intake import sent_forms
    from intake.models import SentForm

    with transaction.atomic():
        sent_forms.claim(sent_forms.new_token(), keep={"receipt": "1234"})
    clock.advance(days=3)
    with CaptureQueriesContext(connection) as queries:
        assert sent_forms.sweep() == 1
    SentForm.objects.create(digest="0" * 64, expires_at=clock.now, sealed_receipt=b"sealed")
    # The very statement the sweep sends, as the worker: the row it names goes.
    worker = connect_as(WORKER)
    (sweep,) = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("DELETE")]
    worker.execute(sweep.replace("%", "%%"))
    assert not SentForm.objects.exists()
    assert refused(worker, "SELECT digest FROM intake_sentform")
    assert refused(worker, "SELECT sealed_receipt FROM intake_sentform")
    assert refused(worker, "INSERT INTO intake_sentform (digest, expires_at) VALUES ('x', now())")


def test_the_worker_role_cannot_read_or_write_the_index_of_words(connect_as):
    # Which submissions share a word, and how often each token occurs, is for the web alone.
    worker = connect_as(WORKER)
    assert refused(worker, "SELECT token, submission_id FROM intake_indexedword")
    assert refused(worker, "INSERT INTO intake_indexedword (token, submission_id) VALUES ('x', gen_random_uuid())")
    assert refused(worker, "DELETE FROM intake_indexedword")
    web = connect_as(WEB)
    web.execute("SELECT count(*) FROM intake_indexedword").fetchone()


def clean_image(submission):
    from intake.models import Image

    return Image.objects.get(submission=submission, state=Image.State.CLEAN)


def undescribed_clean_image(submission, position=7):
    """A clean image the worker has not yet described (no preview, no perceptual hash)."""
    from intake.models import Image

    return Image.objects.create(submission=submission, position=position, state=Image.State.CLEAN, clean_blob="clean")


def trigger_refused(conn, statement: str, params=()) -> bool:
    try:
        conn.execute(statement, params)
    except psycopg.errors.RaiseException as error:
        assert "clean image" in str(error) or "refused image" in str(error)
        return True
    return False


def test_a_clean_file_cannot_be_replaced_even_by_the_worker_that_cleaned_it(connect_as, submission):
    # The worker holds the file keys: were it free to write a clean image's blob and sealed digest, it could
    # swap the evidence for a file of its own with a matching digest, and the export would sign it.
    image = clean_image(submission)
    worker = connect_as(WORKER)
    where = "WHERE id = %s"
    for change in (
        "clean_blob = 'another'",
        "sealed_sha256 = '\\x00'::bytea",
        "sha256_token = 'another'",
        "media_type = 'image/png'",
        """removed = '["GPS position"]'::jsonb""",
        "size = 1",
        "width = 1",
        "poster_blob = 'another'",
        "state = 'pending'",
    ):
        assert trigger_refused(worker, f"UPDATE intake_image SET {change} {where}", [image.pk]), change  # noqa: S608
    unchanged = clean_image(submission)
    assert (unchanged.clean_blob, unchanged.media_type) == (image.clean_blob, image.media_type)


def test_what_is_worked_out_after_cleaning_is_still_recorded_on_a_clean_image(connect_as, submission):
    image = undescribed_clean_image(submission)
    worker = connect_as(WORKER)
    # What record_description, record_viewing_copy and giving a viewing copy up write (intake.actions, tasks).
    worker.execute(
        "UPDATE intake_image SET preview_blob = 'preview', described = true, sealed_likeness = '\\x01'::bytea"
        " WHERE id = %s",
        [image.pk],
    )
    worker.execute(
        "UPDATE intake_image SET viewing_blob = 'copy', viewing_size = 3, viewing_media_type = '' WHERE id = %s",
        [image.pk],
    )
    worker.execute("UPDATE intake_image SET attempts = attempts + 1 WHERE id = %s", [image.pk])
    image.refresh_from_db()
    assert (image.preview_blob, image.viewing_blob, image.clean_blob) == ("preview", "copy", "clean")


def test_a_clean_file_is_fixed_for_the_tables_owner_too(submission):
    from django.db import transaction
    from django.db.utils import ProgrammingError

    from intake import blobs
    from intake.models import Image

    with pytest.raises(ProgrammingError, match="clean image"), transaction.atomic():
        Image.objects.filter(submission=submission).update(clean_blob=blobs.write(b"another file entirely"))
    with pytest.raises(ProgrammingError, match="clean image"), transaction.atomic():
        Image.objects.filter(submission=submission).update(sealed_sha256=b"sealed", sha256_token="0" * 32)
    # An image being cleaned is written as before, and the trigger lets a pending image become clean.
    pending = Image.objects.create(submission=submission, position=1, original_blob="upload")
    Image.objects.filter(pk=pending.pk).update(state=Image.State.CLEAN, clean_blob="cleaned", original_blob="")
    assert Image.objects.get(pk=pending.pk).clean_blob == "cleaned"


def test_a_refused_image_cannot_be_made_clean_evidence(connect_as, submission):
    from intake.models import Image

    refused_image = Image.objects.create(
        submission=submission, position=5, state=Image.State.FAILED, refusal="not_an_image"
    )
    worker = connect_as(WORKER)
    statement = "UPDATE intake_image SET state = 'clean', clean_blob = 'forged' WHERE id = %s"
    assert trigger_refused(worker, statement, [refused_image.pk])


def test_a_description_once_recorded_cannot_be_changed_nor_bands_added_to_it(connect_as, submission):
    image = undescribed_clean_image(submission)
    worker = connect_as(WORKER)
    worker.execute(
        "UPDATE intake_image SET preview_blob = 'preview', sealed_likeness = '\\x01'::bytea WHERE id = %s",
        [image.pk],
    )
    worker.execute(
        "INSERT INTO intake_likenessband (id, image_id, token) VALUES (gen_random_uuid(), %s, 'band')", [image.pk]
    )
    worker.execute("UPDATE intake_image SET described = true WHERE id = %s", [image.pk])
    for change in ("preview_blob = 'another'", "sealed_likeness = '\\x02'::bytea", "described = false"):
        assert trigger_refused(worker, f"UPDATE intake_image SET {change} WHERE id = %s", [image.pk]), change  # noqa: S608
    insert = "INSERT INTO intake_likenessband (id, image_id, token) VALUES (gen_random_uuid(), %s, 'forged')"
    assert trigger_refused(worker, insert, [image.pk])
