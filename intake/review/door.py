"""The staff door: every staff page, the admin included, needs a session with both factors done.

The password step (``intake.review.login``) logs the account in with Django's ``login()``; the session
is then *unverified* until a second factor marks it with ``django_otp.login()``. ``staff_door`` sends
an unverified session to the second step, and logs it out once it has waited there longer than
``SECOND_STEP_SECONDS``. Only the pages a person needs before both factors are done are open: the two
login steps, logging out, the setup links, and the passkey API that the second step calls.

The admin site (``StaffAdminSite``) has no login of its own: its login page leads to the staff one,
its logout is the staff logout, and it needs a verified session as well.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from intake.access import is_reviewer, is_verified

STAFF_PREFIX = "/staff/"
SECOND_STEP_SECONDS = 5 * 60

# Session keys: when the password was accepted, and where to go once both factors are done.
PASSWORD_AT = "staff_door_password_at"  # noqa: S105 - a session key
NEXT = "staff_door_next"

OPEN_VIEWS = frozenset(
    {
        "review:login",
        "review:verify",
        "review:logout",
        "review:setup_link",
        "review:setup",
        "admin:login",
        "otp_webauthn:credential-authentication-begin",
        "otp_webauthn:credential-authentication-complete",
        "otp_webauthn:js-i18n-catalog",
    }
)


def staff_door(get_response):
    def middleware(request):
        if not request.path_info.startswith(STAFF_PREFIX):
            return get_response(request)
        user = request.user
        if user.is_authenticated and not is_verified(user) and second_step_expired(request):
            logout(request)
        if is_verified(request.user) or _is_open(request.path_info):
            return get_response(request)
        if request.user.is_authenticated:
            return redirect("review:verify")
        return redirect_to_login(request.get_full_path())

    return middleware


def _is_open(path: str) -> bool:
    try:
        return resolve(path).view_name in OPEN_VIEWS
    except Resolver404:
        return False


def password_accepted(request, next_url: str) -> None:
    """Note in the (freshly logged-in) session that the first factor is done."""
    request.session[PASSWORD_AT] = timezone.now().timestamp()
    request.session[NEXT] = next_url


def second_step_expired(request) -> bool:
    started = request.session.get(PASSWORD_AT)
    return started is None or timezone.now().timestamp() - started > SECOND_STEP_SECONDS


def safe_next(request, url: str | None) -> str:
    """``url`` if it leads somewhere on this site, else ""."""
    if not url:
        return ""
    ours = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if ours else ""


def home(user) -> str:
    """Where a member of staff starts: the queue for a reviewer, the admin for an admin, else their account."""
    if is_reviewer(user):
        return resolve_url("review:queue")
    if user.is_staff:
        return reverse("admin:index")
    return reverse("review:account")


class StaffAdminSite(admin.AdminSite):
    def has_permission(self, request):
        return super().has_permission(request) and is_verified(request.user)

    def login(self, request, extra_context=None):
        # Someone already in, without the rights the admin needs: going round the login again would
        # only bring them back here.
        if is_verified(request.user):
            raise PermissionDenied
        next_url = safe_next(request, request.GET.get(REDIRECT_FIELD_NAME)) or reverse("admin:index")
        return redirect_to_login(next_url)

    def logout(self, request, extra_context=None):
        from intake.review.login import logout_view

        return logout_view(request)
