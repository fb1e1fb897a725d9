"""On PostgreSQL the audit log refuses UPDATE and DELETE in the database itself.

TRUNCATE (which only `manage.py flush` issues, wiping everything) is left to database privileges: see
docs/deployment.md."""
from django.db import migrations

FORBID = """
CREATE FUNCTION intake_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER intake_audit_no_update_delete BEFORE UPDATE OR DELETE ON intake_auditevent
    FOR EACH ROW EXECUTE FUNCTION intake_audit_append_only();
"""
ALLOW = """
DROP TRIGGER intake_audit_no_update_delete ON intake_auditevent;
DROP FUNCTION intake_audit_append_only();
"""


def forbid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID)


def allow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW)


class Migration(migrations.Migration):
    dependencies = [("intake", "0002_roles")]
    operations = [migrations.RunPython(forbid, allow)]
