"""Safety for the witness: the safety page, the onion address, "Leave quickly" on every witness page and
on none of the staff's, the scripts allowed by the CSP, and the photo check's limits and messages."""

import re
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import translation

from config.env import env_onion, env_url
from intake.models import Submission
from tests.conftest import BrowserClient, camera_jpeg, form_token, log_in
from tests.test_secure_defaults import run_manage

pytestmark = pytest.mark.django_db

ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
SAFETY = reverse("witness:safety")
SUBMIT = reverse("witness:submit")
STATUS = reverse("witness:status")
ON_ONION = "You are using our onion address: your connection is private from end to end through Tor."


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes, and the text inside each element of interest."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **wanted) -> list[dict]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(key.replace("_", "-")) == value for key, value in wanted.items())
        ]


def tags(response) -> Tags:
    return Tags(response.content.decode())


def quick_exits(response) -> list[dict]:
    return tags(response).find("a", **{"class": "quick-exit"})


@pytest.fixture
def onion(settings):
    settings.INTAKE_ONION_ADDRESS = ONION
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver", ONION]


# --- The safety page -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_safety_page_is_served_in_each_language(client, language):
    client.cookies["django_language"] = language
    response = client.get(SAFETY)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}">' in html
    with translation.override(language):
        for heading in ("Use Tor Browser", "What we cannot remove", "Your receipt is evidence"):
            assert str(translation.gettext(heading)) in html
        # What cleaning cannot remove, and how to clear what the browser keeps.
        for advice in (
            "faces, yours too;",
            "voices, yours too, and names or places said aloud: we keep the sound of a video, because it is evidence;",
            "landmarks, buildings, street signs and shop names;",
            "uniforms, badges, vehicles and number plates;",
            "anything written in the picture, or shown on a screen;",
            "In Tor Browser, close it: it forgets the pages you visited.",
            "In another browser, close this site's tabs, then clear the browsing data: the history, the cookies, "
            "and the cached images and files; and delete the list of downloads. Deleting only this site from the "
            "history leaves the rest. Next time, a private tab keeps less.",
        ):
            assert translation.gettext(advice) in html, advice


def test_the_form_and_the_status_page_lead_to_the_safety_page(client):
    for page in (SUBMIT, STATUS):
        assert tags(client.get(page)).find("a", href=SAFETY), page


def test_the_safety_page_shows_the_onion_address_as_text_to_copy(client, onion):
    page = tags(client.get(SAFETY))
    [code] = page.find("code", dir="ltr")
    assert code.get("translate") == "no"
    assert f"http://{ONION}/</code>" in client.get(SAFETY).content.decode()
    assert "Ask the organisation that gave you this link" not in client.get(SAFETY).content.decode()


def test_without_an_onion_address_the_safety_page_says_whom_to_ask(client, settings):
    settings.INTAKE_ONION_ADDRESS = ""
    html = client.get(SAFETY).content.decode()
    assert "Ask the organisation that gave you this link for it." in html
    assert ".onion" not in html


def test_the_safety_page_answers_nothing_but_reading(client):
    assert client.post(SAFETY).status_code == 405


# --- The onion address ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", [ONION, f"{ONION}:80", ONION.upper()])
def test_the_form_says_so_when_it_is_reached_through_the_onion_address(onion, host):
    response = BrowserClient(HTTP_HOST=host).get(SUBMIT)
    assert response.status_code == 200
    assert ON_ONION in response.content.decode()


def test_the_form_says_nothing_of_the_onion_on_another_address(client, onion):
    assert ON_ONION not in client.get(SUBMIT).content.decode()


def test_on_the_onion_address_the_safety_page_says_it_is_in_use(onion):
    assert "You are using our onion address now." in BrowserClient(HTTP_HOST=ONION).get(SAFETY).content.decode()


def test_a_testimony_can_be_sent_through_the_onion_address(onion):
    from tests.test_witness import upload

    response = BrowserClient(HTTP_HOST=ONION).post(
        SUBMIT, {**form_token(), "account": "Seen from the onion.", "images": [upload(camera_jpeg())]}
    )
    assert response.status_code == 200
    assert Submission.objects.get().account == "Seen from the onion."


def test_tor_browser_is_offered_the_onion_address_on_witness_pages_over_https(onion, client):
    page = client.get(SUBMIT + "?x=1", secure=True)
    assert page["Onion-Location"] == f"http://{ONION}{SUBMIT}?x=1"
    # Not over plain HTTP (Tor Browser ignores it there), not on the onion itself, not to staff.
    assert "Onion-Location" not in client.get(SUBMIT)
    assert "Onion-Location" not in BrowserClient(HTTP_HOST=ONION).get(SUBMIT, secure=True)
    assert "Onion-Location" not in client.get(reverse("review:login"), secure=True)


