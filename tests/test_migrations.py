"""Migrations keep what is already stored: an upgrade must not blank the chain of custody."""

import pytest
from django.core.management import call_command
from django.db import connection

from intake.models import AuditEvent


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
