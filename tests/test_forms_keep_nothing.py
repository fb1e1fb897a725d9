"""The testimony form over HTTP: sent twice it is stored once and shows nothing it held; switched to another
language it keeps the text and stores nothing; refused, it says so first, with links to the fields."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from intake import sent_forms
from intake.models import SentForm, Submission
from intake.witness import views
from tests.conftest import BrowserClient
from tests.test_witness import receipt_in, upload

pytestmark = pytest.mark.django_db

SUBMIT = reverse("witness:submit")
ACCOUNT = "MARKER-7731 Men in masks took my neighbours at night."


def hidden_fields(page: str) -> dict[str, str]:
    form = re.search(r'<form[^>]*id="testimony".*?</form>', page, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def drawn(client) -> dict[str, str]:
    """The form's hidden fields, as the browser got them with the page."""
    return hidden_fields(client.get(SUBMIT).content.decode())


def filled(form: dict, **fields) -> dict:
    return {**form, "account": ACCOUNT, "happened_when": "MARKER-when", "happened_where": "MARKER-where", **fields}


def shows_nothing_written(page: str) -> bool:
    return "MARKER" not in page


# --- Sent twice, stored once ---------------------------------------------------------------------


def test_a_form_sent_again_stores_nothing_and_shows_the_same_receipt(client, photo):
    form = drawn(client)
    first = client.post(SUBMIT, filled(form, images=[upload(photo)]))
    again = client.post(SUBMIT, filled(form, images=[upload(photo)]))  # a reload of the receipt page
    assert receipt_in(first) and receipt_in(again) == receipt_in(first)
    assert "It came with 1 photo or video." in again.content.decode()
    assert Submission.objects.count() == 1 and Submission.objects.get().images.count() == 1
    assert shows_nothing_written(again.content.decode())


def cookie_of(response, name: str):
    """The cookie ``name`` as a redirect set it, attributes and all."""
    return response.see_other.cookies[name]


