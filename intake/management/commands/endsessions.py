"""End every session of a staff account, on the server: after a lost device, or before a change that
should take effect at once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from intake.sessions import end_sessions_of


class Command(BaseCommand):
    help = "End every session of a staff account (it is logged out everywhere). Written to the audit log."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, username, **options):
        User = get_user_model()
        try:
            account = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"There is no account named {username!r}.") from None
        # Run on the server, by whoever holds it: the event names the account, and says how.
        ended = end_sessions_of(account, account, {"by": "manage.py endsessions"})
        self.stdout.write(f"Ended {ended} session(s) of {username}.")
