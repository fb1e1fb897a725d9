"""Clean files' digests sealed and keyed (intake.likeness): the plain SHA-256 column goes.

Each digest already stored is sealed with the file keys and given its keyed token, the same as
``actions.record_clean`` writes; then the plain column is removed. Audit events that quoted a digest
cannot be rewritten (the log is append-only): docs/threat-model.md says so.
"""

from django.db import migrations

from intake import crypto


def seal_digests(apps, schema_editor):
    Image = apps.get_model("intake", "Image")
    for image in Image.objects.exclude(sha256="").only("pk", "sha256").iterator():
        context = crypto.field_context("intake_image", "sealed_sha256", image.pk)
        Image.objects.filter(pk=image.pk).update(
            sealed_sha256=crypto.seal_bytes(image.sha256.encode(), context),
            sha256_token=crypto.matching_token(b"sha256", bytes.fromhex(image.sha256)),
        )


def open_digests(apps, schema_editor):
    Image = apps.get_model("intake", "Image")
    for image in Image.objects.exclude(sealed_sha256=None).only("pk", "sealed_sha256").iterator():
        context = crypto.field_context("intake_image", "sealed_sha256", image.pk)
        sha256 = crypto.open_bytes(bytes(image.sealed_sha256), context).decode()
        Image.objects.filter(pk=image.pk).update(sha256=sha256)


class Migration(migrations.Migration):
    dependencies = [("intake", "0011_queue")]
    operations = [
        migrations.RunPython(seal_digests, open_digests),
        migrations.RemoveField(model_name="image", name="sha256"),
    ]
