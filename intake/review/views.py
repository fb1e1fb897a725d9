"""The staff side: the review queue, a submission, its cleaned images, status, notes and conversation
with the witness.

Every view needs the Reviewer role: the queue through ``access.reviewer_required``, the others through
``access.submission_for`` and, for the files (intake.review.media), ``access.clean_image_for``, which
answer 404 to anyone else. Every look at a submission is written to the audit log (intake.actions).
"""

import base64
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from intake import access, actions, crypto, likeness, search, sessions
from intake.models import AuditEvent, Image, Message, Reading, Submission
from intake.review.forms import (
    AssignForm,
    BulkForm,
    Cursor,
    MessageForm,
    NoteForm,
    QueueFilterForm,
    StatusForm,
    TagsForm,
)

PAGE_SIZE = 25
# The session's copy of the last queue address (filters and place), for the nav's "Queue" link.
LAST_QUEUE = "review_queue"
SELF = "'self'"
# Shown instead of the message form, and as the refusal of a message sent from a page left open.
CLOSED_NOTE = gettext_lazy("This testimony is closed: the witness cannot answer. Change its status to write to them.")


@require_GET
@access.reviewer_required
def queue(request):
    filters = QueueFilterForm(request.GET or None)
    direction, cursor = filters.cursor()
    rows, newer, older = _queue_page(
        filters.filter(_queue_rows(request.user), request.user),
        request.user,
        direction,
        cursor,
        searched=filters.searches(),
    )
    here = QueueFilterForm.kept_query(request.GET)
    # The nav's "Queue" link comes back here (templates/review/base.html).
    remember_queue(request, here)
    # The filters again in the paging links, without the place in the queue itself.
    kept = QueryDict(here, mutable=True)
    for name in ("after", "before"):
        kept.pop(name, None)
    # The rows link to submissions with the filters and the place, for the way back.
    back = urlencode({"queue": here}) if here else ""
    context = {
        "rows": rows,
        "newer": urlencode({"before": newer}) if newer else "",
        "older": urlencode({"after": older}) if older else "",
        "first": bool(cursor),
        "filters": filters,
        "query": kept.urlencode(),
        "here": here,
        "back": back,
        "bulk": BulkForm(),
        "max_query_words": search.MAX_QUERY_WORDS,
    }
    return render(request, "review/queue.html", context)


def _queue_rows(user):
    """The queue's rows, with what a row shows: the clean files counted, whether the witness wrote since
    ``user`` opened it (``unread``), whether ``user`` ever did (``opened``), its assignee and tags. Every
    annotation is a subquery on the row, so PostgreSQL computes them for the rows shown only."""
    clean_files = (
        Image.objects.filter(submission=OuterRef("pk"), state=Image.State.CLEAN)
        .order_by()
        .values("submission")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        Submission.objects.ready_for_review()
        .with_unread_for(user)
        .annotate(
            image_count=Coalesce(Subquery(clean_files), 0),
            opened=Exists(Reading.objects.filter(user=user, submission=OuterRef("pk"))),
        )
        .select_related("assignee")
    )


