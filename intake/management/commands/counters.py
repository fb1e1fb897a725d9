"""Print the per-day counts of refused requests (intake.counters): how an operator sees a flood."""

from django.core.management.base import BaseCommand

from intake import counters


class Command(BaseCommand):
    help = (
        "Print how many requests were refused each day, by kind: bodies too large, too slow or cut off, "
        "busy pages, CSRF failures, unknown host names, pages not found. Nothing else about them is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="How many days back, today included (default 7).")

    def handle(self, *args, days, **options):
        by_day = counters.counts(max(1, min(days, counters.KEEP_DAYS)))
        width = max(len(kind) for kind in counters.KINDS)
        self.stdout.write(" ".join([" " * width, *(day.isoformat() for day in by_day)]))
        for kind, meaning in counters.KINDS.items():
            cells = " ".join(f"{by_day[day][kind]:>10}" for day in by_day)
            self.stdout.write(f"{kind:<{width}} {cells}  {meaning}")
