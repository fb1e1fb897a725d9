"""What a witness sees when the service refuses: too large, busy, a spent budget. Each page is readable
at phone width in both languages, says nothing was stored, and the testimony form keeps the text.

The limits are lowered in this process, where the live server runs as a thread, so that a real browser
meets each refusal with an ordinary form."""

from django.utils import translation
from selenium.webdriver.support.wait import WebDriverWait

from intake.models import Submission
from tests.conftest import camera_jpeg

ACCOUNT = "They came at dawn. جاؤوا عند الفجر."


def _translated(message: str, language: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def _fill_testimony(page, tmp_path, photo=False) -> None:
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    page.find("[name=happened_where]").send_keys("Baniyas")
    if photo:
        path = tmp_path / "photo.jpg"
        path.write_bytes(camera_jpeg())
        page.find("[name=images]").send_keys(str(path))


def _text_is_kept(page) -> None:
    assert page.find("[name=account]").get_attribute("value") == ACCOUNT
    assert page.find("[name=happened_where]").get_attribute("value") == "Baniyas"


def test_a_testimony_larger_than_the_service_takes_comes_back_with_its_text(page, settings, tmp_path):
    settings.INTAKE_MAX_REQUEST_BYTES = 4096  # the photo alone is larger
    _fill_testimony(page, tmp_path, photo=True)
    page.submit("form.testimony")
    assert page.find("section.problems").is_displayed()
    _text_is_kept(page)
    assert not Submission.objects.exists()
    page.check("submit-too-large")


def test_any_other_body_too_large_gets_the_too_large_page(page, settings, language):
    settings.INTAKE_MAX_REQUEST_BYTES = 64  # less than the form's CSRF token
    page.open("/status/")
    page.find("[name=receipt]").send_keys("abandon " * 8)
    page.submit()
    assert page.heading == _translated("This was too large to receive", language)
    assert page.direction == ("rtl" if language == "ar" else "ltr")
    page.check("413")


def test_when_every_upload_slot_is_taken_the_witness_is_told_the_service_is_busy(page, settings, tmp_path, language):
    settings.INTAKE_MAX_CONCURRENT_UPLOADS = 0
    _fill_testimony(page, tmp_path)
    page.submit("form.testimony")
    assert page.heading == _translated("We are busy", language)
    assert not Submission.objects.exists()
    page.check("busy")
    # As the page advises, reloading it a minute later sends the form again, whole: nothing is lost.
    # (Back would show an empty form: autocomplete=off keeps what was typed out of the browser's history.)
    settings.INTAKE_MAX_CONCURRENT_UPLOADS = 4
    page.driver.execute_script("document.leftBehind = true")
    page.driver.refresh()
    WebDriverWait(page.driver, 20).until(lambda d: d.execute_script("return !document.leftBehind"))
    assert page.find(".receipt") and Submission.objects.get().account == ACCOUNT


def test_when_the_hourly_budget_is_spent_the_form_comes_back_with_its_text(page, settings, tmp_path):
    settings.INTAKE_SUBMISSIONS_PER_HOUR = 0
    _fill_testimony(page, tmp_path, photo=True)
    page.submit("form.testimony")
    assert page.find("section.problems").is_displayed()
    _text_is_kept(page)
    assert not Submission.objects.exists()
    page.check("submit-busy")


def test_too_many_status_look_ups_get_a_plain_try_again(page, settings):
    settings.INTAKE_STATUS_PER_MINUTE = 0
    page.open("/status/")
    page.find("[name=receipt]").send_keys("abandon " * 8)
    page.submit()
    problems = page.find(".problems")
    assert problems.is_displayed() and page.driver.switch_to.active_element == problems
    assert page.find("[name=receipt]").get_attribute("value") == ""  # a receipt is never echoed
    page.check("status-busy")
