"""Everything a witness can reach. This module and templates/witness/ are the public attack surface.

No view here reads a client address or header, sets a session, or stores anything but the testimony.
A testimony is stored whole or not at all: a body cut off, too slow or too large, a spent budget, a full
disk or a database error stores nothing, and the form comes back with the text that arrived.
"""

from django.conf import settings
from django.db import DatabaseError, InterfaceError
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from intake import actions, body_guard, counters, floods, receipts
from intake.witness.forms import ReceiptForm, TestimonyForm

REFUSALS = {
    body_guard.TOO_LARGE: (
        413,
        _(
            "Your testimony was not received: it is larger than we can accept. Nothing was stored. "
            "What you wrote is below. Choose fewer or smaller photos, and send it again."
        ),
    ),
    body_guard.CUT_OFF: (
        400,
        _(
            "Your testimony did not arrive whole: the connection was interrupted. Nothing was stored. "
            "What arrived of your text is below. Check it, choose your photos again, and send it again."
        ),
    ),
    body_guard.TOO_SLOW: (
        400,
        _(
            "Your testimony did not arrive whole: the connection was too slow. Nothing was stored. What "
            "arrived of your text is below. Check it, and send it again, with fewer photos if you can."
        ),
    ),
    floods.SUBMISSIONS_BUSY: (
        503,
        _(
            "We cannot receive testimonies right now. Nothing was stored. Please try again later: what "
            "you wrote is below."
        ),
    ),
    floods.DISK_LOW: (
        503,
        _(
            "We cannot receive testimonies right now. Nothing was stored. Please try again later: what "
            "you wrote is below."
        ),
    ),
    "database_down": (
        503,
        _(
            "Your testimony was not received, because of a problem on our side. Nothing was stored. "
            "Please try again in a few minutes: what you wrote is below."
        ),
    ),
}
TEXT_FIELDS = ("account", "happened_when", "happened_where")
# A stale connection after a database restart raises InterfaceError, which is not a DatabaseError.
DATABASE_ERRORS = (DatabaseError, InterfaceError)


@require_http_methods(["GET", "POST"])
def submit(request):
    # Uploads that this view does not store are removed by intake.middleware.discard_unclaimed_uploads.
    if request.method == "POST":
        form = TestimonyForm(request.POST, request.FILES)
        refusal = body_guard.refusal(request)
        if refusal is None and form.is_valid():
            refusal = floods.submission_refusal()
            if refusal is None:
                images = form.cleaned_data["images"]
                try:
                    receipt = actions.submit_testimony(
                        account=form.cleaned_data["account"],
                        happened_when=form.cleaned_data["happened_when"],
                        happened_where=form.cleaned_data["happened_where"],
                        uploads=images,
                    )
                except DATABASE_ERRORS:
                    refusal = "database_down"
                else:
                    floods.count_submission()
                    return render(request, "witness/receipt.html", {"receipt": receipt, "photos": len(images)})
        if refusal is not None:
            return _refused(request, refusal)
    else:
        form = TestimonyForm()
    return render(request, "witness/submit.html", {"form": form, **body_guard.limits()})


def _refused(request, refusal: str):
    """The form again, with the text that arrived and why nothing was stored; no field errors."""
    status, message = REFUSALS[refusal]
    if refusal == body_guard.TOO_SLOW:
        request.refusal_counted = True  # counted when it was stopped
    else:
        counters.count(refusal, request)
    form = TestimonyForm(initial={name: request.POST.get(name, "") for name in TEXT_FIELDS})
    response = render(
        request,
        "witness/submit.html",
        {"form": form, "refusal": message, **body_guard.limits()},
        status=status,
    )
    if status == 503:
        response["Retry-After"] = str(floods.RETRY_AFTER_SECONDS)
    return response


@require_http_methods(["GET", "POST"])
def status(request):
    submission = None
    not_found = wrong_digit = False
    if request.method == "POST":
        form = ReceiptForm(request.POST)
        if form.is_valid():
            typed = receipts.normalise(form.cleaned_data["receipt"])
            if typed is receipts.WRONG_DIGIT:
                wrong_digit = True  # told by the check digit: no scrypt to run
            elif typed is None:
                not_found = True  # not a receipt: no scrypt to run
            else:
                # A receipt that opens a testimony is not echoed on the page: the form comes back empty.
                # One that opens nothing is, so that a witness can find what they mistyped.
                with floods.slot("status", settings.INTAKE_STATUS_CONCURRENCY) as free:
                    if not free or not floods.status_lookup_allowed():
                        context = {"form": ReceiptForm(), "busy": True}
                        return floods.busy(request, "busy_status", "witness/status.html", context)
                    try:
                        submission = actions.find_by_receipt(form.cleaned_data["receipt"])
                    except DATABASE_ERRORS:
                        return _status_unavailable(request)
                not_found = submission is None
                if submission is not None:
                    form = ReceiptForm()
    else:
        form = ReceiptForm()
    return render(
        request,
        "witness/status.html",
        {"form": form, "submission": submission, "not_found": not_found, "wrong_digit": wrong_digit},
    )


def _status_unavailable(request):
    counters.count("database_down", request)
    response = render(request, "witness/status.html", {"form": ReceiptForm(), "unavailable": True}, status=503)
    response["Retry-After"] = str(floods.RETRY_AFTER_SECONDS)
    return response