def test_a_stored_testimony_answers_with_a_bare_redirect_and_a_cookie_only_its_receipt_page_gets(client):
    """The page that answers a POST stays in the history with what was sent (and Chromium writes it to
    disk): a stored form is answered with a 303, so what stays is the receipt page's bare address."""
    page = client.post(SUBMIT, filled(drawn(client)))
    redirect = page.see_other
    here = redirect["Location"]
    assert redirect.status_code == 303 and re.fullmatch(r"/receipt/[-\w]+/", here)
    assert redirect.content == b""
    cookie = cookie_of(page, views.SENT_COOKIE)
    assert cookie["path"] == here and cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["secure"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # never written to disk; the server holds its time
    assert "Keep this receipt secret" in page.content.decode() and shows_nothing_written(page.content.decode())
    # The receipt's own page, loaded again, shows the same receipt; without the cookie, the form.
    assert receipt_in(client.get(here)) == receipt_in(page)
    assert BrowserClient().get(here)["Location"] == SUBMIT
    # A second testimony from the same browser has an address, and a cookie, of its own.
    assert client.post(SUBMIT, filled(drawn(client))).see_other["Location"] != here


def test_a_receipt_page_that_cannot_read_the_database_says_the_testimony_was_received(client, monkeypatch):
    """It was stored before the redirect: the witness must not send it again, only reload."""
    from django.db import OperationalError

    here = client.post(SUBMIT, filled(drawn(client))).see_other["Location"]

    def down(token):
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(sent_forms, "check", down)
    response = client.get(here)
    assert response.status_code == 503 and response["Retry-After"]
    page = response.content.decode()
    assert "Your testimony was received" in page and "Do not send it again" in page
    monkeypatch.undo()
    assert "Keep this receipt secret" in client.get(here).content.decode()
    assert Submission.objects.count() == 1


def test_the_receipt_page_offers_the_language_switch_and_comes_back_to_the_receipt(client):
    page = client.post(SUBMIT, filled(drawn(client)))
    here = page.see_other["Location"]
    assert f'name="next" type="hidden" value="{here}"' in page.content.decode()
    arabic = client.post(reverse("set_language"), {"language": "ar", "next": here}, follow=True)
    assert 'lang="ar"' in arabic.content.decode()
    assert receipt_in(arabic) == receipt_in(page)


def test_after_a_quarter_hour_a_repeat_says_it_was_received_and_shows_no_receipt(client, clock):
    form = drawn(client)
    receipt = receipt_in(client.post(SUBMIT, filled(form)))
    clock.advance(minutes=31)
    again = client.post(SUBMIT, filled(form))
    page = again.content.decode()
    assert again.status_code == 200
    assert "This testimony was already received and was not stored twice" in page
    assert receipt not in receipt_in(again) + page.replace(" ", "")
    assert shows_nothing_written(page) and 'name="account"' not in page
    assert Submission.objects.count() == 1


def test_a_repeat_of_a_form_that_came_back_refused_stores_nothing_and_shows_nothing(client):
    """The form refused, then corrected and sent: sending the refused page again (Back, reload) would
    bring its text back, were its token not the one that was stored."""
    refused = client.post(SUBMIT, filled(drawn(client), account=""))
    assert "There is a problem" in refused.content.decode()
    corrected = hidden_fields(refused.content.decode())
    client.post(SUBMIT, filled(corrected))
    again = client.post(SUBMIT, filled(corrected, account=""))
    assert shows_nothing_written(again.content.decode())
    assert Submission.objects.count() == 1


def test_two_sends_at_once_store_one_testimony_and_both_show_its_receipt(client, monkeypatch):
    """The second send of a double tap finds the token free, then loses the race to claim it."""
    form = drawn(client)
    first = client.post(SUBMIT, filled(form))
    real_check = sent_forms.check
    calls = iter([sent_forms.Seen(sent_forms.FRESH)])
    monkeypatch.setattr(sent_forms, "check", lambda token: next(calls, None) or real_check(token))
    second = client.post(SUBMIT, filled(form))
    assert receipt_in(second) == receipt_in(first)
    assert Submission.objects.count() == 1 and SentForm.objects.count() == 1


def test_a_form_without_its_token_is_refused_with_the_text_and_a_new_token(client):
    form = {name: value for name, value in drawn(client).items() if name != sent_forms.FIELD}
    response = client.post(SUBMIT, filled(form))
    page = response.content.decode()
    assert response.status_code == 400 and "the page was out of date" in page
    assert ACCOUNT in page and "MARKER-where" in page
    assert not Submission.objects.exists()
    sent = client.post(SUBMIT, filled(hidden_fields(page)))
    assert receipt_in(sent) and Submission.objects.count() == 1


def test_a_form_older_than_its_days_stores_nothing_and_shows_nothing(client, clock):
    form = drawn(client)
    clock.advance(days=sent_forms.TOKEN_DAYS + 1)
    page = client.post(SUBMIT, filled(form)).content.decode()
    assert "This form is too old to send" in page and shows_nothing_written(page)
    assert not Submission.objects.exists()


def test_a_testimony_keeps_its_receipt_only_sealed_and_not_beside_it(client):
    receipt = receipt_in(client.post(SUBMIT, filled(drawn(client))))
    row = SentForm.objects.get()
    assert receipt.encode() not in bytes(row.sealed_receipt)
    assert [field.name for field in SentForm._meta.get_fields()] == ["digest", "expires_at", "sealed_receipt"]


# --- The language switch ---------------------------------------------------------------------------


def test_the_language_switch_keeps_the_text_stores_nothing_and_remembers_the_choice(client):
    form = drawn(client)
    response = client.post(SUBMIT, filled(form, language="ar"))
    page = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in page
    assert ACCOUNT in page and "MARKER-when" in page and "MARKER-where" in page
    assert "There is a problem" not in page  # a switch is not a send: nothing is checked
    assert hidden_fields(page)[sent_forms.FIELD] == form[sent_forms.FIELD]
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ar"
    assert not Submission.objects.exists() and not SentForm.objects.exists()
    assert '<html lang="ar"' in client.get(SUBMIT).content.decode()
    back = client.post(SUBMIT, filled(hidden_fields(page), language="en")).content.decode()
    assert '<html lang="en" dir="ltr">' in back and ACCOUNT in back


def test_the_language_buttons_send_the_form_without_its_photos(client):
    page = client.get(SUBMIT).content.decode()
    button = re.search(r'<button[^>]*name="language"[^>]*>', page).group(0)
    for attribute in ('form="testimony"', 'value="ar"', 'formenctype="application/x-www-form-urlencoded"'):
        assert attribute in button
    assert "formnovalidate" in button and 'id="testimony"' in page


def test_a_switch_of_a_form_already_sent_shows_nothing_of_it(client):
    form = drawn(client)
    client.post(SUBMIT, filled(form))
    page = client.post(SUBMIT, filled(form, language="ar")).content.decode()
    assert shows_nothing_written(page)


def test_an_unknown_language_is_no_switch(client):
    page = client.post(SUBMIT, filled(drawn(client), language="xx")).content.decode()
    assert "Keep this receipt secret" in page and Submission.objects.count() == 1


def test_other_pages_keep_the_plain_switch(client):
    page = client.get(reverse("witness:safety")).content.decode()
    assert f'action="{reverse("set_language")}"' in page and 'form="testimony"' not in page


# --- Refused: the problems first, each tied to its field ---------------------------------------------


def test_a_refused_form_starts_with_a_focused_summary_linking_to_each_field(client, settings):
    settings.INTAKE_MAX_IMAGES = 1
    page = client.post(SUBMIT, filled(drawn(client), account="", images=[upload(b"x"), upload(b"y")])).content
    page = page.decode()
    summary = re.search(r"<section class=\"problems\"[^>]*>.*?</section>", page, re.S).group(0)
    assert 'tabindex="-1"' in summary and "autofocus" in summary
    assert page.index('class="problems"') < page.index("<h1>")
    targets = list(dict.fromkeys(re.findall(r'<a href="#([^"]+)">', summary)))
    assert targets == ["id_account", "id_images"]
    for target in targets:
        assert f'id="{target}"' in page
    assert 'role="alert"' not in page


def test_a_refusal_of_the_whole_form_is_in_the_summary_too(client, monkeypatch):
    from intake import floods

    monkeypatch.setattr(floods, "submission_refusal", lambda: floods.SUBMISSIONS_BUSY)
    response = client.post(SUBMIT, filled(drawn(client)))
    summary = re.search(r'<section class="problems".*?</section>', response.content.decode(), re.S).group(0)
    assert response.status_code == 503 and "We cannot receive testimonies right now" in summary


def test_every_described_by_names_ids_that_exist_and_fields_in_error_say_so(client):
    for page in (
        client.get(SUBMIT).content.decode(),
        client.post(SUBMIT, filled(drawn(client), account="")).content.decode(),
    ):
        ids = set(re.findall(r' id="([^"]+)"', page))
        for described in re.findall(r'aria-describedby="([^"]*)"', page):
            assert described and set(described.split()) <= ids, described
    account = re.search(r"<textarea[^>]*>", page).group(0)
    assert 'aria-invalid="true"' in account
    assert 'aria-describedby="id_account_helptext id_account_limit id_account_error"' in account


def test_the_form_asks_the_browser_to_keep_nothing_typed(client):
    page = client.get(SUBMIT).content.decode()
    form = re.search(r'<form[^>]*id="testimony"[^>]*>', page).group(0)
    assert 'autocomplete="off"' in form
    assert client.get(SUBMIT)["Cache-Control"] == "no-store"


# --- Refused by the CSRF check ----------------------------------------------------------------------


@pytest.fixture
def strict():
    """A browser whose CSRF cookie is gone since the form was drawn (closed and opened again)."""

    return BrowserClient(enforce_csrf_checks=True)


OUR_ORIGIN = {"HTTP_ORIGIN": "http://testserver"}


def test_a_form_whose_cookie_is_gone_comes_back_with_its_text_and_nothing_stored(strict, photo):
    form = hidden_fields(strict.get(SUBMIT).content.decode())
    strict.cookies.clear()
    response = strict.post(SUBMIT, filled(form, images=[upload(photo)]), **OUR_ORIGIN)
    page = response.content.decode()
    assert response.status_code == 403 and "the form expired or could not be checked" in page
    assert ACCOUNT in page and "MARKER-where" in page
    assert not Submission.objects.exists()
    again = strict.post(SUBMIT, filled(hidden_fields(page)), **OUR_ORIGIN)  # with the fresh cookie
    assert "Keep this receipt secret" in again.content.decode() and Submission.objects.count() == 1


@pytest.mark.parametrize("origin", [{}, {"HTTP_ORIGIN": "https://elsewhere.example"}])
def test_a_form_posted_from_elsewhere_is_refused_showing_nothing_it_held(strict, origin):
    response = strict.post(SUBMIT, filled({sent_forms.FIELD: sent_forms.new_token()}), **origin)
    assert response.status_code == 403 and "Please send again" in response.content.decode()
    assert shows_nothing_written(response.content.decode())


def test_a_form_already_stored_refused_by_the_csrf_check_shows_nothing_it_held(client, strict):
    form = drawn(client)
    receipt = receipt_in(client.post(SUBMIT, filled(form)))
    response = strict.post(SUBMIT, filled(form), **OUR_ORIGIN)
    assert shows_nothing_written(response.content.decode()) and receipt_in(response) == receipt
