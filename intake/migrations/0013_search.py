"""The blind index of what was stored before it (intake.search)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("intake", "0012_digests")]
    operations: list = []
