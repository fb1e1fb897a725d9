"""Write the files a fresh installation needs: SECRET_KEY, the encryption keys and the worker's share of
them. Never overwrites a key; adds the purposes that keys written by an older version lack."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
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

    def handle(self, *args, **options):
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
        if in_var:
            self._upgrade(folder)

    def _upgrade(self, folder: Path) -> None:
        """Keys written by an older version lack the purposes added since: `make run` adds them, keeping
        every key already there. (Keys given in the environment are upgraded with ``rotatekeys upgrade``.)"""
        path = folder / "intake-keys.json"
        upgraded, added = crypto.keys_document_upgraded(path.read_text())
        if not added:
            return
        crypto.load_keys(upgraded)
        worker = crypto.worker_keys_document(upgraded)
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