def _queue_page(submissions, user, direction: str, cursor: Cursor | None, searched: bool = False):
    """One page of the queue from ``cursor``, and the cursors of the pages before and after it (None at
    either end).

    The order is: new to the reviewer first (never opened, or written to by the witness since), then the
    rest; within each part by the day received, newest first, then by id. The day is all there is to
    sort by (no witness time finer than a day is stored), and the id makes the order total, so a page
    boundary never drops or repeats a row. Each part is read by its own query along the index on
    (received_on, id), from the cursor on ("seek" paging): no count of everything and no offset, so
    a page costs the same on the first page and the last, at any size of the queue.
    """
    # The part already seen is read from the reviewer's readings (a semi-join the planner can size), not
    # by testing every row of the queue for one. A search turns that around: its few rows, which
    # PostgreSQL cannot count ahead (the words of one testimony come together, its estimate multiplies
    # their frequencies), are each tested for a reading, instead of each being compared with every reading.
    if searched:
        reading = Reading.objects.filter(user=user, submission=OuterRef("pk")).values("pk")[:1]
        seen = submissions.annotate(reading=Subquery(reading)).filter(reading__isnull=False, unread=False)
    else:
        seen = submissions.filter(pk__in=Reading.objects.filter(user=user).values("submission_id"), unread=False)
    parts = [submissions.filter(Q(unread=True) | Q(opened=False)), seen]
    rows: list = []
    if direction == "after":
        start = cursor.part if cursor else 0
        for part in range(start, 2):
            chosen = parts[part]
            if cursor and part == cursor.part:
                chosen = chosen.filter(Q(received_on__lt=cursor.day) | Q(received_on=cursor.day, id__gt=cursor.pk))
            # Every part from the cursor's on is read, even when the page is full, so that a page costs
            # the same number of queries however many rows each part has.
            found = list(chosen.order_by("-received_on", "id")[: max(PAGE_SIZE + 1 - len(rows), 1)])
            rows += [(part, row) for row in found]
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        newer = _cursor(*rows[0]) if rows and cursor else None
        older = _cursor(*rows[-1]) if more else None
    else:
        assert cursor is not None
        for part in range(cursor.part, -1, -1):
            chosen = parts[part]
            if part == cursor.part:
                chosen = chosen.filter(Q(received_on__gt=cursor.day) | Q(received_on=cursor.day, id__lt=cursor.pk))
            # Every part from the cursor's on is read, even when the page is full, so that a page costs
            # the same number of queries however many rows each part has.
            found = list(chosen.order_by("received_on", "-id")[: max(PAGE_SIZE + 1 - len(rows), 1)])
            rows += [(part, row) for row in found]
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        newer = _cursor(*rows[0]) if more else None
        older = _cursor(*rows[-1]) if rows else None
    _prefetch_tags([row for _part, row in rows])
    return [row for _part, row in rows], newer, older


def _cursor(part: int, row) -> str:
    return str(Cursor(part, row.received_on, row.pk))


def _prefetch_tags(submissions) -> None:
    """The rows' tags in one query, however many rows."""
    prefetch_related_objects(submissions, "tags")


