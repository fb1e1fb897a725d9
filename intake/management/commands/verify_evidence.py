"""Verify an evidence package: ``manage.py verify_evidence PACKAGE --public-key KEY``.

The same check as ``python intake/evidence_verify.py``, which a recipient runs without the service.
Without --public-key, this service's own key is used.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake import evidence, evidence_verify


class Command(BaseCommand):
    help = "Verify an evidence package (a folder or a ZIP): its signature, and every file's size and SHA-256."

    def add_arguments(self, parser):
        parser.add_argument("package", type=Path)
        parser.add_argument(
            "--public-key",
            help="the public key (base64 or hex, Tink's JSON, or a file holding it); this service's own if left out",
        )

    def handle(self, package, public_key, **options):
        key = public_key or evidence.public_key_text()
        status = evidence_verify.run(package, key, self.stdout)
        if status:
            raise CommandError("The package is not valid.", returncode=status)
