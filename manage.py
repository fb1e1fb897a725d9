#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

A command that needs the service's tables, run before any migration (or against another data folder
than `make run` used), stops with one line that says what to do, instead of a traceback, and without
creating an empty SQLite database on the way.
"""

import os
import sys
from pathlib import Path

# Commands that work without the service's tables, or that make them.
WITHOUT_TABLES = {
    "check",
    "clean_images",
    "collectstatic",
    "compilemessages",
    "counters",
    "diffsettings",
    "findstatic",
    "help",
    "initkeys",
    "makemessages",
    "makemigrations",
    "migrate",
    "rotatekeys",
    "sendtestemail",
    "shell",
    "squashmigrations",
    "startapp",
    "startproject",
    "test",
    "version",
    "workerkeys",
}


def missing_tables() -> str | None:
    """What to do, in one line, if the database has never been migrated; None if it has been."""
    from django.conf import settings
    from django.db import DatabaseError, connection

    database = settings.DATABASES["default"]
    if connection.vendor == "sqlite" and not Path(database["NAME"]).exists():
        where = f"{database['NAME']} does not exist"
    else:
        try:
            migrated = "django_migrations" in connection.introspection.table_names()
        except DatabaseError:
            return None  # the database's own error, which names the problem, comes with the command
        if migrated:
            return None
        where = f"{database['NAME']} has no tables"
    return (
        f"The database {where}: run `make run` or `.venv/bin/python manage.py migrate` first. If you run the "
        "service with INTAKE_DATA_DIR or DATABASE_URL set, set them here too, or put them in a .env file."
    )


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        import django
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    asks_for_help = {"-h", "--help"} & set(sys.argv)
    if command not in WITHOUT_TABLES and not command.startswith("-") and not asks_for_help:
        django.setup()
        problem = missing_tables()
        if problem:
            sys.exit(problem)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
