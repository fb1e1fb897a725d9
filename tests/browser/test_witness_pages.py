"""The witness's pages in a real browser: sending a testimony with a photo, the receipt, the status, and
the error pages, each at phone width, in English and Arabic, with JavaScript on and off."""

from django.utils import translation

from intake import receipts
from intake.models import Image, Submission
from intake.witness import views
from tests.conftest import camera_jpeg

ACCOUNT = "Men in masks took my neighbours at night. رجال ملثمون أخذوا جيراننا ليلاً."


def _translated(message: str, language: str) -> str:
    with translation.override(language):
        return str(translation.gettext(message))


def test_the_form_fits_a_phone_and_every_field_has_its_label(page):
    page.open("/")
    for name in ("account", "happened_when", "happened_where", "images"):
        field = page.find(f"[name={name}]")
        label = page.find(f"label[for={field.get_attribute('id')}]")
        assert label.is_displayed() and label.text.strip()
    assert page.find("form.testimony").get_attribute("enctype") == "multipart/form-data"
    page.check("submit")


def test_a_testimony_with_a_photo_gets_a_receipt_that_opens_its_status(page, tmp_path, language):
    photo = tmp_path / "IMG_20260307_234109.jpg"
    photo.write_bytes(camera_jpeg())
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    page.find("[name=happened_where]").send_keys("Baniyas")
    page.find("[name=images]").send_keys(str(photo))
    page.submit("form.testimony")

    # The receipt is shown first in the digits of the page's language; its groups read left to right.
    shown = [group.text for group in page.find_all(".receipt p:first-child span")]
    numerals = receipts.NUMERALS.get(language, receipts.WESTERN)
    assert len(shown) == 7 and all(len(group) == 4 and set(group) <= set(numerals) for group in shown)
    assert page.find(".receipt").get_attribute("dir") == "ltr"
    assert page.direction == ("rtl" if language == "ar" else "ltr")
    submission = Submission.objects.get()
    assert submission.account == ACCOUNT
    assert [image.state for image in submission.images.all()] == [Image.State.PENDING]
    page.check("receipt")

    page.follow(page.find("main a[href='/status/']"))
    page.find("[name=receipt]").send_keys(" ".join(shown))
    page.submit()
    status = page.find(".status strong").text
    assert status == _translated("Received", language)
    page.check("status")


def test_a_testimony_without_its_account_is_refused_and_keeps_what_was_typed(page):
    page.open("/")
    page.find("[name=happened_where]").send_keys("Baniyas")
    page.submit("form.testimony")
    assert page.find("[name=happened_where]").get_attribute("value") == "Baniyas"
    assert page.find(".field.has-errors [name=account]")
    assert not Submission.objects.exists()
    page.check("submit-refused")


def test_a_wrong_receipt_is_told_plainly(page):
    page.open("/status/")
    page.find("[name=receipt]").send_keys("abandon " * 8)
    page.submit()
    # The problem is first and focused, and leads to the field, which keeps what was typed.
    problems = page.find(".problems")
    assert page.driver.switch_to.active_element == problems and not page.find_all("[role=alert]")
    problems.find_element("css selector", "a").click()
    assert page.driver.switch_to.active_element == page.find("[name=receipt]")
    page.check("status-not-found")


def test_an_unknown_address_gets_the_not_found_page(page, language):
    page.open("/no/such/page/")
    assert page.heading == _translated("Not found", language)
    assert page.direction == ("rtl" if language == "ar" else "ltr")
    page.check("404")


def test_a_form_whose_cookie_expired_comes_back_with_its_text_and_is_sent_the_second_time(page, language):
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    # What a browser restarted between loading the form and sending it looks like: no CSRF cookie.
    language_cookie = page.driver.get_cookie("django_language")
    page.driver.delete_all_cookies()
    if language_cookie:
        page.driver.add_cookie({k: language_cookie[k] for k in ("name", "value", "path", "secure")})
    page.submit("form.testimony")
    with translation.override(language):
        assert str(views.FORM_EXPIRED) in page.find("section.problems").text
    assert page.find("[name=account]").get_attribute("value") == ACCOUNT
    assert page.direction == ("rtl" if language == "ar" else "ltr")
    assert not Submission.objects.exists()
    page.check("403-csrf")
    page.submit("form.testimony")
    assert page.find(".receipt") and Submission.objects.get().account == ACCOUNT
