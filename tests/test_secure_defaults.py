"""Secure defaults: headers, cookies, debug, and a clean `check --deploy` with production settings."""

import os
import re
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import ROOT

PRODUCTION_ENVIRONMENT = {
    "SECRET_KEY": "production-" + "k" * 60,
    "ALLOWED_HOSTS": "intake.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "true",
    "INTAKE_BEHIND_TLS_PROXY": "true",
}


def run_manage(*args, env_extra=None):
    from django.conf import settings

    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECRET_KEY", "SECURE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "INTAKE_DATA_DIR": str(settings.DATA_DIR / "manage")})
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION_ENVIRONMENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_production_settings():
    """The check above can fail: without HTTPS settings the same check complains."""
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_extra={"SECRET_KEY": "k" * 60})
    assert result.returncode != 0


def test_debug_is_off_unless_explicitly_set():
    code = "from django.conf import settings; print(settings.DEBUG)"
    result = run_manage("shell", "-c", code, env_extra={"SECRET_KEY": "k" * 60})
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr
    result = run_manage("shell", "-c", code, env_extra={"SECRET_KEY": "k" * 60, "DJANGO_DEBUG": "true"})
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr


def assert_security_headers(response, stored=False):
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # Scripts from our own files only ("Leave quickly", the photo check, the passkey buttons), never inline.
    assert "script-src 'self';" in csp + ";" and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in response
    if not stored:
        assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", [reverse("witness:submit"), reverse("witness:status"), reverse("review:login")])
def test_every_page_sends_the_security_headers(client, url):
    assert_security_headers(client.get(url))


def test_static_files_send_the_same_security_headers_and_no_cors_and_are_not_stored(settings):
    """A cached file keeps the time it was fetched, in the browser's cache on the witness's phone."""
    from django.test import Client

    settings.WHITENOISE_USE_FINDERS = True  # the tests do not collect static files
    response = Client().get("/static/intake/site.css")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("ssl_redirect", [False, True])
def test_the_page_for_an_unknown_host_sends_the_security_headers(settings, ssl_redirect):
    """Refused in SecurityMiddleware (with the redirect to HTTPS on) or later: the headers are there."""
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = ssl_redirect
    response = Client().get(reverse("witness:submit"), HTTP_HOST="phish.example")
    assert response.status_code == 400
    assert "Nothing was stored" in response.content.decode()
    assert_security_headers(response)


@pytest.mark.django_db
def test_the_pages_of_the_body_guard_send_the_security_headers(client, settings):
    settings.INTAKE_MAX_REQUEST_BYTES = 100
    too_large = client.post(reverse("witness:status"), {"receipt": "x" * 200})
    assert too_large.status_code == 413
    assert_security_headers(too_large)


@pytest.mark.django_db
def test_an_image_cannot_be_framed(reviewer_client, photo):
    from intake.models import Image, Submission

    submission = Submission.objects.create(receipt_digest="d" * 64, account="x")
    image = Image.objects.create(
        submission=submission,
        position=0,
        state=Image.State.CLEAN,
        clean_blob=_clean_blob(photo),
        media_type="image/jpeg",
    )
    response = reviewer_client.get(reverse("review:image", args=[image.pk]))
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "sandbox" in response["Content-Security-Policy"]


def _clean_blob(data: bytes) -> str:
    from intake import blobs

    return blobs.write(data)


def test_cookies_are_secure_httponly_and_samesite(client, settings):
    response = client.get(reverse("witness:submit"))
    cookie = response.cookies[settings.CSRF_COOKIE_NAME]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
    assert settings.SESSION_COOKIE_SECURE and settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Strict"


def test_no_template_has_inline_script_or_style():
    """A script is one of our own files, deferred, with nothing inside the tag."""
    own_file = re.compile(r"""<script src="\{% static '[\w/]+\.js' %\}" defer></script>""")
    for template in (ROOT / "templates").rglob("*.html"):
        text = own_file.sub("", template.read_text())
        assert "<script" not in text and "style=" not in text and "<style" not in text, template


def test_staff_login_form_has_a_csrf_token(client):
    assert "csrfmiddlewaretoken" in client.get(reverse("review:login")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("origin", "with_token", "accepted"),
    [
        ("http://testserver", True, True),  # what browsers send on our own forms under same-origin
        ("null", True, False),  # no exception any more: a planted cookie and token pair is refused
        ("https://evil.example", True, False),
        ("null", False, False),
        (None, False, False),
    ],
)
def test_csrf_checks_the_token_and_refuses_foreign_origins(origin, with_token, accepted):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    token = client.get(reverse("witness:status")).cookies["csrftoken"].value
    data = {"receipt": "x", **({"csrfmiddlewaretoken": token} if with_token else {})}
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    response = client.post(reverse("witness:status"), data, **headers)
    assert (response.status_code == 200) is accepted


def test_djangos_own_csrf_middleware_is_installed_and_its_check_not_silenced(settings):
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    assert not [check for check in settings.SILENCED_SYSTEM_CHECKS if check.startswith("security.")]
