"""The audit log also records what admins do with accounts, and staff logins; each event keeps the
actor's name as it was then."""
from django.db import migrations, models

# Events written before this migration get the name their actor has now: the closest there is. On
# PostgreSQL the append-only trigger is lifted for this one statement, by the owner that migrates.
NAME_EARLIER_EVENTS = """
UPDATE intake_auditevent SET actor_name = (
    SELECT username FROM auth_user WHERE auth_user.id = intake_auditevent.actor_id
) WHERE actor_name = ''
"""
TRIGGER = "intake_audit_no_update_delete"


def name_earlier_events(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE intake_auditevent DISABLE TRIGGER {TRIGGER}")
    schema_editor.execute(NAME_EARLIER_EVENTS)
    if postgresql:
        schema_editor.execute(f"ALTER TABLE intake_auditevent ENABLE TRIGGER {TRIGGER}")


ACTIONS = [
    ("viewed", "Viewed the submission"),
    ("viewed_image", "Viewed an image"),
    ("changed_status", "Changed the status"),
    ("added_note", "Added a note"),
    ("created_account", "Created an account"),
    ("changed_account", "Changed an account"),
    ("changed_roles", "Changed an account's roles"),
    ("set_password", "Set an account's password"),
    ("changed_own_password", "Changed their own password"),
    ("logged_in", "Logged in"),
    ("logged_out", "Logged out"),
]


class Migration(migrations.Migration):
    dependencies = [("intake", "0003_audit_append_only")]

    operations = [
        migrations.AlterModelOptions(name="image", options={"ordering": ["submission_id", "position"]}),
        migrations.AddField(
            model_name="auditevent",
            name="account",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="actor_name",
            field=models.CharField(default="", editable=False, max_length=150),
            preserve_default=False,
        ),
        migrations.RunPython(name_earlier_events, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(choices=ACTIONS, max_length=30),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="submission_id",
            field=models.UUIDField(blank=True, db_index=True, null=True),
        ),
    ]
