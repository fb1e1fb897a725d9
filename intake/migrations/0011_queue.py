"""The queue at volume (intake.review): indexes and what the queue orders by."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("intake", "0010_triage")]
    operations: list = []
