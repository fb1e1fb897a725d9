"""Add a new primary key to each keyset. Old keys stay, so everything stored keeps decrypting."""
import sys

from django.core.management.base import BaseCommand

from intake import crypto


class Command(BaseCommand):
    help = (
        "Read a keys document on standard input and print it with a new primary key in each keyset. "
        "Deploy the result everywhere, then new data is encrypted under the new keys."
    )
    requires_system_checks: list = []

    def handle(self, *args, **options):
        document = sys.stdin.read()
        crypto.load_keys(document)  # refuse to rotate something that is not a keys document
        self.stdout.write(crypto.rotated_keys_document(document))
