"""Clean files' digests sealed and keyed (intake.likeness)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("intake", "0011_queue")]
    operations: list = []
