"""Write the files a fresh installation needs: SECRET_KEY, the encryption keys and the worker's share of
them. Never overwrites a key; ``--upgrade`` adds the purposes an older keys document lacks."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.management.utils import get_random_secret_key

from intake import crypto


class Command(BaseCommand):
    help = (
        "Create var/keys/secret_key, var/keys/intake-keys.json and var/keys/worker-keys.json if they do not exist yet."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--print",
            action="store_true",
            help="print new SECRET_KEY, INTAKE_KEYS and INTAKE_WORKER_KEYS lines for a .env file instead",
        )
        parser.add_argument(
            "--upgrade",
            action="store_true",
            help=(
                "add a key for each purpose the keys document lacks (keeping every key it has): in "
                "var/keys, or, with --print, print the upgraded INTAKE_KEYS and INTAKE_WORKER_KEYS"
            ),
        )

    def handle(self, *args, **options):
        if options["upgrade"]:
            self._upgrade(options["print"])
            return
        if options["print"]:
            keys = crypto.new_keys_document()
            self.stdout.write(
                f"SECRET_KEY='{get_random_secret_key()}'\n"
                f"INTAKE_KEYS='{_one_line(keys)}'\n"
                f"INTAKE_WORKER_KEYS='{_one_line(crypto.worker_keys_document(keys))}'"
            )
            return
        folder = Path(settings.DATA_DIR) / "keys"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._create(folder / "secret_key", get_random_secret_key)
        keys = folder / "intake-keys.json"
        self._create(keys, crypto.new_keys_document)
        # The worker's share of the keys the web will use: INTAKE_KEYS if it is set, else the file.
        full = settings.INTAKE_KEYS or keys.read_text()
        self._create(folder / "worker-keys.json", lambda: crypto.worker_keys_document(full))
        in_var = not {"INTAKE_KEYS", "INTAKE_KEYS_FILE"} & set(os.environ)
        if in_var and crypto.keys_document_upgraded(keys.read_text())[1]:
            self._upgrade(print_them=False)  # a laptop's keys from an older version: `make run` upgrades them

    def _upgrade(self, print_them: bool) -> None:
        folder = Path(settings.DATA_DIR) / "keys"
        path = folder / "intake-keys.json"
        document = settings.INTAKE_KEYS if print_them else path.read_text()
        if not document:
            raise CommandError("No keys document to upgrade: set INTAKE_KEYS, or run initkeys first.")
        upgraded, added = crypto.keys_document_upgraded(document)
        crypto.load_keys(upgraded)
        worker = crypto.worker_keys_document(upgraded)
        if print_them:
            self.stdout.write(f"INTAKE_KEYS='{_one_line(upgraded)}'\nINTAKE_WORKER_KEYS='{_one_line(worker)}'")
            return
        if not added:
            self.stdout.write(f"{path} holds a key for every purpose; left as it is.")
            return
        for target, text in ((path, upgraded), (folder / "worker-keys.json", worker)):
            partial = target.with_suffix(".new")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
            os.replace(partial, target)
        self.stdout.write(f"Added keys for {', '.join(added)} to {path}, and derived the worker's again.")

    def _create(self, path: Path, make) -> None:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self.stdout.write(f"{path} exists; left as it is.")
            return
        with os.fdopen(descriptor, "w") as file:
            file.write(make())
        self.stdout.write(f"Created {path}. Back it up somewhere safe: without it the data cannot be read.")


def _one_line(document: str) -> str:
    return json.dumps(json.loads(document), separators=(",", ":"))
