"""Reset a member's second factors and print a new setup link (a superuser's task, on the server).

Every factor goes (authenticator apps, passkeys, recovery codes), the password becomes unusable, every
session of the account ends, and the owner chooses a new password and enrols again on the link. It
is also how an account made before two factors existed moves over. Audited.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from intake import setup_links
from intake.management.commands.createstaff import write_link


class Command(BaseCommand):
    help = "Remove every second factor of an account, end its sessions, and print a new setup link for its owner."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, username, **options):
        User = get_user_model()
        account = User.objects.filter(username=username).first()
        if account is None:
            raise CommandError(f"There is no account named {username!r}.")
        token = setup_links.start_over(None, account)
        self.stdout.write(f"Reset the factors of {username} and ended their sessions.")
        write_link(self.stdout, username, token)
