"""Who may read testimony. Every staff lookup of a submission or image goes through this module.

Roles are Django groups (created by migration 0002). Reading testimony needs the Reviewer group and
a session with both factors done, and nothing else: not staff status, not superuser status. "Missing"
and "not yours" are the same 404.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from intake.models import Image, Submission

REVIEWER = "Reviewer"
ADMIN = "Admin"


def is_verified(user) -> bool:
    """Logged in with both factors (django-otp's middleware marks the session's user)."""
    return user.is_authenticated and getattr(user, "is_verified", lambda: False)()


def is_reviewer(user) -> bool:
    # The staff door already refuses a session without its second factor; this holds even without it.
    return is_verified(user) and user.is_active and user.groups.filter(name=REVIEWER).exists()


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


def clean_image_for(user, image_id) -> Image:
    if not is_reviewer(user):
        raise Http404
    image = get_object_or_404(Image.objects.select_related("submission"), pk=image_id, state=Image.State.CLEAN)
    if not Submission.objects.ready_for_review().filter(pk=image.submission_id).exists():
        raise Http404
    return image