@require_GET
@login_required
def submission(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    return _show(request, submission)


@require_POST
@login_required
def set_status(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _show(request, submission, status_form=form, status=400)
    actions.change_status(request.user, submission, form.cleaned_data["status"])
    confirmation = _("Status set to “%(status)s”.") % {"status": submission.get_status_display()}
    return _back(request, submission, "triage", confirmation)


@require_POST
@login_required
def assign(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _show(request, submission, assign_form=form, status=400)
    assignee = form.cleaned_data["assignee"]
    actions.assign(request.user, submission, assignee)
    if assignee is None:
        confirmation = _("Assigned to nobody.")
    else:
        confirmation = _("Assigned to %(name)s.") % {"name": assignee.get_username()}
    return _back(request, submission, "triage", confirmation)


@require_POST
@login_required
def set_tags(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    form = TagsForm(request.POST)
    if not form.is_valid():
        return _show(request, submission, tags_form=form, status=400)
    actions.set_tags(request.user, submission, form.cleaned_data["tags"])
    return _back(request, submission, "triage", _("Tags saved."))


@require_POST
@access.reviewer_required
def bulk(request):
    """One change to the submissions checked in the queue, then back to the same place in the queue."""
    form = BulkForm(request.POST)
    queue = QueueFilterForm.kept_query(QueryDict(request.POST.get("queue", "")))
    if form.is_valid():
        data = form.cleaned_data
        assignee = data["assignee"]
        changed = actions.bulk_change(
            request.user,
            data["ids"],
            status=data["status"],
            assignee=assignee if assignee not in ("", BulkForm.NOBODY) else None,
            unassign=assignee == BulkForm.NOBODY,
            add_tag=data["add_tag"],
            remove_tag=data["remove_tag"],
        )
        messages.success(
            request,
            ngettext("%(count)d submission changed.", "%(count)d submissions changed.", changed) % {"count": changed},
        )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return HttpResponseRedirect(reverse("review:queue") + (f"?{queue}" if queue else ""))


@require_POST
@login_required
def add_note(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _show(request, submission, note_form=form, status=400)
    actions.add_note(request.user, submission, form.cleaned_data["text"])
    return _back(request, submission, "notes", _("Note added."))


@require_POST
@login_required
def send_message(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    if not submission.accepts_replies:  # the page shows no form then; a page left open still may
        return _back(request, submission, "conversation", CLOSED_NOTE, level=messages.ERROR)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _show(request, submission, message_form=form, status=400)
    try:
        actions.send_message(request.user, submission, form.cleaned_data["text"])
    except actions.TestimonyClosed:  # closed while the message was being written
        return _back(request, submission, "conversation", CLOSED_NOTE, level=messages.ERROR)
    confirmation = _("Message sent. The witness will see it when they come back with their receipt.")
    return _back(request, submission, "conversation", confirmation)


def _queue_query(request, data) -> str:
    """The queue's filters and place that a submission page was reached from (``?queue=``), cleaned;
    without one, the last queue this session looked at."""
    if "queue" in data:
        return QueueFilterForm.kept_query(QueryDict(data["queue"]))
    return last_queue(request)


def _last_queue_context(request) -> bytes:
    return crypto.field_context("session", LAST_QUEUE, request.user.pk)


def remember_queue(request, query: str) -> None:
    """Keep the queue's address (filters and place) in the session, for the way back. Sealed with the
    field keys: a search's words are the testimony's words, and sessions are rows of the database."""
    sealed = crypto.seal_text(query, _last_queue_context(request))
    request.session[LAST_QUEUE] = base64.b64encode(sealed).decode()


def last_queue(request) -> str:
    """The queue's address this session last showed, cleaned; empty if none (or it does not open)."""
    sealed = request.session.get(LAST_QUEUE)
    if not sealed:
        return ""
    try:
        query = crypto.open_text(base64.b64decode(sealed), _last_queue_context(request))
    except (crypto.DecryptionError, ValueError):
        return ""
    return QueueFilterForm.kept_query(QueryDict(query))


def _back(request, submission, anchor: str, confirmation: str, level: int = messages.SUCCESS):
    """Back to the submission page, at the section just changed, with its confirmation (or, at
    ``level`` ERROR, why nothing changed) shown there, still knowing the queue's filters."""
    messages.add_message(request, level, confirmation, extra_tags=anchor)
    url = reverse("review:submission", args=[submission.pk])
    queue = _queue_query(request, request.POST)
    if queue:
        url += "?" + urlencode({"queue": queue})
    return HttpResponseRedirect(f"{url}#{anchor}")


def _show(
    request,
    submission,
    *,
    note_form=None,
    message_form=None,
    status_form=None,
    assign_form=None,
    tags_form=None,
    status=200,
):
    """The submission page. Every rendering of it shows testimony, so every rendering is audited, and
    marks what the witness sent as seen by this reviewer."""
    actions.record_view(request.user, submission)
    actions.mark_read(request.user, submission)
    queue = _queue_query(request, request.GET if request.method == "GET" else request.POST)
    images = list(submission.images.filter(message__isnull=True))
    conversation = list(
        submission.messages.select_related("author").prefetch_related(
            Prefetch("images", queryset=Image.objects.order_by("position"))
        )
    )
    added = [image for message in conversation for image in message.images.all()]
    response = render(
        request,
        "review/submission.html",
        {
            "submission": submission,
            "images": images,
            "conversation": conversation,
            # Other submissions with the same or a near-identical photo, also set on each photo: two queries.
            "likenesses": likeness.attach_likenesses(submission, images + added),
            "notes": submission.notes.select_related("author"),
            "status_form": status_form or StatusForm(initial={"status": submission.status}),
            "assign_form": assign_form or AssignForm(initial={"assignee": submission.assignee_id}),
            "tags_form": tags_form or TagsForm(initial={"tags": list(submission.tags.all())}),
            "note_form": note_form or NoteForm(),
            "message_form": message_form or MessageForm(),
            "queue": queue,
            "Sender": Message.Sender,
        },
        status=status,
    )
    # The page's video players load our own files (intake.review.media); no other page loads media. Its
    # forms are sent by intake/review.js, which swaps in the changed sections only.
    response._csp_update = {"media-src": [SELF], "connect-src": [SELF]}  # type: ignore[attr-defined]
    return response


class ChangePassword(auth_views.PasswordChangeView):
    """Any member of staff changes their own password here (the admin's own page leads here too)."""

    template_name = "review/password_change.html"
    success_url = reverse_lazy("review:password_changed")

    def form_valid(self, form):
        response = super().form_valid(form)
        actions.record_account_change(self.request.user, AuditEvent.Action.CHANGED_OWN_PASSWORD, self.request.user)
        return response


@require_POST
@login_required
def log_out_everywhere(request):
    """End every session of one's own account, this one included: after a lost or shared device."""
    sessions.end_sessions_of(request.user, request.user)
    logout(request)
    return redirect("review:login")
