"""Passkeys and security keys (django-otp-webauthn), a second factor only: its API, mounted under
``/staff/webauthn/``, with the package's views narrowed to what the staff door allows.

- Authentication is the second step of a login whose password is done: it never logs anyone in by
  itself, is refused while the account's name is throttled, and completes the login as a code does.
- Registration needs a session with both factors done, and is audited.
- The relying party is the host name the staff pages are served on, and a signature must come from
  that host's own origin, unless ``INTAKE_WEBAUTHN_RP_ID`` and ``INTAKE_WEBAUTHN_ORIGINS`` say otherwise.
  Django has already checked the host against ``ALLOWED_HOSTS``. A passkey belongs to the host name
  it was registered on.
"""

import json

from django.conf import settings
from django.http.request import split_domain_port
from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import exceptions
from django_otp_webauthn import views as webauthn
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from intake import factors, throttle
from intake.access import is_verified
from intake.review import door


def relying_party_id(request) -> str:
    return settings.OTP_WEBAUTHN_RP_ID or split_domain_port(request.get_host())[0]


class Helper(WebAuthnHelper):
    def get_allowed_origins(self) -> list[str]:
        if settings.OTP_WEBAUTHN_ALLOWED_ORIGINS:
            return settings.OTP_WEBAUTHN_ALLOWED_ORIGINS
        host = self.request.get_host()
        # Behind a TLS proxy that does not say so (INTAKE_BEHIND_TLS_PROXY), a request looks like http
        # while the browser's origin is https. A browser offers WebAuthn on plain http only to
        # localhost, so accepting both names no other site.
        return sorted({f"{self.request.scheme}://{host}", f"https://{host}"})


class Refused(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "refused"


class _SecondStep:
    def check_can_authenticate(self):
        user = self.get_user()
        if user is None or not user.is_active:
            raise exceptions.PasswordlessLoginDisabled()
        refusal = throttle.refusal(user.get_username())
        if refusal:
            raise Refused(detail=str(refusal))


class BeginAuthentication(_SecondStep, webauthn.BeginCredentialAuthenticationView):
    pass


class CompleteAuthentication(_SecondStep, webauthn.CompleteCredentialAuthenticationView):
    def complete_auth(self, device):
        # Never Django's login(): the password step did that (the package would log in anyone here).
        if device.user_id != self.request.user.pk:
            raise exceptions.CredentialUserMismatch()
        next_url = self.request.session.pop(door.NEXT, "")
        self.request.session.pop(door.PASSWORD_AT, None)
        factors.complete_login(self.request, device)
        self.next_url = next_url or door.home(self.request.user)

    def get_success_url(self):
        return self.next_url


class _VerifiedOnly:
    def check_can_register(self):
        if not is_verified(self.request.user):
            raise exceptions.NotVerified()


class BeginRegistration(_VerifiedOnly, webauthn.BeginCredentialRegistrationView):
    pass


class CompleteRegistration(_VerifiedOnly, webauthn.CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        factors.record_passkey(WebAuthnCredential.objects.get(pk=json.loads(response.content)["id"]))
        return response


# Under the package's own names, which its templates and scripts use.
app_name = "otp_webauthn"
urlpatterns = [
    path("registration/begin/", BeginRegistration.as_view(), name="credential-registration-begin"),
    path("registration/complete/", CompleteRegistration.as_view(), name="credential-registration-complete"),
    path("authentication/begin/", BeginAuthentication.as_view(), name="credential-authentication-begin"),
    path("authentication/complete/", CompleteAuthentication.as_view(), name="credential-authentication-complete"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]), name="js-i18n-catalog"),
]
