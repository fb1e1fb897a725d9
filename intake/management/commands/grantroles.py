"""Give the web and the worker PostgreSQL roles of their own, with no more rights than they need.

Run by the role that owns the tables (the one that runs ``migrate``), after every migration:

    manage.py grantroles --web intake_web --worker intake_worker

- The web role reads and writes the service's tables, but may only read and add to the audit log. It
  owns nothing, so it cannot drop the audit log's trigger, truncate the table or rewrite a row.
- The worker role reads image rows and updates what cleaning records in them, adds the keyed bands of
  photos' perceptual hashes, and removes expired sent forms, and nothing else: the process that parses
  hostile files cannot read a testimony, a note, a receipt digest, a sent form's sealed receipt or the
  audit log, nor move an image to another submission.

Passwords come from ``INTAKE_WEB_DB_PASSWORD`` and ``INTAKE_WORKER_DB_PASSWORD`` when set (or their
``_FILE`` forms); a role that already exists keeps its other settings.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Field
from psycopg import sql

from config.env import env_secret
from intake.models import AuditEvent, Image, LikenessBand, SentForm

WORKER_WRITES = (
    "state",
    "original_blob",
    "clean_blob",
    "media_type",
    "sealed_sha256",
    "sha256_token",
    "removed",
    "refusal",
    "refusal_params",
    "attempts",
    "width",
    "height",
    "duration_ms",
    "size",
    "poster_blob",
    "viewing_blob",
    "viewing_media_type",
    "viewing_size",
    "preview_blob",
    "described",
    "sealed_likeness",
)


class Command(BaseCommand):
    help = "Create or update the web's and the worker's PostgreSQL roles and grant each only what it needs."

    def add_arguments(self, parser):
        parser.add_argument("--web", required=True, metavar="ROLE", help="role the web process connects as")
        parser.add_argument("--worker", required=True, metavar="ROLE", help="role the worker connects as")

    def handle(self, *args, web, worker, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Roles are a PostgreSQL feature; this database is " + connection.vendor)
        with transaction.atomic(), connection.cursor() as cursor:
            for role, password in ((web, "INTAKE_WEB_DB_PASSWORD"), (worker, "INTAKE_WORKER_DB_PASSWORD")):
                self._ensure_role(cursor, role, env_secret(password))
            tables = connection.introspection.table_names(cursor)
            self._grant_web(cursor, sql.Identifier(web), tables)
            self._grant_worker(cursor, sql.Identifier(worker), tables)
        self.stdout.write(f"Granted {web} the web's rights and {worker} the worker's.")

    def _ensure_role(self, cursor, role: str, password: str) -> None:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        statement = sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(
            sql.Identifier(role)
        )
        if password:
            statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
        cursor.execute(statement)
        database = sql.Identifier(connection.settings_dict["NAME"])
        cursor.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, sql.Identifier(role)))
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))

    def _grant_web(self, cursor, role, tables) -> None:
        narrower = {AuditEvent._meta.db_table: "SELECT, INSERT", "django_migrations": "SELECT"}
        for table in tables:
            name = sql.Identifier(table)
            rights = sql.SQL(narrower.get(table, "SELECT, INSERT, UPDATE, DELETE"))
            cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(name, role))
            cursor.execute(sql.SQL("GRANT {} ON {} TO {}").format(rights, name, role))
        cursor.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))

    def _grant_worker(self, cursor, role, tables) -> None:
        image = sql.Identifier(Image._meta.db_table)
        for table in tables:
            cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), role))
        cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(image, role))
        # What cleaning records, and nothing that places an image: it cannot move one to another submission.
        columns = []
        for name in WORKER_WRITES:
            field = Image._meta.get_field(name)
            if not isinstance(field, Field) or field.column is None:
                raise CommandError(f"Image.{name} is not a column of the image table")
            columns.append(sql.Identifier(field.column))
        cursor.execute(sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(sql.SQL(", ").join(columns), image, role))
        # The keyed bands of a photo's perceptual hash (intake.likeness): it adds them, and reads back only
        # the ids it is given; the bands of other photos are none of its business.
        band = sql.Identifier(LikenessBand._meta.db_table)
        cursor.execute(sql.SQL("GRANT SELECT (id), INSERT (id, image_id, token) ON {} TO {}").format(band, role))
        # Its sweep removes the sent forms whose day has passed (intake.sent_forms.sweep): it sees their
        # days, never their digests or what they keep sealed.
        sent_form = sql.Identifier(SentForm._meta.db_table)
        cursor.execute(sql.SQL("GRANT SELECT (expires_at), DELETE ON {} TO {}").format(sent_form, role))