def test_no_onion_address_is_offered_without_one(client, settings):
    settings.INTAKE_ONION_ADDRESS = ""
    assert "Onion-Location" not in client.get(SUBMIT, secure=True)


def test_the_onion_address_is_a_witness_host_when_staff_have_their_own(onion, settings):
    settings.STAFF_HOSTS = ["staff.example.org"]
    on_onion = BrowserClient(HTTP_HOST=ONION)
    assert on_onion.get(SUBMIT).status_code == 200
    assert on_onion.get(reverse("review:login")).status_code == 404


def test_the_onion_address_is_an_allowed_host_without_being_listed():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.ALLOWED_HOSTS, settings.INTAKE_ONION_ADDRESS)",
        env_extra={"ALLOWED_HOSTS": "intake.example.org", "INTAKE_ONION_ADDRESS": f" {ONION.upper()}\n"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"{['intake.example.org', ONION]!r} {ONION}"


def test_the_onion_address_cannot_also_be_a_staff_host():
    result = run_manage(
        "check", env_extra={"ALLOWED_HOSTS": "x.org", "INTAKE_ONION_ADDRESS": ONION, "STAFF_HOSTS": ONION}
    )
    assert result.returncode != 0
    assert "cannot be in STAFF_HOSTS" in result.stderr


@pytest.mark.parametrize(
    "raw", [f"http://{ONION}/", "example.org", "abc.onion", ONION.replace(".onion", "1.onion"), ONION + ".org"]
)
def test_an_onion_address_that_is_not_one_fails_loudly(monkeypatch, raw):
    monkeypatch.setenv("ONION", raw)
    with pytest.raises(ImproperlyConfigured, match="ONION"):
        env_onion("ONION")


def test_no_onion_address_is_none(monkeypatch):
    monkeypatch.delenv("ONION", raising=False)
    assert env_onion("ONION") == ""


# --- Leave quickly -------------------------------------------------------------------------------


def test_leave_quickly_is_on_every_witness_page_and_tells_the_next_site_nothing(client, settings):
    settings.INTAKE_QUICK_EXIT_URL = "https://weather.example/"
    from tests.test_witness import upload

    sent = client.post(SUBMIT, {**form_token(), "account": "Seen.", "images": [upload(camera_jpeg())]})
    pages = {
        "form": client.get(SUBMIT),
        "refused form": client.post(SUBMIT, {"account": ""}),
        "status": client.get(STATUS),
        "safety": client.get(SAFETY),
        "not found": client.get("/no/such/page/"),
    }
    for name, response in pages.items():
        [link] = quick_exits(response)
        assert link["href"] == "https://weather.example/", name
        assert link["rel"] == "noreferrer", name
        [script] = tags(response).find("script", src="/static/intake/exit.js")
        assert "defer" in script, name

    # From the receipt's page, it goes through the service, which ends the page's cookie first.
    [link] = quick_exits(sent)
    visit = sent.see_other["Location"].split("/")[2]
    assert link["href"] == reverse("witness:leave", args=[visit]) and link["rel"] == "noreferrer"


def test_leaving_quickly_from_a_page_a_cookie_opens_ends_the_cookie_so_back_shows_nothing(client, settings):
    from intake import receipts
    from intake.models import Submission
    from intake.witness import views

    settings.INTAKE_QUICK_EXIT_URL = "https://weather.example/"
    receipt = receipts.new_receipt()
    Submission.objects.create(receipt_digest=receipts.digest(receipts.normalise(receipt)), account="Seen at dawn.")
    page = client.post(STATUS, {"receipt": receipt})
    here = page.see_other["Location"]
    assert 'class="status-value"' in page.content.decode()  # the testimony's page
    [link] = quick_exits(page)
    left = client.get(link["href"]).see_other  # the 303 (the test client follows it, to our own "/")
    assert left.status_code == 303 and left["Location"] == "https://weather.example/"
    ended = left.cookies[views.ACCESS_COOKIE]
    assert ended.value == "" and ended["path"] == here and ended["max-age"] == 0
    # Back, to the page left: the receipt is asked for.
    client.cookies[views.ACCESS_COOKIE] = ""
    assert client.get(here, follow=True).redirect_chain == [(STATUS, 302)]


def test_leaving_quickly_from_a_testimony_drawn_at_the_receipts_address_ends_its_cookie(client, settings):
    """A receipt typed with an answer kept (from a page open too long) draws the testimony at /status/."""
    from intake import receipts
    from intake.models import Submission

    settings.INTAKE_QUICK_EXIT_URL = "https://weather.example/"
    receipt = receipts.new_receipt()
    Submission.objects.create(receipt_digest=receipts.digest(receipts.normalise(receipt)), account="Seen.")
    page = client.post(STATUS, {"receipt": receipt, "draft": "Kept."})
    assert 'class="status-value"' in page.content.decode() and not hasattr(page, "see_other")
    [link] = quick_exits(page)
    visit = re.search(r'action="/status/open/([-\w]+)/answer/"', page.content.decode()).group(1)
    assert link["href"] == reverse("witness:leave", args=[visit])


def test_leave_quickly_is_on_the_pages_rendered_without_a_request(client, settings):
    """The 500 page is rendered with no request, and so no context processor."""
    from django.views.defaults import server_error

    settings.INTAKE_QUICK_EXIT_URL = "https://weather.example/"
    response = server_error(client.get(SUBMIT).wsgi_request)
    [link] = quick_exits(response)
    assert link["href"] == "https://weather.example/"


def test_the_refusal_pages_have_leave_quickly_too(client, settings):
    settings.INTAKE_MAX_REQUEST_BYTES = 10
    response = client.post(STATUS, {"receipt": "x" * 100})
    assert response.status_code == 413
    assert quick_exits(response)


def test_staff_pages_have_no_leave_quickly_and_load_no_exit_script(client, reviewer):
    assert not quick_exits(client.get(reverse("review:login")))
    log_in(client, reviewer)
    queue = client.get(reverse("review:queue"))
    assert queue.status_code == 200
    assert not quick_exits(queue)
    assert "exit.js" not in queue.content.decode()


@pytest.mark.parametrize("raw", ["javascript:alert(1)", "data:text/html,hi", "weather.com", "//weather.com"])
def test_a_quick_exit_address_that_could_run_script_or_is_not_absolute_fails_loudly(monkeypatch, raw):
    monkeypatch.setenv("EXIT", raw)
    with pytest.raises(ImproperlyConfigured, match="EXIT"):
        env_url("EXIT", "https://weather.com/")


def test_the_quick_exit_address_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("EXIT", " https://meteo.example/ ")
    assert env_url("EXIT", "https://weather.com/") == "https://meteo.example/"
    monkeypatch.delenv("EXIT")
    assert env_url("EXIT", "https://weather.com/") == "https://weather.com/"


# --- Scripts under the CSP -----------------------------------------------------------------------


def test_scripts_may_come_from_our_own_files_only(client):
    for page in (SUBMIT, SAFETY, STATUS):
        response = client.get(page)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        for script in tags(response).find("script"):
            assert script["src"].startswith("/static/intake/") and "defer" in script, page


def test_the_photo_check_is_loaded_on_the_form_only_where_a_photo_can_be_chosen(client):
    [script] = tags(client.get(SUBMIT)).find("script", src="/static/intake/photos.js")
    assert "defer" in script
    assert not tags(client.get(SAFETY)).find("script", src="/static/intake/photos.js")


# --- The photo check's limits and messages --------------------------------------------------------


def photo_input(response) -> dict:
    [field] = tags(response).find("input", type="file")
    return field


def test_the_photo_input_carries_the_limits_in_force(client, settings):
    settings.INTAKE_MAX_IMAGES = 3
    settings.INTAKE_MAX_IMAGE_BYTES = 5 * 1024 * 1024
    settings.INTAKE_MAX_TOTAL_BYTES = 12 * 1024 * 1024
    field = photo_input(client.get(SUBMIT))
    assert field["data-max-count"] == "3"
    assert field["data-max-bytes"] == str(5 * 1024 * 1024)
    assert field["data-max-total-bytes"] == str(12 * 1024 * 1024)
    assert field["data-message-too-many"] == "You can send at most 3 files at once. Please choose fewer."
    assert field["data-message-too-large"] == "“{name}” is larger than 5.0\xa0MB, the most for a photo."
    assert field["data-message-total"] == "Together the files are larger than 12.0\xa0MB."


def test_the_photo_check_accepts_every_type_the_server_accepts(client):
    from intake import cleaning

    field = photo_input(client.get(SUBMIT))
    accepted = set(field["data-accept-types"].split(","))
    assert cleaning.ACCEPTED_MEDIA_TYPES <= accepted
    assert not {"image/svg+xml", "image/bmp", "application/pdf", "video/x-msvideo", "video/x-flv"} & accepted
    # The device's file chooser offers the same types, photos and videos alike.
    assert set(field["accept"].split(",")) == accepted


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_photo_checks_messages_are_in_the_page_language(client, language):
    client.cookies["django_language"] = language
    field = photo_input(client.get(SUBMIT))
    with translation.override(language):
        assert field["data-message-empty"] == str(translation.gettext("“%(name)s” is empty.")) % {"name": "{name}"}
        assert field["data-message-too-many"] == translation.ngettext(
            "You can send at most %(limit)d file at once. Please choose fewer.",
            "You can send at most %(limit)d files at once. Please choose fewer.",
            10,
        ) % {"limit": 10}
