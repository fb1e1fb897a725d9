"""Everything a witness can reach. This module and templates/witness/ are the public attack surface.

No view here reads a client address or header, sets a session, or stores anything but the testimony.
A testimony is stored whole or not at all: a body cut off, too slow or too large, a spent budget, a full
disk or a database error stores nothing, and the form comes back with the text that arrived.
"""

import secrets

from django.conf import settings
from django.db import DatabaseError, InterfaceError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from intake import access, actions, body_guard, counters, floods, receipts, sent_forms
from intake.models import Image, Message
from intake.witness import language
from intake.witness.forms import DraftForm, ReceiptForm, ReplyForm, TestimonyForm, limits_text

REFUSALS = {
    body_guard.TOO_LARGE: (
        413,
        _(
            "Your testimony was not received: it is larger than we can accept. Nothing was stored. "
            "What you wrote is below. Choose fewer or smaller files, and send it again."
        ),
    ),
    body_guard.CUT_OFF: (
        400,
        _(
            "Your testimony did not arrive whole: the connection was interrupted. Nothing was stored. "
            "What arrived of your text is below. Check it, choose your photos and videos again, and send it again."
        ),
    ),
    body_guard.TOO_SLOW: (
        400,
        _(
            "Your testimony did not arrive whole: the connection was too slow. Nothing was stored. What "
            "arrived of your text is below. Check it, and send it again, with fewer or smaller files if you can."
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


OUT_OF_DATE = _(
    "Your testimony was not sent: the page was out of date. Nothing was stored. What you wrote is below: "
    "check it, choose your photos and videos again, and send it again."
)


@require_http_methods(["GET", "POST"])
def submit(request):
    """The testimony form. Its one-time token (intake.sent_forms) is made when the form is first drawn and
    kept while the form comes back (refused, or in another language), so that whichever of its pages the
    browser sends again once it was stored, nothing is stored twice and nothing written is shown."""
    # Uploads that this view does not store are removed by intake.middleware.discard_unclaimed_uploads.
    if request.method != "POST":
        return _form_page(request, TestimonyForm(), sent_forms.new_token())
    token = request.POST.get(sent_forms.FIELD, "")
    try:
        seen = sent_forms.check(token)
    except DATABASE_ERRORS:
        return _refused(request, "database_down", token)
    if (repeat := _repeated(request, seen, token)) is not None:
        return repeat
    if seen.state == sent_forms.MISSING:
        token = sent_forms.new_token()
    refusal = body_guard.refusal(request)
    if refusal is not None:
        return _refused(request, refusal, token)
    code = language.chosen(request)
    if code is not None:
        language.use(request, code)
        response = _form_page(request, _typed(request), token, switched=True)
        language.remember(response, code)
        return response
    form = TestimonyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, token)
    refusal = floods.submission_refusal()
    if refusal is not None:
        return _refused(request, refusal, token)
    if seen.state == sent_forms.MISSING:  # a page drawn before the tokens, say: never stored without one
        return _form_page(request, _typed(request), token, refusal=OUT_OF_DATE, status=400)
    try:
        # The receipt is kept sealed under the form's token (intake.sent_forms), and read from there by
        # the page the browser is sent to.
        actions.submit_testimony(
            account=form.cleaned_data["account"],
            happened_when=form.cleaned_data["happened_when"],
            happened_where=form.cleaned_data["happened_where"],
            uploads=form.cleaned_data["images"],
            token=token,
        )
    except sent_forms.AlreadySent:  # the same form, sent twice at once: the other request stored it
        return _to_receipt(request, token)
    except DATABASE_ERRORS:
        return _refused(request, "database_down", token)
    floods.count_submission()
    return _to_receipt(request, token)


def _typed(request) -> TestimonyForm:
    """The form, unbound, with the text that arrived: photos are never given back."""
    return TestimonyForm(initial={name: request.POST.get(name, "") for name in TEXT_FIELDS})


def _form_page(request, form, token: str, *, refusal=None, switched=False, status=200):
    context = {
        "form": form,
        "sent_form": token,
        "language_form": "testimony",
        "refusal": refusal,
        "switched": switched,
        "file_limits": limits_text(),
        **body_guard.limits(),
    }
    return render(request, "witness/submit.html", context, status=status)


def _refused(request, refusal: str, token: str):
    """The form again, with the text that arrived and why nothing was stored; no field errors."""
    status, message = REFUSALS[refusal]
    if refusal == body_guard.TOO_SLOW:
        request.refusal_counted = True  # counted when it was stopped
    else:
        counters.count(refusal, request)
    response = _form_page(request, _typed(request), token, refusal=message, status=status)
    if status == 503:
        response["Retry-After"] = str(floods.RETRY_AFTER_SECONDS)
    return response


FORM_EXPIRED = _(
    "For your safety, the form expired or could not be checked. Nothing was stored. What you wrote is "
    "below: choose your photos and videos again, and send it again."
)


def csrf_failure(request, reason=""):
    """A form refused by the CSRF check (settings.CSRF_FAILURE_VIEW), most often because its cookie is
    gone: the browser was closed since the page was drawn. Nothing is stored. The testimony form comes
    back with its text, for Back cannot bring it (the form's autocomplete is off), but only to a page of
    ours (its Origin): a form posted from another site is shown nothing."""
    if request.method == "POST" and request.path_info == reverse("witness:submit") and _from_here(request):
        token = request.POST.get(sent_forms.FIELD, "")
        try:
            seen = sent_forms.check(token)
        except DATABASE_ERRORS:
            return render(request, "403_csrf.html", status=403)
        if (repeat := _repeated(request, seen, token)) is not None:
            return repeat
        if seen.state == sent_forms.MISSING:
            token = sent_forms.new_token()
        return _form_page(request, _typed(request), token, refusal=FORM_EXPIRED, status=403)
    answer = ("witness:reply", "witness:reply_from_before")
    if request.method == "POST" and body_guard.view_name_of(request.path_info) in answer and _from_here(request):
        # An answer: the page asks for the receipt again, with the answer kept to be put back.
        try:
            seen = sent_forms.check(request.POST.get(sent_forms.FIELD, "")).state
        except DATABASE_ERRORS:
            return render(request, "403_csrf.html", status=403)
        if seen in (sent_forms.SENT, sent_forms.TOO_OLD):
            return _received_before_the_receipt(request)
        return _expired(request, status=403)
    return render(request, "403_csrf.html", status=403)


def _from_here(request) -> bool:
    return request.META.get("HTTP_ORIGIN") == f"{request.scheme}://{request.get_host()}"


def _repeated(request, seen: sent_forms.Seen, token: str):
    """The answer to a form that may have been stored already, or None if it was not."""
    if seen.state == sent_forms.SENT:
        return _to_receipt(request, token)
    if seen.state == sent_forms.TOO_OLD:
        return render(request, "witness/sent_before.html", {"too_old": True})
    return None


# --- What the browser keeps ---------------------------------------------------------------------------
# A page that answers a POST stays in the browser's history with the form it was sent, text and all: Back
# or a reload sends it again, and Chromium writes it into the profile's session files, on disk. So a form
# that was stored, and the receipt once typed, are answered with a redirect (303) to a page of their own,
# which a cookie opens: HttpOnly, SameSite=Strict, a session cookie (Chromium keeps it in its cookie file
# until it next starts, marked to be dropped then; never for a quarter of an hour or an hour after the
# browser closed, as a cookie with an age would be), and sent only to that page's address. Each such address has a
# random part of its own (a "visit", kept nowhere on the server): two testimonies in two tabs of one
# browser each keep their own cookie, and an answer goes to the testimony of its own page. What stays
# in the history is that bare address, which opens nothing without its cookie. The server holds each
# cookie to its time (a quarter of an hour for a receipt, an hour for a testimony's page).

SENT_COOKIE = "sent_form"  # the one-time token of the testimony form just stored: opens its receipt
ACCESS_COOKIE = "access"  # the signed access token (intake.access) that stands for the receipt
ANSWERED_COOKIE = "answered"  # says once, on the next page, that the answer was received


def _new_visit() -> str:
    return secrets.token_urlsafe(9)


def _see_other(request, view_name: str, visit: str, cookie: str, value: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(reverse(view_name, args=[visit]), status=303)
    _set_cookie(request, response, view_name, visit, cookie, value)
    return response


def _set_cookie(request, response, view_name: str, visit: str, cookie: str, value: str, ended=False) -> None:
    """Set ``cookie`` for ``visit``'s page, or end it (``ended``) with the very attributes it was set with,
    which strict browsers need to match it."""
    response.set_cookie(
        cookie,
        value,
        max_age=0 if ended else None,
        path=reverse(view_name, args=[visit]),
        secure=settings.CSRF_COOKIE_SECURE or request.is_secure(),
        httponly=True,
        samesite="Strict",
    )


def _to_receipt(request, token: str) -> HttpResponseRedirect:
    return _see_other(request, "witness:receipt", _new_visit(), SENT_COOKIE, token)


@require_safe
def receipt(request, visit: str):
    """The receipt of the testimony just stored, for as long as its form's token may show it again
    (intake.sent_forms): a reload shows it again, never the text; later, only that it was received."""
    token = request.COOKIES.get(SENT_COOKIE, "")
    try:
        seen = sent_forms.check(token)
    except DATABASE_ERRORS:  # the testimony is stored: only its receipt cannot be read now
        counters.count("database_down", request)
        response = render(request, "witness/sent_before.html", {"unavailable": True}, status=503)
        response["Retry-After"] = str(floods.RETRY_AFTER_SECONDS)
        return response
    if seen.state == sent_forms.SENT and seen.kept is not None:
        kept = seen.kept
        return render(request, "witness/receipt.html", {"receipt": kept["receipt"], "photos": kept["photos"]})
    if seen.state in (sent_forms.SENT, sent_forms.TOO_OLD):
        return render(request, "witness/sent_before.html", {"too_old": seen.state == sent_forms.TOO_OLD})
    return redirect("witness:submit")


@require_http_methods(["GET", "POST"])
def status(request):
    """The receipt form; posted a receipt, the testimony's page: its status, what arrived, the conversation."""
    submission = None
    not_found = wrong_digit = False
    # An answer typed on a page that was open too long comes back through this form (see ``reply``).
    draft = DraftForm(request.POST or None)
    if request.method == "POST" and (code := language.chosen(request)) is not None:
        # The header's language buttons send this form: the same page in the other language, what was
        # typed kept, nothing looked up.
        language.use(request, code)
        typed = ReceiptForm(initial={"receipt": request.POST.get("receipt", "")})
        draft = DraftForm(initial={"draft": request.POST.get("draft", "")})
        response = render(request, "witness/status.html", {"form": typed, "draft": draft, "language_form": "receipt"})
        language.remember(response, code)
        return response
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
                        context = {"form": ReceiptForm(), "draft": draft, "language_form": "receipt", "busy": True}
                        return floods.busy(request, "busy_status", "witness/status.html", context)
                    try:
                        submission = actions.find_by_receipt(form.cleaned_data["receipt"])
                    except DATABASE_ERRORS:
                        return _status_unavailable(request, draft)
                not_found = submission is None
                if submission is not None:
                    return _open(request, submission, draft.cleaned_data["draft"] if draft.is_valid() else "")
    else:
        form = ReceiptForm()
    return render(
        request,
        "witness/status.html",
        {"form": form, "draft": draft, "language_form": "receipt", "not_found": not_found, "wrong_digit": wrong_digit},
    )


def _open(request, submission, draft: str):
    """The receipt opened a testimony: its page, by a redirect that leaves no receipt in the history, with
    an access token for the hour. An answer kept from a page open too long is put back in its box on
    this very page instead: a redirect would lose it, and nothing of it may be kept on the server."""
    token = access.witness_access_token(submission)
    visit = _new_visit()
    if not draft:
        return _see_other(request, "witness:testimony", visit, ACCESS_COOKIE, token)
    response = _conversation(request, submission, ReplyForm(initial={"text": draft}), sent_forms.new_token(), visit)
    _set_cookie(request, response, "witness:testimony", visit, ACCESS_COOKIE, token)
    return response


@require_safe
def testimony(request, visit: str):
    """The testimony's own page, opened by the access cookie that typing the receipt set."""
    try:
        submission = access.submission_for_witness(request.COOKIES.get(ACCESS_COOKIE, ""))
        if submission is None:  # no cookie, or its hour is over: the receipt again
            return redirect("witness:status")
        received = request.COOKIES.get(ANSWERED_COOKIE) == "1"
        response = _conversation(request, submission, ReplyForm(), sent_forms.new_token(), visit, received=received)
    except DATABASE_ERRORS:
        return _status_unavailable(request)
    if received:
        _set_cookie(request, response, "witness:testimony", visit, ANSWERED_COOKIE, "", ended=True)
    return response


def _answered(request, visit: str) -> HttpResponseRedirect:
    """Back to the testimony's page, told once that the answer was received."""
    return _see_other(request, "witness:testimony", visit, ANSWERED_COOKIE, "1")


@require_http_methods(["GET", "POST"])
def reply_from_before(request):
    """The answer's address before each page had its own: a page drawn then and sent now asks for the
    receipt again, with what was typed kept."""
    if request.method != "POST":
        return redirect("witness:status")
    return _expired(request)


def _status_unavailable(request, draft=None):
    counters.count("database_down", request)
    context = {"form": ReceiptForm(), "draft": draft, "language_form": "receipt", "unavailable": True}
    response = render(request, "witness/status.html", context, status=503)
    response["Retry-After"] = str(floods.RETRY_AFTER_SECONDS)
    return response


# --- The conversation -------------------------------------------------------------------------------

REPLY_REFUSALS = {
    body_guard.TOO_LARGE: (
        413,
        _(
            "Your answer was not received: it is larger than we can accept. Nothing was stored. What you "
            "wrote is below. Choose fewer or smaller files, and send it again."
        ),
    ),
    body_guard.CUT_OFF: (
        400,
        _(
            "Your answer did not arrive whole: the connection was interrupted. Nothing was stored. What "
            "arrived of your text is below. Check it, choose your photos and videos again, and send it again."
        ),
    ),
    body_guard.TOO_SLOW: (
        400,
        _(
            "Your answer did not arrive whole: the connection was too slow. Nothing was stored. What "
            "arrived of your text is below. Check it, and send it again, with fewer or smaller files if you can."
        ),
    ),
    floods.SUBMISSIONS_BUSY: (
        503,
        _("We cannot receive answers right now. Nothing was stored. Please try again later: what you wrote is below."),
    ),
    floods.DISK_LOW: (
        503,
        _("We cannot receive answers right now. Nothing was stored. Please try again later: what you wrote is below."),
    ),
    "database_down": (
        503,
        _(
            "Your answer was not received, because of a problem on our side. Nothing was stored. Please "
            "try again in a few minutes: what you wrote is below."
        ),
    ),
    "no_form_token": (
        400,
        _("Your answer was not sent yet: please choose your photos and videos again, if any, and send it once more."),
    ),
}
REPLY_LIMITS = {
    actions.ReplyRefused.CLOSED: _("Work on this testimony is finished: it takes no more answers, photos or videos."),
    actions.ReplyRefused.TOO_MANY_MESSAGES: _(
        "This testimony has had as many answers as it can take. You can send a new testimony instead."
    ),
}


@require_http_methods(["GET", "POST"])
def reply(request, visit: str):
    """A witness's answer, with or without photos, sent from their testimony's page. Received like a
    testimony (intake.body_guard, intake.floods): stored whole or not at all, and counted in the same
    budget. Nothing about it is audited or logged.

    Its one-time token (intake.sent_forms) is kept while the page comes back (refused, or in another
    language) and a new one is drawn once the answer is stored, so that whichever of its pages the
    browser sends again, nothing is stored twice and nothing written is put back in a field."""
    if request.method != "POST":  # sent.js, replacing a sent page brought back by Back
        return redirect("witness:testimony", visit)
    # Uploads that this view does not store are removed by intake.middleware.discard_unclaimed_uploads.
    # The access cookie is never set again here: only typing the receipt starts a new hour, so that a
    # page left open (on a seized phone, say) cannot be kept alive by sending it.
    submission = access.submission_for_witness(request.COOKIES.get(ACCESS_COOKIE, ""))
    token = request.POST.get(sent_forms.FIELD, "")
    try:
        seen = sent_forms.check(token).state
    except DATABASE_ERRORS:
        seen = sent_forms.MISSING if submission is None else "database_down"
    if seen in (sent_forms.SENT, sent_forms.TOO_OLD):
        return _already_received(request, submission, visit)
    code = language.chosen(request)
    if code is not None:
        language.use(request, code)
    if submission is None:
        response = _expired(request)
    elif seen == "database_down":
        response = _reply_refused(request, submission, "database_down", token, visit)
    elif code is not None:
        response = _conversation(request, submission, _typed_reply(request), token, visit, switched=True)
    else:
        return _receive_reply(request, submission, token, visit, missing=seen == sent_forms.MISSING)
    if code is not None:
        language.remember(response, code)
    return response


def _receive_reply(request, submission, token: str, visit: str, *, missing: bool):
    if missing:  # a page drawn before the tokens, or a forged form: never stored without one
        token = sent_forms.new_token()
    refusal = body_guard.refusal(request) or ("no_form_token" if missing else None)
    if refusal is not None:
        return _reply_refused(request, submission, refusal, token, visit)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _conversation(request, submission, form, token, visit)
    refusal = floods.submission_refusal()
    if refusal is not None:
        return _reply_refused(request, submission, refusal, token, visit)
    try:
        actions.reply_as_witness(
            submission, text=form.cleaned_data["text"], uploads=form.cleaned_data["images"], form_token=token
        )
    except sent_forms.AlreadySent:  # the same form, sent twice at once: the other request stored it
        return _already_received(request, submission, visit)
    except actions.ReplyRefused as refused:
        _refuse_past_limits(form, refused.reason)
        return _conversation(request, submission, form, token, visit)
    except DATABASE_ERRORS:
        return _reply_refused(request, submission, "database_down", token, visit)
    floods.count_submission()
    return _answered(request, visit)


def _typed_reply(request) -> ReplyForm:
    """The answer form, unbound, with the text that arrived: photos are never given back."""
    return ReplyForm(initial={"text": request.POST.get("text", "")})


def _already_received(request, submission, visit: str):
    """An answer already stored, sent again: nothing stored, nothing of it in a field."""
    if submission is None:  # the page's hour is over: the receipt opens the conversation again
        return _received_before_the_receipt(request)
    return _answered(request, visit)


def _received_before_the_receipt(request):
    context = {"form": ReceiptForm(), "language_form": "receipt", "already_received": True}
    return render(request, "witness/status.html", context)


def _refuse_past_limits(form, reason: str) -> None:
    if reason == actions.ReplyRefused.TOO_MANY_PHOTOS:
        limit = settings.INTAKE_MAX_IMAGES_PER_SUBMISSION
        form.add_error(
            "images",
            _("A testimony can have at most %(limit)d files in all. Choose fewer, or send a new testimony.")
            % {"limit": limit},
        )
    else:
        form.add_error(None, REPLY_LIMITS[reason])


def _reply_refused(request, submission, refusal: str, token: str, visit: str):
    """The page again, with the text that arrived and why nothing was stored; no field errors."""
    status, message = REPLY_REFUSALS[refusal]
    if refusal == body_guard.TOO_SLOW:
        request.refusal_counted = True  # counted when it was stopped
    elif refusal != "no_form_token":  # a 400, counted as a bad request
        counters.count(refusal, request)
    response = _conversation(request, submission, _typed_reply(request), token, visit, refusal=message, status=status)
    if status == 503:
        response["Retry-After"] = str(floods.RETRY_AFTER_SECONDS)
    return response


def _expired(request, status=400):
    """The access token is forged, altered or over an hour old, or the page's CSRF cookie is gone (403):
    ask for the receipt again, and keep the typed answer in the receipt form, to be put back in the
    answer box."""
    counters.count("expired_access", request)
    draft = DraftForm(initial={"draft": request.POST.get("text", "")})
    context = {"form": ReceiptForm(), "draft": draft, "language_form": "receipt", "expired": True}
    return render(request, "witness/status.html", context, status=status)


def _conversation(
    request, submission, reply_form, token: str, visit: str, *, received=False, refusal=None, switched=False, status=200
):
    """The testimony's own page: what arrived, its status in the witness's terms, the messages, and the
    answer form, with its one-time ``token``, sent to this ``visit``'s address, where the access cookie
    stands for the receipt."""
    images = list(submission.images.all())
    states = [image.state for image in images]
    photos_left = max(0, settings.INTAKE_MAX_IMAGES_PER_SUBMISSION - len(images))
    reply_form.fields["images"].widget.photos_left = photos_left  # for the check before sending (photos.js)
    context = {
        "submission": submission,
        "witness_status": submission.witness_status,
        "conversation": submission.messages.prefetch_related("images"),
        "Sender": Message.Sender,
        "photos": {
            "received": len(images),
            "cleaned": states.count(Image.State.CLEAN),
            "pending": states.count(Image.State.PENDING),
            "refused": [image for image in images if image.state == Image.State.FAILED],
        },
        "photos_left": photos_left,
        "file_limits": limits_text(photos_left, settings.INTAKE_MAX_IMAGES_PER_SUBMISSION),
        "max_images_per_submission": settings.INTAKE_MAX_IMAGES_PER_SUBMISSION,
        "max_reply_chars": settings.INTAKE_MAX_REPLY_CHARS,
        "sent_form_field": sent_forms.FIELD,
        "visit": visit,
        "sent_form": token,
        "reply_form": reply_form,
        "language_form": "answer",
        "received": received,
        "refusal": refusal,
        "switched": switched,
        **body_guard.limits(),
    }
    return render(request, "witness/status.html", context, status=status)


@require_safe
def leave(request, visit: str):
    """ "Leave quickly" from a page a cookie opens: the cookie ends, then the neutral site. Back then shows
    the receipt form or an empty testimony form, not the receipt or the conversation."""
    response = HttpResponseRedirect(settings.INTAKE_QUICK_EXIT_URL, status=303)
    _set_cookie(request, response, "witness:receipt", visit, SENT_COOKIE, "", ended=True)
    for cookie in (ACCESS_COOKIE, ANSWERED_COOKIE):
        _set_cookie(request, response, "witness:testimony", visit, cookie, "", ended=True)
    return response


@require_safe
def safety(request):
    """How to stay safe: Tor Browser and the onion address, what cleaning removes and what it cannot,
    history, the receipt, the device."""
    return render(request, "witness/safety.html")
