"""The service's settings with a throw-away data folder, fresh keys and cheap hashing."""

import os
import tempfile
from pathlib import Path

os.environ["INTAKE_DATA_DIR"] = tempfile.mkdtemp(prefix="intake-test-")
os.environ["INTAKE_ENV_FILE"] = ""  # a developer's .env is not read, here or by the processes tests start
_OUTSIDE = ("INTAKE_BLOB_DIR", "INTAKE_BROKER_DIR", "INTAKE_KEYS", "INTAKE_KEYS_FILE", "SECRET_KEY", "SECRET_KEY_FILE")
for variable in _OUTSIDE:
    os.environ.pop(variable, None)

from config.settings import *  # noqa: E402,F403
from config.settings import DATA_DIR  # noqa: E402
from intake.crypto import new_keys_document, worker_keys_document  # noqa: E402

SECRET_KEY = "tests-only-" + "x" * 50
INTAKE_KEYS = new_keys_document()
# The keys as a file too, for the worker processes that some tests start.
INTAKE_KEYS_FILE = Path(DATA_DIR) / "keys" / "intake-keys.json"
INTAKE_KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
INTAKE_KEYS_FILE.write_text(INTAKE_KEYS)
# The worker processes get only their share of the keys, as in production.
INTAKE_WORKER_KEYS_FILE = INTAKE_KEYS_FILE.with_name("worker-keys.json")
INTAKE_WORKER_KEYS_FILE.write_text(worker_keys_document(INTAKE_KEYS))

INTAKE_RECEIPT_SCRYPT_N = 16
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = Path(DATA_DIR) / "static"
STATIC_ROOT.mkdir(exist_ok=True)
