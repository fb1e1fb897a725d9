"""Print the public key that evidence packages are signed with, to publish (docs/evidence.md).

The raw Ed25519 key in base64, its SHA-256 fingerprint, and the public keyset as Tink's JSON. Neither
holds a secret.
"""

from django.core.management.base import BaseCommand

from intake import crypto, evidence


class Command(BaseCommand):
    help = "Print the public key that evidence packages are signed with: raw (base64), its fingerprint, Tink JSON."

    def add_arguments(self, parser):
        parser.add_argument("--raw", action="store_true", help="print the raw key in base64 only")

    def handle(self, raw, **options):
        if raw:
            self.stdout.write(evidence.public_key_text())
            return
        self.stdout.write(f"Ed25519 public key (base64): {evidence.public_key_text()}")
        self.stdout.write(f"Fingerprint (SHA-256 of the key): {evidence.public_key_fingerprint()}")
        self.stdout.write("Tink public keyset (JSON):")
        self.stdout.write(crypto.public_signing_keyset())
