"""The browser layer's own checks fail where they should: a page that breaks each rule is caught."""

import pytest

from tests.browser.conftest import Page, axe

FITS = "<!doctype html><html lang=en><title>ok</title><main><h1>Fine</h1><p>Short text.</p></main>"


def _show(driver, body: str) -> Page:
    page = Page(driver, "", [], "checks")
    page.resize(360)
    driver.get("data:text/html;charset=utf-8," + body)
    return page


def test_a_page_that_passes_every_check(driver):
    _show(driver, FITS).check("fits")


@pytest.mark.parametrize("driver", ["js-on"], indirect=True)  # axe's timers do not run with JavaScript off
def test_axe_catches_an_unlabelled_field(driver):
    _show(driver, FITS + "<input type=text>")
    with pytest.raises(AssertionError, match="label"):
        axe(driver)


def test_a_page_wider_than_a_phone_is_caught(driver):
    page = _show(driver, FITS + "<div style='width: 340px'>wide</div>")
    with pytest.raises(AssertionError, match="scrolls sideways at 320 px"):
        page.check("wide")


def test_a_word_running_out_of_its_column_is_caught(driver):
    page = _show(
        driver, FITS + "<ol style='columns: 2; width: 200px; font: 24px monospace'>" + "<li>umbrella</li>" * 4 + "</ol>"
    )
    with pytest.raises(AssertionError, match="wider than its box"):
        page.check("columns")


def test_a_description_that_points_nowhere_is_caught(driver):
    page = _show(driver, FITS + "<label for=a>A</label><input id=a aria-describedby=a_helptext>")
    with pytest.raises(AssertionError, match="a_helptext"):
        page.check("describedby")
