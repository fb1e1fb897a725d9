"""A member's own account: their second factors, listed, added and removed, and new recovery codes.

Behind the staff door, so only a session with both factors reaches it. The last authenticator app
cannot be removed (intake.factors); removing any factor logs every session of the account out.
"""

from csp.decorators import csp_update
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp_webauthn.models import WebAuthnCredential

from intake import factors
from intake.models import AuthenticatorApp
from intake.review import enrol

REMOVABLE = {"app": AuthenticatorApp, "passkey": WebAuthnCredential}


@require_GET
@csp_update({"script-src": ["'self'"], "connect-src": ["'self'"]})  # registering a passkey
def account(request):
    user = request.user
    return render(
        request,
        "review/account.html",
        {
            "apps": factors.apps_of(user),
            "passkeys": factors.passkeys_of(user),
            "codes_left": factors.recovery_codes_left(user),
        },
    )


@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def add_app(request):
    app = enrol.waiting_app(request, request.user)
    form = enrol.FirstCodeForm(request.POST or None)
    if form.is_valid():
        if factors.confirm_app(app, form.cleaned_data["code"]):
            enrol.forget_waiting_app(request)
            messages.success(request, _("Your authenticator app is added."))
            return redirect("review:account")
        form.add_error("code", enrol.WRONG_FIRST_CODE)
    return render(request, "review/add_app.html", {"form": form, "account": request.user, **enrol.app_context(app)})


@require_POST
def remove_factor(request, kind, device_id):
    if kind not in REMOVABLE:
        raise Http404
    user = request.user
    device = get_object_or_404(REMOVABLE[kind], pk=device_id, user=user, confirmed=True)
    if not factors.remove_factor(user, device):
        messages.error(request, _("Your last authenticator app cannot be removed. Add another one first."))
        return redirect("review:account")
    # A factor taken away ends every session of its account (intake.signals), this one too: whoever
    # held it must now show a factor that is still there.
    logout(request)
    messages.success(request, _("Removed. Log in again with a factor you still have."))
    return redirect("review:login")


@require_POST
def new_recovery_codes(request):
    codes = factors.new_recovery_codes(request.user)
    return render(request, "review/recovery_codes.html", {"codes": codes, "continue_to": reverse("review:account")})
