"""The audit log also records what admins do with accounts, and staff logins; each event keeps the
actor's name as it was then."""
from django.db import migrations, models

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
