"""Everything a witness can reach. This module and templates/witness/ are the public attack surface.

No view here reads a client address or header, sets a session, or stores anything but the testimony.
"""
from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from intake import actions
from intake.witness.forms import ReceiptForm, TestimonyForm


@require_http_methods(["GET", "POST"])
def submit(request):
    # Uploads that this view does not store are removed by intake.middleware.discard_unclaimed_uploads.
    if request.method == "POST":
        form = TestimonyForm(request.POST, request.FILES)
        if form.is_valid():
            receipt = actions.submit_testimony(
                account=form.cleaned_data["account"],
                happened_when=form.cleaned_data["happened_when"],
                happened_where=form.cleaned_data["happened_where"],
                uploads=form.cleaned_data["images"],
            )
            return render(request, "witness/receipt.html", {"receipt": receipt.split()})
    else:
        form = TestimonyForm()
    return render(request, "witness/submit.html", {"form": form, **_limits()})


@require_http_methods(["GET", "POST"])
def status(request):
    submission = None
    not_found = False
    if request.method == "POST":
        form = ReceiptForm(request.POST)
        if form.is_valid():
            submission = actions.find_by_receipt(form.cleaned_data["receipt"])
            not_found = submission is None
    else:
        form = ReceiptForm()
    return render(
        request,
        "witness/status.html",
        {"form": form, "submission": submission, "not_found": not_found},
    )


def _limits() -> dict:
    return {
        "max_images": settings.INTAKE_MAX_IMAGES,
        "max_image_bytes": settings.INTAKE_MAX_IMAGE_BYTES,
        "max_total_bytes": settings.INTAKE_MAX_TOTAL_BYTES,
        "max_account_chars": settings.INTAKE_MAX_ACCOUNT_CHARS,
    }
