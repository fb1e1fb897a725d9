"""Create a member of staff with one or both roles."""
import getpass

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from intake.access import ADMIN, REVIEWER


class Command(BaseCommand):
    help = "Create a staff account: --reviewer reads testimony, --admin manages accounts and reads the audit log."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reviewer", action="store_true")
        parser.add_argument("--admin", action="store_true")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    def handle(self, username, reviewer, admin, password_stdin, **options):
        if not (reviewer or admin):
            raise CommandError("Give a role: --reviewer, --admin, or both.")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"There is already an account named {username!r}.")
        password = input() if password_stdin else self._ask_password()
        user = User(username=username, is_staff=admin)
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        user.set_password(password)
        with transaction.atomic():
            user.save()
            roles = [name for name, wanted in ((REVIEWER, reviewer), (ADMIN, admin)) if wanted]
            user.groups.set(Group.objects.filter(name__in=roles))
        self.stdout.write(f"Created {username} ({', '.join(roles)}).")

    def _ask_password(self) -> str:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The passwords differ.")
        return password
