"""Passkeys and security keys, a second factor only: the ceremonies run with a software authenticator
(soft_webauthn), posting the JSON that django-otp-webauthn's scripts would post."""

import json
from base64 import urlsafe_b64decode, urlsafe_b64encode

import pytest
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential
from soft_webauthn import SoftWebauthnDevice

from intake import throttle
from intake.models import AuditEvent
from tests.conftest import log_in
from tests.staff_login import enrol_app, enter_password, is_logged_in, text

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"


def b64(data: bytes) -> str:
    return urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text_: str) -> bytes:
    return urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


def post_json(client, name, data=None):
    return client.post(reverse(f"otp_webauthn:{name}"), json.dumps(data or {}), content_type="application/json")


def register(client, device: SoftWebauthnDevice):
    options = post_json(client, "credential-registration-begin").json()
    options["challenge"] = unb64(options["challenge"])
    created = device.create({"publicKey": options}, ORIGIN)
    return post_json(
        client,
        "credential-registration-complete",
        {
            "id": b64(created["rawId"]),
            "rawId": b64(created["rawId"]),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(created["response"]["clientDataJSON"]),
                "attestationObject": b64(created["response"]["attestationObject"]),
                "transports": ["usb"],
            },
            "clientExtensionResults": {},
        },
    )


def authenticate(client, device: SoftWebauthnDevice):
    begin = post_json(client, "credential-authentication-begin")
    if begin.status_code != 200:
        return begin
    options = begin.json()
    options["challenge"] = unb64(options["challenge"])
    assertion = device.get({"publicKey": options}, ORIGIN)
    return post_json(
        client,
        "credential-authentication-complete",
        {
            "id": b64(assertion["rawId"]),
            "rawId": b64(assertion["rawId"]),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(assertion["response"]["authenticatorData"]),
                "clientDataJSON": b64(assertion["response"]["clientDataJSON"]),
                "signature": b64(assertion["response"]["signature"]),
            },
            "clientExtensionResults": {},
        },
    )


@pytest.fixture
def key_of_rania(client, reviewer):
    """Rania, with an authenticator app and a security key registered from her account page."""
    log_in(client, reviewer)
    device = SoftWebauthnDevice()
    response = register(client, device)
    assert response.status_code == 200, response.content
    client.post(reverse("review:logout"))
    return device


def test_a_member_registers_a_security_key_and_logs_in_with_password_and_key(client, reviewer, key_of_rania):
    credential = WebAuthnCredential.objects.get()
    assert credential.user == reviewer
    assert AuditEvent.objects.get(action="enrolled_factor").detail == {"factor": "passkey"}

    enter_password(client, "rania")
    page = text(client.get(reverse("review:verify")))
    assert "passkey-verification-button" in page and "otp_webauthn_auth.js" in page
    response = authenticate(client, key_of_rania)
    assert response.status_code == 200 and response.json()["redirect_url"] == reverse("review:queue")
    assert is_logged_in(client)
    assert client.get(reverse("review:queue")).status_code == 200
    assert AuditEvent.objects.filter(action="logged_in").latest("at").detail == {"factor": "passkey"}


def test_a_key_never_logs_in_by_itself(client, reviewer, key_of_rania):
    response = authenticate(client, key_of_rania)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("review:queue")).status_code == 302


def test_a_key_of_another_member_does_not_verify(client, reviewer, outsider, key_of_rania):
    enrol_app(outsider)
    enter_password(client, "olga")
    begin = post_json(client, "credential-authentication-begin").json()
    options = {**begin, "challenge": unb64(begin["challenge"])}
    assertion = key_of_rania.get({"publicKey": options}, ORIGIN)
    response = post_json(
        client,
        "credential-authentication-complete",
        {
            "id": b64(assertion["rawId"]),
            "rawId": b64(assertion["rawId"]),
            "type": "public-key",
            "response": {
                key: b64(assertion["response"][key]) for key in ("authenticatorData", "clientDataJSON", "signature")
            },
        },
    )
    assert response.status_code >= 400 and not is_logged_in(client)


def test_a_signature_for_another_origin_does_not_verify(client, reviewer, key_of_rania):
    enter_password(client, "rania")
    begin = post_json(client, "credential-authentication-begin").json()
    options = {**begin, "challenge": unb64(begin["challenge"])}
    assertion = key_of_rania.get({"publicKey": options}, "https://phish.example")
    response = post_json(
        client,
        "credential-authentication-complete",
        {
            "id": b64(assertion["rawId"]),
            "rawId": b64(assertion["rawId"]),
            "type": "public-key",
            "response": {
                key: b64(assertion["response"][key]) for key in ("authenticatorData", "clientDataJSON", "signature")
            },
        },
    )
    assert response.status_code == 422 and not is_logged_in(client)


def test_a_throttled_name_cannot_use_its_key(client, reviewer, key_of_rania, monkeypatch):
    enter_password(client, "rania")
    monkeypatch.setattr(throttle, "refusal", lambda name: "Locked: wait.")
    response = authenticate(client, key_of_rania)
    assert response.status_code == 403 and "Locked" in response.json()["detail"]
    assert not is_logged_in(client)


def test_a_password_alone_cannot_register_a_key(client, reviewer):
    enrol_app(reviewer)
    enter_password(client, "rania")
    response = post_json(client, "credential-registration-begin")
    assert response.status_code == 302 and response["Location"] == reverse("review:verify")
    assert not WebAuthnCredential.objects.exists()


def test_scripts_may_call_the_server_only_on_the_pages_with_a_passkey_button(client, reviewer):
    """Every page may run our own script files (tests/test_safety.py); only these may also call back."""
    log_in(client, reviewer)
    account = client.get(reverse("review:account"))
    assert "script-src 'self'" in account["Content-Security-Policy"]
    assert "connect-src 'self'" in account["Content-Security-Policy"]
    assert "otp_webauthn_register.js" in text(account)
    for url in (reverse("review:queue"), reverse("review:add_app"), reverse("review:password_change")):
        page = client.get(url)
        assert "connect-src" not in page["Content-Security-Policy"], url
        assert "<script" not in text(page), url


def test_a_member_removes_a_key(client, reviewer, key_of_rania):
    log_in(client, reviewer)
    credential = WebAuthnCredential.objects.get()
    client.post(reverse("review:remove_factor", args=["passkey", credential.pk]))
    assert not WebAuthnCredential.objects.exists()
    assert AuditEvent.objects.filter(action="removed_factor", detail__factor="passkey").exists()
    enter_password(client, "rania")
    assert "passkey-verification-button" not in text(client.get(reverse("review:verify")))
