"""Who may read testimony. Every staff lookup of a submission or image goes through this module.

Roles are Django groups (created by migration 0002). Reading testimony needs the Reviewer group and
a session with both factors done, and nothing else: not staff status, not superuser status. "Missing"
and "not yours" are the same 404. Exporting a submission as evidence needs the Exporter group as well
(``is_exporter``, ``submission_for_export``).

A witness reaches their own testimony by posting its receipt (intake.witness.views.status). Instead of
the receipt, their browser then holds a signed access token good for an hour, in a cookie sent only to
the testimony's page, with which it is shown and answered (``witness_access_token``,
``submission_for_witness``).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.signing import BadSignature, TimestampSigner
from django.http import Http404
from django.shortcuts import get_object_or_404

from intake import crypto
from intake.models import Image, Submission

REVIEWER = "Reviewer"
ADMIN = "Admin"
# A reviewer who may also hand submissions over as signed evidence packages (intake.evidence).
EXPORTER = "Exporter"


def is_verified(user) -> bool:
    """Logged in with both factors (django-otp's middleware marks the session's user)."""
    return user.is_authenticated and getattr(user, "is_verified", lambda: False)()


def is_reviewer(user) -> bool:
    # The staff door already refuses a session without its second factor; this holds even without it.
    return is_verified(user) and user.is_active and user.groups.filter(name=REVIEWER).exists()


def holds_roles(user, *roles: str) -> bool:
    """An active account in every one of ``roles``: what a management command acting in a member's
    name checks, as it has no session and so no second factor."""
    return user.is_active and user.groups.filter(name__in=roles).distinct().count() == len(set(roles))


def is_exporter(user) -> bool:
    """Both factors, and both roles: an Exporter who is not a Reviewer reads nothing, so exports nothing."""
    return is_verified(user) and holds_roles(user, REVIEWER, EXPORTER)


def reviewer_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_reviewer(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def submission_for(user, submission_id) -> Submission:
    if not is_reviewer(user):
        raise Http404
    return get_object_or_404(Submission.objects.ready_for_review(), pk=submission_id)


def submission_for_export(user, submission_id) -> Submission:
    if not is_exporter(user):
        raise Http404
    return get_object_or_404(Submission.objects.ready_for_review(), pk=submission_id)


def clean_image_for(user, image_id) -> Image:
    if not is_reviewer(user):
        raise Http404
    image = get_object_or_404(Image.objects.select_related("submission"), pk=image_id, state=Image.State.CLEAN)
    if not Submission.objects.ready_for_review().filter(pk=image.submission_id).exists():
        raise Http404
    return image


# --- The witness's access to their own testimony ---------------------------------------------------

WITNESS_ACCESS_SECONDS = 3600
_WITNESS_ACCESS_SALT = "intake.witness.access"


def _witness_signer() -> TimestampSigner:
    # No fallback keys: a SECRET_KEY_FALLBACKS setting must not let an old secret forge a witness's access.
    return TimestampSigner(key=crypto.witness_access_key(), fallback_keys=[], salt=_WITNESS_ACCESS_SALT)


def witness_access_token(submission: Submission) -> str:
    """A token that opens ``submission`` to whoever holds it within the hour: the access cookie carries
    it, so that the receipt itself is kept nowhere in the browser. It names the submission by its receipt
    digest, which says nothing to anyone without the keys (not the reference staff know it by)."""
    return _witness_signer().sign(submission.receipt_digest)


def submission_for_witness(token: str) -> Submission | None:
    """The submission a token opens, or None for one that is forged, altered or expired."""
    try:
        digest = _witness_signer().unsign(token, max_age=WITNESS_ACCESS_SECONDS)
    except BadSignature:  # SignatureExpired is one
        return None
    return Submission.objects.filter(receipt_digest=digest).first()
