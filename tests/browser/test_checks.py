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


def test_axe_catches_an_unlabelled_field(driver):
    page = _show(driver, FITS + "<input type=text>")
    with pytest.raises(AssertionError, match="label"):
        page.check("unlabelled")


@pytest.mark.parametrize("driver", ["js-off"], indirect=True)
def test_axe_checks_what_noscript_shows_without_javascript(driver):
    page = _show(driver, FITS + "<noscript><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></noscript>")
    with pytest.raises(AssertionError, match="image-alt"):
        page.check("noscript")
    # and the page is left as it was drawn, for the rest of a test
    assert driver.execute_script("return document.querySelectorAll('noscript > img').length") == 1


@pytest.mark.parametrize("driver", ["js-on"], indirect=True)
def test_axe_leaves_noscript_alone_with_javascript(driver):
    _show(driver, FITS + "<noscript><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></noscript>")
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
