"""Create a member of staff and print the one-time setup link on which they choose their own password
and enrol a second factor. Nobody else ever knows either."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from intake import factors, setup_links
from intake.access import ADMIN, EXPORTER, REVIEWER
from intake.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Create a staff account and print its setup link: --reviewer reads testimony, --exporter (with "
        "--reviewer) also exports it as signed evidence packages, --admin manages accounts and reads the audit "
        "log, --superuser (the first operator) may do anything, including giving the Reviewer and Exporter "
        "roles and resetting factors."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reviewer", action="store_true")
        parser.add_argument(
            "--exporter", action="store_true", help="export submissions as evidence; needs --reviewer as well"
        )
        parser.add_argument("--admin", action="store_true")
        parser.add_argument("--superuser", action="store_true")

    def handle(self, username, reviewer, exporter, admin, superuser, **options):
        if not (reviewer or exporter or admin or superuser):
            raise CommandError("Give a role: --reviewer, --exporter, --admin, --superuser, or several.")
        if exporter and not reviewer:
            # The Exporter role alone opens nothing (intake.access.is_exporter): refused rather than
            # making an account that looks able to export and is not.
            raise CommandError(
                "--exporter needs --reviewer: an Exporter who is not a Reviewer reads nothing, so exports nothing."
            )
        User = get_user_model()
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(
                f"There is already an account named {username!r}. "
                "To send its owner through setup again, a superuser runs: manage.py resetfactors NAME"
            )
        user = User(username=username, is_staff=admin or superuser, is_superuser=superuser)
        user.set_unusable_password()
        try:
            user.full_clean(validate_unique=False)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        roles = [name for name, wanted in ((REVIEWER, reviewer), (ADMIN, admin), (EXPORTER, exporter)) if wanted]
        with transaction.atomic():
            user.save()
            user.groups.set(Group.objects.filter(name__in=roles))
            factors.audit(None, AuditEvent.Action.CREATED_ACCOUNT, user, {"roles": roles, "superuser": superuser})
            token = setup_links.issue(None, user)
        described = ", ".join(roles + (["superuser"] if superuser else []))
        self.stdout.write(f"Created {username} ({described}).")
        write_link(self.stdout, username, token)


def write_link(out, username: str, token: str) -> None:
    out.write(
        f"Give {username} this setup link, and nobody else. It works once, within "
        f"{settings.INTAKE_SETUP_LINK_HOURS} hours:\n\n    {settings.INTAKE_STAFF_URL}{setup_links.path(token)}\n"
    )
