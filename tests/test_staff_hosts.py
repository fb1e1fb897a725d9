"""With STAFF_HOSTS set, the staff side (its pages and the admin) lives only on its own host names and
the witness side only on the others; static files and the language switch work on both."""

import pytest
from django.test import Client
from django.urls import reverse

from intake.models import AuditEvent, Submission
from tests.conftest import log_in
from tests.test_secure_defaults import run_manage

pytestmark = pytest.mark.django_db

WITNESS_HOST = "intake.example.org"
STAFF_HOST = "staff.example.org"

STAFF_PAGES = [
    "/staff/",
    "/staff/login/",
    "/staff/password/",
    "/staff/admin/",
    "/staff/admin/login/",
    "/staff/no-such-page/",
]
WITNESS_PAGES = [reverse("witness:submit"), reverse("witness:status"), "/no-such-page/"]


@pytest.fixture
def split(settings):
    settings.ALLOWED_HOSTS = [WITNESS_HOST, STAFF_HOST]
    settings.STAFF_HOSTS = [STAFF_HOST]
    settings.WHITENOISE_USE_FINDERS = True  # the tests do not collect static files


def on(host):
    return Client(HTTP_HOST=host)


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_are_not_found_on_the_witness_host(split, path):
    assert on(WITNESS_HOST).get(path).status_code == 404
    assert on(STAFF_HOST).get(path).status_code != 404 or path == "/staff/no-such-page/"


def test_a_logged_in_reviewer_finds_the_queue_only_on_the_staff_host(split, reviewer):
    client = on(STAFF_HOST)
    log_in(client, reviewer)
    assert client.get(reverse("review:queue")).status_code == 200
    elsewhere = Client(HTTP_HOST=WITNESS_HOST)
    elsewhere.cookies = client.cookies
    assert elsewhere.get(reverse("review:queue")).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED).exists()  # not attributed there


def test_the_login_form_cannot_be_posted_to_the_witness_host(split, reviewer):
    response = on(WITNESS_HOST).post(
        reverse("review:login"), {"username": "rania", "password": "correct horse battery staple"}
    )
    assert response.status_code == 404
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("path", WITNESS_PAGES)
def test_witness_pages_are_not_found_on_the_staff_host(split, path):
    assert on(STAFF_HOST).get(path).status_code == 404
    assert on(WITNESS_HOST).get(path).status_code == (404 if path == "/no-such-page/" else 200)


def test_no_testimony_can_be_sent_to_the_staff_host(split):
    response = on(STAFF_HOST).post(reverse("witness:submit"), {"account": "They came at dawn."})
    assert response.status_code == 404
    assert not Submission.objects.exists()


@pytest.mark.parametrize("host", [WITNESS_HOST, STAFF_HOST])
def test_static_files_and_the_language_switch_work_on_both(split, host):
    assert on(host).get("/static/intake/site.css").status_code == 200
    response = on(host).post(reverse("set_language"), {"language": "ar", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "ar"


def test_without_staff_hosts_both_sides_answer_on_every_allowed_host(settings):
    settings.ALLOWED_HOSTS = [WITNESS_HOST, STAFF_HOST]
    settings.STAFF_HOSTS = []
    for host in (WITNESS_HOST, STAFF_HOST):
        assert on(host).get(reverse("witness:submit")).status_code == 200
        assert on(host).get(reverse("review:login")).status_code == 200


@pytest.mark.parametrize("allowed", [WITNESS_HOST, f"{WITNESS_HOST},{STAFF_HOST}"])
def test_staff_hosts_are_allowed_hosts_without_being_listed_twice(allowed):
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.ALLOWED_HOSTS)",
        env_extra={"ALLOWED_HOSTS": allowed, "STAFF_HOSTS": STAFF_HOST},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == repr([WITNESS_HOST, STAFF_HOST])
