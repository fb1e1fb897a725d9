"""Clean files' digests sealed and keyed (intake.likeness): the plain SHA-256 column goes.

Each digest already stored is sealed with the file keys and given its keyed token, the same as
``actions.record_clean`` writes; then the plain column is removed. Audit events that quoted a digest
cannot be rewritten (the log is append-only): docs/threat-model.md says so.

Last, on PostgreSQL, a clean image's file is fixed in the database itself: an UPDATE that changes the
columns that make the clean file what it is (its blob, its sealed digest and token, its type, what was
removed, its size and dimensions, a video's poster, its state) is refused, whoever sends it. The worker
may write those columns while it cleans, and it holds the file keys: without this it could write a new
file, seal a matching digest, and the evidence export (intake.evidence) would sign the swapped file as
unaltered since intake. What is worked out later (the preview, the perceptual hash, a video's viewing
copy, and giving that copy up) is still written on a clean image. It comes after the digests are sealed,
which update clean rows.
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


# What makes a clean file what it is. ``IS DISTINCT FROM`` so that a NULL changed to a value, or back,
# counts as a change.
FIXED_ONCE_CLEAN = (
    "state",
    "clean_blob",
    "sealed_sha256",
    "sha256_token",
    "media_type",
    "removed",
    "size",
    "width",
    "height",
    "duration_ms",
    "poster_blob",
)
# What the worker works out once (intake.likeness): its preview and perceptual hash, once recorded, and
# the bands of that hash, added only while the image is not yet described. Otherwise a worker taken over
# later could invent likenesses between witnesses, or hide real ones.
FIX = """
CREATE FUNCTION intake_image_clean_fixed() RETURNS trigger AS $$
BEGIN
    IF OLD.state <> 'pending' AND ({changed}) THEN
        RAISE EXCEPTION 'a clean image''s file cannot be changed (nor a refused image made clean)';
    END IF;
    IF (OLD.preview_blob <> '' AND NEW.preview_blob IS DISTINCT FROM OLD.preview_blob)
        OR (OLD.sealed_likeness IS NOT NULL AND NEW.sealed_likeness IS DISTINCT FROM OLD.sealed_likeness)
        OR (OLD.described AND NOT NEW.described) THEN
        RAISE EXCEPTION 'a clean image''s description, once recorded, cannot be changed';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER intake_image_clean_fixed BEFORE UPDATE ON intake_image
    FOR EACH ROW EXECUTE FUNCTION intake_image_clean_fixed();
CREATE FUNCTION intake_likenessband_while_describing() RETURNS trigger AS $$
BEGIN
    IF (SELECT described FROM intake_image WHERE id = NEW.image_id) THEN
        RAISE EXCEPTION 'a clean image''s description, once recorded, cannot be changed';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER intake_likenessband_while_describing BEFORE INSERT OR UPDATE ON intake_likenessband
    FOR EACH ROW EXECUTE FUNCTION intake_likenessband_while_describing();
""".format(changed=" OR ".join(f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in FIXED_ONCE_CLEAN))
UNFIX = """
DROP TRIGGER intake_likenessband_while_describing ON intake_likenessband;
DROP FUNCTION intake_likenessband_while_describing();
DROP TRIGGER intake_image_clean_fixed ON intake_image;
DROP FUNCTION intake_image_clean_fixed();
"""


def fix_clean_files(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FIX)


def unfix_clean_files(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(UNFIX)


class Migration(migrations.Migration):
    dependencies = [("intake", "0011_queue")]
    operations = [
        migrations.RunPython(seal_digests, open_digests),
        migrations.RemoveField(model_name="image", name="sha256"),
        migrations.RunPython(fix_clean_files, unfix_clean_files),
    ]
