"""The staff side: the review queue, a submission, its cleaned images, status, notes and conversation
with the witness.

Every view needs the Reviewer role: the queue through ``access.reviewer_required``, the others through
``access.submission_for`` and, for the files (intake.review.media), ``access.clean_image_for``, which
answer 404 to anyone else. Every look at a submission is written to the audit log (intake.actions).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from intake import access, actions, sessions
from intake.models import AuditEvent, Image, Message, Submission
from intake.review.forms import MessageForm, NoteForm, QueueFilterForm, StatusForm

PAGE_SIZE = 25
SELF = "'self'"
# Shown instead of the message form, and as the refusal of a message sent from a page left open.
CLOSED_NOTE = gettext_lazy("This testimony is closed: the witness cannot answer. Change its status to write to them.")


@require_GET
@access.reviewer_required
def queue(request):
    filters = QueueFilterForm(request.GET or None)
    submissions = filters.filter(
        Submission.objects.ready_for_review()
        .annotate(image_count=Count("images", filter=Q(images__state=Image.State.CLEAN)))
        .with_unread_for(request.user)
    )
    page = Paginator(submissions.order_by("-received_on", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    here = QueueFilterForm.kept_query(request.GET)
    # The filters again in the paging links, without the page itself.
    kept = QueryDict(here, mutable=True)
    kept.pop("page", None)
    # The rows link to submissions with the filters and the page, for the way back.
    back = urlencode({"queue": here}) if here else ""
    context = {"page": page, "filters": filters, "query": kept.urlencode(), "back": back}
    return render(request, "review/queue.html", context)


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
    return _back(request, submission, "status", confirmation)


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


def _queue_query(data) -> str:
    """The queue's filters and page that a submission page was reached from (``?queue=``), cleaned."""
    return QueueFilterForm.kept_query(QueryDict(data.get("queue", "")))


def _back(request, submission, anchor: str, confirmation: str, level: int = messages.SUCCESS):
    """Back to the submission page, at the section just changed, with its confirmation (or, at
    ``level`` ERROR, why nothing changed) shown there, still knowing the queue's filters."""
    messages.add_message(request, level, confirmation, extra_tags=anchor)
    url = reverse("review:submission", args=[submission.pk])
    queue = _queue_query(request.POST)
    if queue:
        url += "?" + urlencode({"queue": queue})
    return HttpResponseRedirect(f"{url}#{anchor}")


def _show(request, submission, *, note_form=None, message_form=None, status_form=None, status=200):
    """The submission page. Every rendering of it shows testimony, so every rendering is audited, and
    marks what the witness sent as seen by this reviewer."""
    actions.record_view(request.user, submission)
    actions.mark_read(request.user, submission)
    queue = _queue_query(request.GET if request.method == "GET" else request.POST)
    response = render(
        request,
        "review/submission.html",
        {
            "submission": submission,
            "images": submission.images.filter(message__isnull=True),
            "conversation": submission.messages.select_related("author").prefetch_related(
                Prefetch("images", queryset=Image.objects.order_by("position"))
            ),
            "notes": submission.notes.select_related("author"),
            "status_form": status_form or StatusForm(initial={"status": submission.status}),
            "note_form": note_form or NoteForm(),
            "message_form": message_form or MessageForm(),
            "queue": queue,
            "Sender": Message.Sender,
        },
        status=status,
    )
    # The page's video players load our own files (intake.review.media); no other page loads media.
    response._csp_update = {"media-src": [SELF]}  # type: ignore[attr-defined]  # read by django-csp
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
