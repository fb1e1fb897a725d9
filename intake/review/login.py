"""The staff login, in two steps: the password, then a second factor (intake.review.door).

An account with no factor cannot log in at all, and is told exactly what a wrong password is told:
nothing here says whether an account exists or has factors. Guessing is throttled per typed name
(intake.throttle). The login is audited when the second factor is done, with which kind it was.
"""

import logging
from functools import partial

from csp.decorators import csp_update
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, user_login_failed
from django.contrib.auth.views import LogoutView
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.middleware import is_verified as otp_is_verified

from intake import factors, throttle
from intake.access import is_verified
from intake.review import door

log = logging.getLogger(__name__)

WRONG_PASSWORD = _("Your username and password did not match. Please try again.")
WRONG_CODE = _("That code is not right. Try the code your app shows now.")
WRONG_RECOVERY_CODE = _("That recovery code is not right, or it has been used.")

logout_view = LogoutView.as_view()


class PasswordForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none", "dir": "ltr"}
        ),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "dir": "ltr", "size": 8}
        ),
    )


class RecoveryCodeForm(forms.Form):
    recovery_code = forms.CharField(
        label=_("Recovery code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "dir": "ltr"}),
    )


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = door.safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if is_verified(request.user):
        return redirect(next_url or door.home(request.user))
    form = PasswordForm(request.POST or None)
    error = None
    if form.is_bound:
        error = WRONG_PASSWORD
        if form.is_valid():
            username = form.cleaned_data["username"]
            error = throttle.refusal(username) or _check_password(request, form, next_url)
            if error is None:
                return redirect("review:verify")
    return render(request, "review/login.html", {"form": form, "error": error, "next": next_url})


def _check_password(request, form, next_url):
    """Log the account in, unverified, if the password is right and it has a factor; else the error."""
    username = form.cleaned_data["username"]
    try:
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
    except ValidationError as refused:  # the throttle's refusal, if it came after we asked
        return refused.messages[0]
    if user is not None and factors.has_factor(user):
        login(request, user)
        door.password_accepted(request, next_url)
        return None
    if user is not None:
        # The right password of an account with no factor: refused, counted and logged as a wrong one.
        throttle.record_failure(username, user)
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    return WRONG_PASSWORD


@sensitive_post_parameters("code", "recovery_code")
@require_http_methods(["GET", "POST"])
@csp_update({"script-src": ["'self'"], "connect-src": ["'self'"]})  # the passkey button, where there is one
def verify_view(request):
    user = request.user
    if not user.is_authenticated:
        return redirect("review:login")
    if is_verified(user):
        return redirect(request.session.get(door.NEXT) or door.home(user))
    code_form = CodeForm(request.POST if "code" in request.POST else None)
    recovery_form = RecoveryCodeForm(request.POST if "recovery_code" in request.POST else None)
    error = None
    if request.method == "POST":
        username = user.get_username()
        error = throttle.refusal(username)
        if error is None:
            device, error = _check_code(user, code_form, recovery_form)
            if device is not None:
                return logged_in(request, device)
            throttle.record_failure(username, user)
            log.warning("a staff second step failed")
        # A wrong code is not given back: the next try starts from an empty field.
        code_form, recovery_form = CodeForm(), RecoveryCodeForm()
    return render(
        request,
        "review/verify.html",
        {
            "code_form": code_form,
            "recovery_form": recovery_form,
            "error": error,
            "recovery_open": "recovery_code" in request.POST,
            "has_app": factors.apps_of(user).exists(),
            "has_passkey": factors.passkeys_of(user).exists(),
            "minutes": door.SECOND_STEP_SECONDS // 60,
        },
    )


def _check_code(user, code_form, recovery_form):
    if recovery_form.is_bound:
        valid = recovery_form.is_valid()
        device = factors.use_recovery_code(user, recovery_form.cleaned_data["recovery_code"]) if valid else None
        return device, WRONG_RECOVERY_CODE
    valid = code_form.is_bound and code_form.is_valid()
    device = factors.check_app_code(user, code_form.cleaned_data["code"]) if valid else None
    return device, WRONG_CODE


def logged_in(request, device):
    """The second factor is done: verify the session and go where the member was going."""
    next_url = request.session.pop(door.NEXT, "")
    request.session.pop(door.PASSWORD_AT, None)
    factors.complete_login(request, device)
    if factors.kind_of(device) == factors.RECOVERY_CODE:
        left = factors.recovery_codes_left(request.user)
        messages.warning(
            request,
            ngettext(
                "You used a recovery code; %(left)d is left. If you lost your phone, add your new authenticator "
                "app here, remove the old one, and make new recovery codes.",
                "You used a recovery code; %(left)d are left. If you lost your phone, add your new authenticator "
                "app here, remove the old one, and make new recovery codes.",
                left,
            )
            % {"left": left},
        )
        return redirect("review:account")
    return redirect(next_url or door.home(request.user))


def log_in_after_setup(request, user, app) -> None:
    """The setup link is done: the member is logged in with the app they have just enrolled."""
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    factors.complete_login(request, app)
    # login() put a plain account object on the request, without what OTPMiddleware adds to one; the
    # page rendered now must see the session as it is, verified.
    request.user.is_verified = partial(otp_is_verified, request.user)
