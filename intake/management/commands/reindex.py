"""Rebuild the blind index of words (intake.search) from the stored text.

Run it after the index key changes (a new keys document, or an older one given the index purpose by
``rotatekeys upgrade``, or by ``initkeys`` for keys in ``var/keys``) and after restoring a database
without its index: tokens made under another key match nothing. Each submission is rebuilt in a
transaction of its own, so searches and new submissions go on meanwhile; a submission not yet rebuilt
is found by no search until it is.
"""

from django.core.management.base import BaseCommand

from intake import search
from intake.models import Submission


class Command(BaseCommand):
    help = "Index every submission's words again under the current index key (after a key change or a restore)."

    def handle(self, *args, **options):
        done = 0
        for submission in Submission.objects.order_by("pk").iterator(chunk_size=200):
            search.index_submission(submission)
            done += 1
        self.stdout.write(f"Indexed the words of {done} submission{'s' if done != 1 else ''}.")
