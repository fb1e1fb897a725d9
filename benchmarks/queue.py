"""How the reviewer's pages hold up as submissions grow, on PostgreSQL.

    .venv/bin/python benchmarks/queue.py [--sizes 1000,10000,100000] [--rounds 40]
        [--server postgres://postgres@127.0.0.1:5432] [--keep]

Creates a database of its own (``bench_queue``, dropped first if it is there, and dropped at the end),
migrates it and seeds it through the real models (``bulk_create``, which encrypts as ``save`` does):
submissions over a year of days, most open, some assigned and tagged, two clean photos each, a reviewer
who has opened a few of them and witnesses who replied to some, and a word in the blind index of one in a
hundred. At each size it measures, in this process through Django's test client as a logged-in reviewer,
the 50th and 95th percentiles of:

- the queue; its second page and its last page (reached by their cursors);
- the queue filtered by a status, by a tag, by "assigned to me", and by a word (intake.search);
- a submission's page;
- a trivial staff page (the reviewer's account), the baseline: each figure is also given as a ratio to it;

and how many queries each page makes. Not a test: it takes a few minutes, and its numbers depend on the
machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on the path, where its name would hide the standard
# library's queue module (which the database driver needs).
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import argparse  # noqa: E402
import datetime  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

ROOT = HERE.parent
DATABASE = "bench_queue"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards, for EXPLAIN ANALYZE")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]

    create_database(arguments.server)
    os.environ["DATABASE_URL"] = f"{arguments.server}/{DATABASE}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"  # fresh keys in a throw-away folder, cheap hashing
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        run(sizes, arguments.rounds)
    finally:
        from django.db import connections

        connections.close_all()
        if not arguments.keep:
            drop_database(arguments.server)


def _admin_connection(server: str):
    import psycopg

    connection = psycopg.connect(f"{server}/postgres", autocommit=True)
    return connection


def create_database(server: str) -> None:
    with _admin_connection(server) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def drop_database(server: str) -> None:
    with _admin_connection(server) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


def run(sizes: list[int], rounds: int) -> None:
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    reviewer, tags = seed_people()
    client = Client()
    from tests.conftest import log_in

    log_in(client, reviewer)
    have = 0
    table = []
    for size in sizes:
        started = time.perf_counter()
        seed(have, size, reviewer, tags)
        have = size
        print(f"seeded {size} submissions in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        table.append((size, measure(client, reviewer, tags, rounds)))
    print_table(table)


def seed_people():
    from django.contrib.auth.models import Group, User

    from intake.models import Tag

    reviewers = Group.objects.get(name="Reviewer")
    people = [User.objects.create_user(name, password="bench") for name in ("rania", "samir")]
    for person in people:
        person.groups.add(reviewers)
    tags = [Tag.objects.create(name=name) for name in ("north road", "market", "Arabic", "school", "bridge")]
    return people[0], tags


STATUSES = ["new"] * 40 + ["in_review"] * 20 + ["needs_follow_up"] * 8 + ["verified"] * 4 + ["rejected"] * 8
STATUSES += ["archived"] * 20


def seed(start: int, end: int, reviewer, tags) -> None:
    from django.db import connection

    from intake import search
    from intake.models import Image, IndexedWord, Reading, Submission

    rng = random.Random(start)
    today = datetime.date(2026, 6, 1)
    words = search.tokens_of("north road")
    for batch_start in range(start, end, 2000):
        batch_end = min(batch_start + 2000, end)
        submissions = [
            Submission(
                receipt_digest=f"{number:064x}",
                account=f"Testimony {number}: what I saw from the north road.",
                happened_where="Market square",
                status=rng.choice(STATUSES),
                received_on=today - datetime.timedelta(days=rng.randrange(365)),
                witness_updates=1 if rng.random() < 0.02 else 0,
                assignee=reviewer if rng.random() < 0.1 else None,
            )
            for number in range(batch_start, batch_end)
        ]
        Submission.objects.bulk_create(submissions)
        Image.objects.bulk_create(
            Image(
                submission=submission,
                position=position,
                state=Image.State.CLEAN,
                clean_blob=f"{submission.pk.hex}{position}",
                media_type="image/jpeg",
                width=4032,
                height=3024,
                size=4_000_000,
            )
            for submission in submissions
            for position in range(2)
        )
        Through = Submission.tags.through
        Through.objects.bulk_create(
            Through(submission=submission, tag=rng.choice(tags)) for submission in submissions if rng.random() < 0.3
        )
        Reading.objects.bulk_create(
            Reading(user=reviewer, submission=submission, seen_updates=0)
            for submission in submissions
            if rng.random() < 0.02
        )
        IndexedWord.objects.bulk_create(
            IndexedWord(submission=submission, token=token)
            for submission in submissions
            if rng.random() < 0.01
            for token in words
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def pages(client, reviewer, tags) -> dict[str, str]:
    """The pages measured, by name: their addresses at this size."""
    import re

    from django.urls import reverse

    from intake.models import Reading, Submission
    from intake.review import views

    queue = reverse("review:queue")
    first = client.get(queue).content.decode()
    second = re.search(r'href="\?([^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    # The last page: from the 26th row before the end of the queue's order.
    rows = views.QueueFilterForm().filter(views._queue_rows(reviewer), reviewer)
    seen = rows.filter(pk__in=Reading.objects.filter(user=reviewer).values("submission_id"), unread=False)
    seen = seen.order_by("received_on", "-id")
    new = rows.exclude(unread=False, opened=True).order_by("received_on", "-id")
    count_seen = seen.count()
    if count_seen > 25:
        last = views._cursor(1, seen[25])
    else:
        last = views._cursor(0, new[25 - count_seen])
    submission = Submission.objects.ready_for_review().filter(status="new").first()
    return {
        "trivial staff page": reverse("review:account"),
        "queue": queue,
        "queue, second page": f"{queue}?{second}",
        "queue, last page": f"{queue}?after={last}",
        "status filter (verified)": f"{queue}?status=verified",
        "tag filter": f"{queue}?tag={tags[1].pk}",
        "assigned to me": f"{queue}?assigned=me",
        "search (two words)": f"{queue}?q=north+road",
        "submission page": reverse("review:submission", args=[submission.pk]),
    }


def measure(client, reviewer, tags, rounds: int) -> dict[str, tuple[float, float, int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    addresses = pages(client, reviewer, tags)
    results = {}
    times: dict[str, list[float]] = {name: [] for name in addresses}
    for address in addresses.values():
        for _ in range(3):  # warm up
            assert client.get(address).status_code == 200, address
    # Round after round, each page once a round: a busy moment slows them all alike.
    for _ in range(rounds):
        for name, address in addresses.items():
            started = time.perf_counter()
            client.get(address)
            times[name].append((time.perf_counter() - started) * 1000)
    for name, address in addresses.items():
        with CaptureQueriesContext(connection) as captured:
            client.get(address)
        measured = sorted(times[name])
        p95 = measured[max(0, round(len(measured) * 0.95) - 1)]
        results[name] = (statistics.median(measured), p95, len(captured))
    return results


def print_table(table) -> None:
    print()
    print(f"{'submissions':>11}  {'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'p95 ratio':>9} {'queries':>7}")
    for size, results in table:
        baseline = results["trivial staff page"][1]
        for name, (p50, p95, queries) in results.items():
            print(f"{size:>11}  {name:<26} {p50:>8.1f} {p95:>8.1f} {p95 / baseline:>9.1f} {queries:>7}")
        print()


if __name__ == "__main__":
    main()
