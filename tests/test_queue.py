"""The review queue at volume: its order, filters that survive every way back, assignment, tags, bulk
changes audited per submission, and paging whose cost does not grow with the queue."""

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from intake import actions, sent_forms
from intake.models import AuditEvent, Submission, Tag
from tests.conftest import _user, log_in

QUEUE = reverse("review:queue")
BULK = reverse("review:bulk")
DAY = datetime.date(2026, 5, 1)


def make(number: int, days_ago: int = 0, **fields) -> Submission:
    fields.setdefault("account", "x")
    return Submission.objects.create(
        receipt_digest=f"{number:064d}", received_on=DAY - datetime.timedelta(days=days_ago), **fields
    )


def page_of(client, query="") -> str:
    response = client.get(QUEUE + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return response.content.decode()


def references(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="[^"]*">([0-9A-F]{8})</a>', page)


def next_query(page: str) -> str | None:
    found = re.search(r'href="\?([^"]*)" rel="next"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def row(page: str, submission) -> str:
    return re.search(rf"<tr>(?:(?!</tr>).)*{submission.reference}.*?</tr>", page, re.S).group(0)


def witness_replies(submission) -> None:
    actions.reply_as_witness(submission, text="More.", uploads=[], form_token=sent_forms.new_token())


# --- Order -----------------------------------------------------------------------------------------


def test_new_to_the_reviewer_comes_first_then_replies_then_the_rest_by_day(reviewer_client, reviewer):
    opened_old, opened_recent = make(1, days_ago=5), make(2, days_ago=1)
    replied = make(3, days_ago=9)
    never_opened = make(4, days_ago=7)
    for submission in (opened_old, opened_recent, replied):
        actions.mark_read(reviewer, submission)
    witness_replies(replied)

    page = page_of(reviewer_client)
    # Never opened and replied are both new to this reviewer, by day; then what they have seen, by day.
    assert references(page) == [s.reference for s in (never_opened, replied, opened_recent, opened_old)]
    assert "New reply" in row(page, replied) and "New reply" not in row(page, never_opened)
    assert re.search(r'class="unread">Unread<', row(page, never_opened))
    assert 'class="unread"' not in row(page, opened_old)


def test_paging_by_cursor_reaches_every_submission_exactly_once_both_ways(reviewer_client, reviewer):
    made = [make(number, days_ago=number % 7) for number in range(60)]
    for submission in made[::3]:
        actions.mark_read(reviewer, submission)  # a part of each page seen, to cross from one part to the other
    seen, query, pages = [], "", []
    while query is not None:
        page = page_of(reviewer_client, query)
        pages.append(references(page))
        seen += pages[-1]
        query = next_query(page)
    assert len(seen) == 60 and set(seen) == {s.reference for s in made}
    assert [len(p) for p in pages] == [25, 25, 10]
    # And back: the previous page of the last is the second.
    last = page_of(reviewer_client, next_query(page_of(reviewer_client, next_query(page_of(reviewer_client)))))
    previous = re.search(r'href="\?([^"]*)" rel="prev"', last).group(1).replace("&amp;", "&")
    assert references(page_of(reviewer_client, previous)) == pages[1]


def test_the_search_box_says_how_many_words_it_uses(reviewer_client):
    from intake import search

    page = page_of(reviewer_client)
    assert 'aria-describedby="q-help"' in page
    assert f"the first {search.MAX_QUERY_WORDS} words are used" in page


def test_a_place_that_is_no_place_gives_the_first_page(reviewer_client):
    made = make(1)
    for query in (
        "before=0.20231399.0123456789abcdef0123456789abcdef",
        "after=1.20230230.0123456789abcdef0123456789abcdef",
    ):
        assert references(page_of(reviewer_client, query)) == [made.reference]


def test_a_filter_refused_leaves_the_others_applied(reviewer_client):
    rejected, _open = make(1, status=Submission.Status.REJECTED), make(2)
    page = page_of(reviewer_client, "status=rejected&tag=999999")
    assert references(page) == [rejected.reference]


def test_the_filters_show_open_only_while_one_is_set(reviewer_client):
    make(1)
    assert '<details class="filters">' in page_of(reviewer_client)
    assert '<details class="filters" open>' in page_of(reviewer_client, "status=new")


def test_a_search_keeps_the_order_and_pages_through_both_parts(reviewer_client, reviewer):
    from intake import search

    matching = [make(number, days_ago=number % 5, account=f"Smoke over the bridge, {number}.") for number in range(30)]
    other = make(99, account="Nothing of the kind.")
    for submission in [*matching, other]:
        search.index_submission(submission)
    for submission in matching[:12] + [other]:
        actions.mark_read(reviewer, submission)
    witness_replies(matching[0])  # opened, then answered: new again

    seen, query = [], "q=BRIDGE"
    while query is not None:
        page = page_of(reviewer_client, query)
        seen += references(page)
        query = next_query(page)
    assert sorted(seen) == sorted(s.reference for s in matching)
    new_to_reviewer = {s.reference for s in [matching[0], *matching[12:]]}
    assert set(seen[: len(new_to_reviewer)]) == new_to_reviewer


def test_the_queue_costs_the_same_number_of_queries_for_5_or_30_submissions(reviewer_client, reviewer):
    tag = Tag.objects.create(name="north")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page_of(reviewer_client)
        return len(captured)

    for number in range(5):
        make(number, days_ago=number, assignee=reviewer).tags.add(tag)
    few = queries()
    for number in range(5, 30):
        make(number, days_ago=number, assignee=reviewer).tags.add(tag)
    assert queries() == few


# --- Filters and the way back ----------------------------------------------------------------------


def test_filters_and_place_survive_every_action_on_a_submission_and_the_nav_link(reviewer_client, reviewer):
    for number in range(30):
        make(number, days_ago=number)
    first = page_of(reviewer_client, "status=new")
    query = next_query(first)
    second = page_of(reviewer_client, query)
    link = re.search(r'<th scope="row"><a href="([^"]*)"', second).group(1).replace("&amp;", "&")
    submission_url, back = link.split("?")
    assert parse_qs(back)["queue"] == [query]

    page = reviewer_client.get(link).content.decode()
    assert f'href="{QUEUE}?{query.replace("&", "&amp;")}"' in page
    Tag.objects.create(name="north")
    posts = {
        "set_status": {"status": "in_review"},
        "add_note": {"text": "Seen."},
        "send_message": {"text": "Which road?"},
        "assign": {"assignee": reviewer.pk},
        "set_tags": {"tags": [Tag.objects.get().pk]},
    }
    pk = submission_url.rstrip("/").split("/")[-1]
    for name, data in posts.items():
        response = reviewer_client.post(reverse(f"review:{name}", args=[pk]), {**data, "queue": query})
        assert response.status_code == 302, name
        location = urlsplit(response["Location"])
        assert location.path == submission_url and parse_qs(location.query)["queue"] == [query], name

    # The nav's "Queue" link, from any staff page, goes back to the last queue looked at.
    account = reviewer_client.get(reverse("review:account")).content.decode()
    assert f'href="{QUEUE}?{query.replace("&", "&amp;")}">Queue</a>' in account
    # A submission page opened without ?queue= still leads back there.
    page = reviewer_client.get(submission_url).content.decode()
    assert f'href="{QUEUE}?{query.replace("&", "&amp;")}">Back to the queue' in page


def test_the_session_keeps_only_the_queues_own_parameters_and_no_searched_word_in_clear(reviewer_client):
    from intake.models import StaffSession

    page_of(reviewer_client, "status=new&evil=x&tag=&q=road")
    account = reviewer_client.get(reverse("review:account")).content.decode()
    assert f'href="{QUEUE}?status=new&amp;tag=&amp;q=road">Queue</a>' in account
    for row in StaffSession.objects.all():
        assert "road" not in row.session_data and "road" not in str(row.get_decoded())


# --- Assignment and tags ---------------------------------------------------------------------------


def test_assignment_to_a_reviewer_shows_in_the_queue_and_filters_mine(reviewer_client, reviewer):
    colleague = _user("samir", "Reviewer")
    mine, theirs, nobodys = make(1), make(2), make(3)
    reviewer_client.post(reverse("review:assign", args=[mine.pk]), {"assignee": reviewer.pk})
    reviewer_client.post(reverse("review:assign", args=[theirs.pk]), {"assignee": colleague.pk})
    assert AuditEvent.objects.filter(action="assigned", submission_id=theirs.pk).get().detail == {"to": "samir"}

    assert "samir" in row(page_of(reviewer_client), theirs)
    assert references(page_of(reviewer_client, "assigned=me")) == [mine.reference]
    assert references(page_of(reviewer_client, "assigned=nobody")) == [nobodys.reference]

    # Assigning it again to the same one records nothing; to nobody is recorded as None.
    reviewer_client.post(reverse("review:assign", args=[mine.pk]), {"assignee": reviewer.pk})
    reviewer_client.post(reverse("review:assign", args=[mine.pk]), {"assignee": ""})
    assert [e.detail for e in AuditEvent.objects.filter(action="assigned", submission_id=mine.pk).order_by("at")] == [
        {"to": "rania"},
        {"to": None},
    ]


def test_only_an_active_reviewer_can_be_assigned(reviewer_client):
    submission = make(1)
    outsider = _user("olga")
    response = reviewer_client.post(reverse("review:assign", args=[submission.pk]), {"assignee": outsider.pk})
    assert response.status_code == 400
    submission.refresh_from_db()
    assert submission.assignee is None


def test_tags_are_set_audited_by_name_shown_and_filtered(reviewer_client):
    north, south = Tag.objects.create(name="north"), Tag.objects.create(name="south")
    tagged, other = make(1), make(2)
    set_tags = reverse("review:set_tags", args=[tagged.pk])
    reviewer_client.post(set_tags, {"tags": [north.pk, south.pk]})
    reviewer_client.post(set_tags, {"tags": [north.pk]})
    reviewer_client.post(set_tags, {"tags": [north.pk]})  # unchanged: no record
    details = [e.detail for e in AuditEvent.objects.filter(action="changed_tags").order_by("at")]
    assert details == [{"added": ["north", "south"], "removed": []}, {"added": [], "removed": ["south"]}]

    assert "north" in row(page_of(reviewer_client), tagged)
    assert references(page_of(reviewer_client, f"tag={north.pk}")) == [tagged.reference]
    assert other.reference not in page_of(reviewer_client, f"tag={south.pk}")


# --- Bulk ------------------------------------------------------------------------------------------


def test_bulk_changes_write_one_event_per_submission_changed_and_none_for_the_unchanged(reviewer_client, reviewer):
    north = Tag.objects.create(name="north")
    already = make(1, status="in_review", assignee=reviewer)
    already.tags.add(north)
    fresh = [make(2), make(3)]
    gone = "00000000-0000-0000-0000-000000000000"
    ids = [str(already.pk), *(str(s.pk) for s in fresh), gone]
    query = "status=&assigned=me"

    response = reviewer_client.post(
        BULK, {"ids": ids, "status": "in_review", "assignee": reviewer.pk, "add_tag": north.pk, "queue": query}
    )
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?{query}"
    assert "2 submissions changed." in reviewer_client.get(response["Location"]).content.decode()
    for action in ("changed_status", "assigned", "changed_tags"):
        events = AuditEvent.objects.filter(action=action)
        assert sorted(e.submission_id for e in events) == sorted(s.pk for s in fresh), action
    assert AuditEvent.objects.filter(action="changed_status").first().detail == {"from": "new", "to": "in_review"}
    assert AuditEvent.objects.filter(action="changed_tags").first().detail == {"added": ["north"], "removed": []}

    response = reviewer_client.post(BULK, {"ids": [str(already.pk)], "remove_tag": north.pk, "assignee": "nobody"})
    assert AuditEvent.objects.filter(submission_id=already.pk).count() == 2
    already.refresh_from_db()
    assert already.assignee is None and not already.tags.exists()


def test_bulk_leaves_submissions_not_ready_for_review_alone(reviewer_client):
    from intake.models import Image

    waiting = make(1)
    Image.objects.create(submission=waiting, position=0, original_blob="x")  # still being cleaned
    reviewer_client.post(BULK, {"ids": [str(waiting.pk)], "status": "verified"})
    waiting.refresh_from_db()
    assert waiting.status == "new" and not AuditEvent.objects.filter(submission_id=waiting.pk).exists()


@pytest.mark.parametrize("who", ["admin_user", "superuser", "outsider"])
def test_only_reviewers_can_use_bulk(db, client, who, request):
    submission = make(1)
    log_in(client, request.getfixturevalue(who))
    response = client.post(BULK, {"ids": [str(submission.pk)], "status": "archived"})
    assert response.status_code in (403, 404)
    submission.refresh_from_db()
    assert submission.status == "new" and not AuditEvent.objects.filter(submission_id=submission.pk).exists()


def test_a_bulk_form_with_nothing_to_change_changes_nothing(reviewer_client):
    submission = make(1)
    response = reviewer_client.post(BULK, {"ids": [str(submission.pk)]}, follow=True)
    assert "Choose what to change." in response.content.decode()
    assert not AuditEvent.objects.filter(submission_id=submission.pk).exists()


# --- The submission page ---------------------------------------------------------------------------


def test_the_triage_panel_comes_right_after_the_heading(reviewer_client):
    submission = make(1)
    page = reviewer_client.get(reverse("review:submission", args=[submission.pk])).content.decode()
    places = [page.index(mark) for mark in ("<h1>", 'id="triage"', 'id="status"', 'id="assignee"', 'id="testimony"')]
    assert places == sorted(places)
    assert 'src="/static/intake/review.js"' in page or "intake/review" in page


def test_admins_define_the_tags_in_the_admin(client, admin_user):
    log_in(client, admin_user)
    response = client.post(reverse("admin:intake_tag_add"), {"name": "Market square"})
    assert response.status_code == 302
    assert Tag.objects.filter(name="Market square").exists()
