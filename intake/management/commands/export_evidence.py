"""Export submissions as signed evidence packages (intake.evidence, docs/evidence.md), one folder each.

``manage.py export_evidence REF... --out DIR --by USERNAME``: REF is a submission's reference (its
8 characters, any case) or its full id. The audit log names a person for every export, so USERNAME
must be an active account holding the Reviewer and Exporter roles.
"""

import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from intake import access, evidence
from intake.models import Submission


def find_submission(reference: str) -> Submission:
    """The submission a reference or a full id names, among those reviewers may read."""
    ready = Submission.objects.ready_for_review()
    text = reference.strip()
    try:
        return ready.get(pk=uuid.UUID(text))
    except ValueError:
        pass
    except Submission.DoesNotExist:
        raise CommandError(f"No submission ready for review has the id {text}.") from None
    if len(text) != 8 or any(c not in "0123456789abcdef" for c in text.lower()):
        raise CommandError(f"{text!r} is neither a reference (8 characters, such as 3F2A9C1B) nor a submission's id.")
    # The reference is the id's first 8 hex digits: a range of ids, found without reading every row.
    low = uuid.UUID(text.lower() + "0" * 24)
    high = uuid.UUID(text.lower() + "f" * 24)
    found = list(ready.filter(pk__gte=low, pk__lte=high)[:2])
    if not found:
        raise CommandError(f"No submission ready for review has the reference {text.upper()}.")
    if len(found) > 1:
        raise CommandError(f"Several submissions have the reference {text.upper()}: give the full id.")
    return found[0]


class Command(BaseCommand):
    help = (
        "Export submissions as signed evidence packages: a folder per submission in --out, with the account, "
        "the conversation, the clean files and a signed manifest. Audited in the name of --by."
    )

    def add_arguments(self, parser):
        parser.add_argument("references", nargs="+", metavar="REF", help="a reference (8 characters) or a full id")
        parser.add_argument("--out", required=True, type=Path, help="the folder to write the packages into")
        parser.add_argument(
            "--by", required=True, metavar="USERNAME", help="the Reviewer and Exporter in whose name this is audited"
        )
        parser.add_argument(
            "--with-notes", action="store_true", help="include the internal notes (left out by default: work product)"
        )

    def handle(self, references, out, by, with_notes, **options):
        user = get_user_model().objects.filter(username=by).first()
        if user is None or not access.holds_roles(user, access.REVIEWER, access.EXPORTER):
            raise CommandError(f"{by!r} is not an active account with the Reviewer and Exporter roles.")
        if not out.is_dir():
            raise CommandError(f"{out} is not a folder.")
        submissions = [find_submission(reference) for reference in references]
        for submission in submissions:
            try:
                path, exported = evidence.export_to_folder(submission, out, user, with_notes=with_notes)
            except evidence.ExportRefused as error:
                raise CommandError(f"{submission.reference} was not exported: {error}") from None
            self.stdout.write(f"{path}  manifest SHA-256 {exported.manifest_sha256}")
