"""Print the worker's keys document: the file and matching keys only, derived from the full keys document."""

import sys

from django.core.management.base import BaseCommand

from intake import crypto


class Command(BaseCommand):
    help = (
        "Read the full keys document on standard input and print the worker's: the keys for files, "
        "none for text fields or receipts. Run it again after each rotation step."
    )
    requires_system_checks: list = []

    def handle(self, *args, **options):
        document = sys.stdin.read()
        crypto.load_keys(document).fields  # noqa: B018 - refuses anything but a full keys document
        self.stdout.write(crypto.worker_keys_document(document))
