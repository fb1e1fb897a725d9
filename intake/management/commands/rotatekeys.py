"""Rotate the encryption keys in two steps, so that web and worker never disagree on a key.

    manage.py rotatekeys add     < keys.json > step1.json   # deploy to every process, then
    manage.py rotatekeys promote < step1.json > step2.json  # deploy to every process

``rotatekeys upgrade`` adds a key for each purpose that a document written by an older version lacks.

Old keys stay in the document, so everything stored keeps decrypting. After each step, derive the
worker's document from the new one with ``manage.py workerkeys``.
"""

import sys

from django.core.management.base import BaseCommand

from intake import crypto

STEPS = {"add": crypto.keys_document_with_new_keys, "promote": crypto.keys_document_promoting_newest}
UPGRADE = "upgrade"


class Command(BaseCommand):
    help = (
        "Read a keys document on standard input and print the next step of a rotation: 'add' a new key "
        "to each keyset (deploy it everywhere), then 'promote' it to encrypt new data (deploy it everywhere)."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("step", choices=sorted([*STEPS, UPGRADE]))

    def handle(self, *args, step, **options):
        document = sys.stdin.read()
        if step == UPGRADE:  # a document from an older version: a key for each purpose it lacks
            upgraded, added = crypto.keys_document_upgraded(document)
            crypto.load_keys(upgraded)
            self.stderr.write(f"Added keys for: {', '.join(added) or 'nothing (none was missing)'}.")
            self.stdout.write(upgraded)
            return
        crypto.load_keys(document).fields  # noqa: B018 - refuses anything but a full keys document
        result = STEPS[step](document)
        crypto.load_keys(result)
        self.stdout.write(result)
