"""The queue at volume (intake.review): indexes along the queue's order, and tags for Admins.

The queue reads each page along (received_on, id) from where the last one stopped (intake.review.views),
so it needs an index in exactly that order: one for the default view of open submissions (partial, on
the same condition as QueueFilterForm's OPEN), one per status. The clean files of the rows shown are
counted through (submission, state). Admins define the organisation's tags in the Django admin.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.db.models import Q

CLOSED = ["rejected", "archived"]
TAG_PERMISSIONS = ["add_tag", "change_tag", "view_tag", "delete_tag"]


def let_admins_define_tags(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.filter(name="Admin").first()
    if admin is not None:
        admin.permissions.add(
            *Permission.objects.filter(content_type__app_label="intake", codename__in=TAG_PERMISSIONS)
        )


def take_tags_from_admins(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.filter(name="Admin").first()
    if admin is not None:
        admin.permissions.remove(
            *Permission.objects.filter(content_type__app_label="intake", codename__in=TAG_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [("intake", "0010_triage")]
    operations = [
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(
                fields=["-received_on", "id"], name="submission_open_order", condition=~Q(status__in=CLOSED)
            ),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["status", "-received_on", "id"], name="submission_status_order"),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["submission", "state"], name="image_submission_state"),
        ),
        migrations.RunPython(let_admins_define_tags, take_tags_from_admins),
    ]
