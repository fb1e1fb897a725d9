"""The staff side: the review queue, a submission, its cleaned images, status and notes.

Every view needs the Reviewer role: the queue through ``access.reviewer_required``, the others through
``access.submission_for`` and ``access.clean_image_for``, which answer 404 to anyone else. Every look
at a submission is written to the audit log (intake.actions).
"""

from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_POST

from intake import access, actions, blobs, sessions
from intake.models import AuditEvent, Image, Submission
from intake.review.forms import NoteForm, QueueFilterForm, StatusForm

PAGE_SIZE = 25


@require_GET
@access.reviewer_required
def queue(request):
    filters = QueueFilterForm(request.GET or None)
    submissions = filters.filter(
        Submission.objects.ready_for_review().annotate(
            image_count=Count("images", filter=Q(images__state=Image.State.CLEAN))
        )
    )
    page = Paginator(submissions.order_by("-received_on", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    # The filters again in the paging links, without the page itself.
    kept = request.GET.copy()
    kept.pop("page", None)
    return render(request, "review/queue.html", {"page": page, "filters": filters, "query": kept.urlencode()})


@require_GET
@login_required
def submission(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    return _show(request, submission, NoteForm())


@require_POST
@login_required
def set_status(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    form = StatusForm(request.POST)
    if form.is_valid():
        actions.change_status(request.user, submission, form.cleaned_data["status"])
    return redirect("review:submission", submission_id=submission.pk)


@require_POST
@login_required
def add_note(request, submission_id):
    submission = access.submission_for(request.user, submission_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        actions.add_note(request.user, submission, form.cleaned_data["text"])
        return redirect("review:submission", submission_id=submission.pk)
    return _show(request, submission, form, status=400)


def _show(request, submission, note_form, status=200):
    """The submission page. Every rendering of it shows testimony, so every rendering is audited."""
    actions.record_view(request.user, submission)
    return render(
        request,
        "review/submission.html",
        {
            "submission": submission,
            "images": submission.images.all(),
            "notes": submission.notes.select_related("author"),
            "status_form": StatusForm(initial={"status": submission.status}),
            "note_form": note_form,
        },
        status=status,
    )


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


@require_GET
@login_required
def image(request, image_id):
    image = access.clean_image_for(request.user, image_id)
    actions.record_image_view(request.user, image)
    response = HttpResponse(blobs.read(image.clean_blob), content_type=image.media_type)
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{image}.{image.extension}"'
    response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'; sandbox"
    return response
