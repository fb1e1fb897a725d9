"""Safety in a real browser: the safety page, the onion notice, "Leave quickly" and the photo check, at
phone width, in English and Arabic, with JavaScript on and off.

"Leave quickly" goes to a tiny neutral site on this machine, which records what each visit told it; the
limits are lowered in this process, where the live server runs as a thread."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from intake.models import Submission
from tests.conftest import camera_jpeg

ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
ACCOUNT = "They came at dawn. جاؤوا عند الفجر."


class NeutralSite(BaseHTTPRequestHandler):
    visits: list[dict] = []

    def do_GET(self):  # noqa: N802 - the name http.server calls
        if self.path != "/weather":  # its favicon, asked for by the neutral page itself
            self.send_error(404)
            return
        NeutralSite.visits.append(dict(self.headers))
        body = b"<!doctype html><title>Weather</title><h1>Sunny, 24 degrees</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def neutral_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), NeutralSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/weather"
    server.shutdown()
    server.server_close()


@pytest.fixture
def exit_to(neutral_site, settings):
    settings.INTAKE_QUICK_EXIT_URL = neutral_site
    NeutralSite.visits.clear()
    return neutral_site


@pytest.fixture
def fresh_tab(page):
    """A tab of its own, whose history holds only a blank page: Back from what a test opens in it goes
    there, unless the page it left is still in the history."""
    driver = page.driver
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    yield page
    driver.close()
    driver.switch_to.window(first)


def _wait_for(driver, url: str) -> None:
    WebDriverWait(driver, 20).until(lambda d: d.current_url == url, f"the browser did not go to {url}")


def _history_length(driver) -> int:
    return driver.execute_script("return history.length")


# --- The safety page and the onion notice --------------------------------------------------------


def test_the_safety_page_fits_a_phone_with_the_whole_onion_address(page, settings):
    settings.INTAKE_ONION_ADDRESS = ONION
    page.open("/")
    page.follow(page.find("main a[href='/safety/']"))
    address = page.find(".onion-address code")
    assert address.text == f"http://{ONION}/"
    assert address.get_attribute("dir") == "ltr"
    page.check("safety")
    page.resize(320)
    page.screenshot("safety-320px")


def test_the_form_on_the_onion_address_says_so(page, settings):
    # The browser cannot reach an onion address here: the live server's own host name stands in for it.
    settings.INTAKE_ONION_ADDRESS = "localhost"
    page.open("/")
    assert page.find(".onion-notice").is_displayed()
    page.check("submit-onion")
    page.resize(320)
    page.screenshot("submit-onion-320px")


# --- Leave quickly -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/status/", "/safety/"])
def test_leave_quickly_is_in_sight_large_enough_and_clear_of_the_language_switch(page, path):
    page.open(path)
    for width in (320, 360):
        page.resize(width)
        exit_box, inner_width = page.driver.execute_script(
            "const r = document.querySelector('a.quick-exit').getBoundingClientRect();"
            "return [{top: r.top, left: r.left, right: r.right, bottom: r.bottom}, window.innerWidth]"
        )
        assert exit_box["left"] >= 0 and exit_box["right"] <= inner_width and exit_box["top"] >= 0
        # WCAG 2.2 asks 24 px (2.5.8); a frightened thumb gets 44.
        assert exit_box["right"] - exit_box["left"] >= 44 and exit_box["bottom"] - exit_box["top"] >= 44
        for button in page.find_all(".language button"):
            other = button.rect
            apart = (
                other["x"] >= exit_box["right"]
                or other["x"] + other["width"] <= exit_box["left"]
                or other["y"] >= exit_box["bottom"]
                or other["y"] + other["height"] <= exit_box["top"]
            )
            assert apart, f"the language switch overlaps Leave quickly at {width} px"


def test_leave_quickly_replaces_the_page_and_tells_the_neutral_site_nothing(fresh_tab, exit_to):
    page = fresh_tab
    page.open("/safety/")
    before = _history_length(page.driver)
    page.find("a.quick-exit").click()
    _wait_for(page.driver, exit_to)
    assert NeutralSite.visits and "Referer" not in NeutralSite.visits[-1]
    if page.javascript:
        # The safety page was replaced: Back goes to what came before it, the blank page.
        assert _history_length(page.driver) == before
        page.driver.back()
        WebDriverWait(page.driver, 10).until(lambda d: d.current_url == "about:blank", "Back left the blank page")
    else:
        # Without script it is an ordinary link: the page left stays in the history (threat model).
        assert _history_length(page.driver) == before + 1
        page.driver.back()
        WebDriverWait(page.driver, 10).until(lambda d: d.current_url.endswith("/safety/"))


def test_leaving_quickly_from_a_testimony_shows_nothing_of_it_on_back(fresh_tab, exit_to):
    """Whoever takes the phone and presses Back (once, or twice without JavaScript) finds the receipt
    asked for, not the conversation: the page's cookie ended on the way out."""
    from intake import receipts
    from intake.models import Submission

    page = fresh_tab
    receipt = receipts.new_receipt()
    Submission.objects.create(receipt_digest=receipts.digest(receipts.normalise(receipt)), account="Seen.")
    page.open("/status/")
    page.find("[name=receipt]").send_keys(receipt)
    page.submit("#receipt")
    assert page.find_all(".status-value")
    page.find("a.quick-exit").click()
    _wait_for(page.driver, exit_to)
    assert NeutralSite.visits and "Referer" not in NeutralSite.visits[-1]
    # With JavaScript the testimony's page was replaced: Back goes to the receipt form before it. Without,
    # Back loads the testimony's address again, which now asks for the receipt.
    page.driver.back()
    WebDriverWait(page.driver, 10).until(
        lambda d: d.current_url.endswith("/status/"), "Back did not ask for the receipt"
    )
    assert page.find_all("[name=receipt]") and not page.find_all(".status-value")


def _press_escape(page, times: int) -> None:
    keys = ActionChains(page.driver)
    for _ in range(times):
        keys.send_keys(Keys.ESCAPE)
    keys.perform()


def _pause(milliseconds: int) -> None:
    time.sleep(milliseconds / 1000)  # the page's own timers do not run with JavaScript off


def test_escape_three_times_leaves_with_javascript_on(fresh_tab, exit_to):
    page = fresh_tab
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    before = _history_length(page.driver)
    _press_escape(page, 3)
    if page.javascript:
        _wait_for(page.driver, exit_to)
        assert _history_length(page.driver) == before
    else:
        _pause(500)
        assert page.find("[name=account]").get_attribute("value") == ACCOUNT
        assert not NeutralSite.visits


def test_escape_pressed_twice_or_slowly_does_not_leave(fresh_tab, exit_to):
    page = fresh_tab
    page.open("/safety/")
    _press_escape(page, 2)
    _pause(2100)
    _press_escape(page, 1)
    _pause(300)
    assert page.driver.current_url.endswith("/safety/")
    assert not NeutralSite.visits


# --- The photo check -----------------------------------------------------------------------------


def _photos(tmp_path, count: int) -> list[str]:
    paths = []
    for number in range(1, count + 1):
        path = tmp_path / f"IMG_000{number}.jpg"
        path.write_bytes(camera_jpeg())
        paths.append(str(path))
    return paths


def _choose_and_send(page, paths: list[str]) -> None:
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    page.find("[name=images]").send_keys("\n".join(paths))


def _held_back_before_upload(page, expected_text: str) -> None:
    """The message shows as soon as the photos are chosen; pressing Send then leaves the page where it
    is (no request is made), with focus on a summary of the problems at the top that links to the field."""
    message = page.find("#id_images_error")
    assert message.is_displayed() and expected_text.replace("\xa0", " ") in message.text  # as WebDriver reads it
    assert "id_images_error" in page.find("[name=images]").get_attribute("aria-describedby").split()
    page.driver.execute_script("document.leftBehind = true")
    page.find("form.testimony button[type=submit]").click()
    _pause(500)
    assert page.driver.execute_script("return document.leftBehind === true"), "the form was sent"
    focused = page.driver.switch_to.active_element
    assert focused.tag_name == "section" and "problems" in focused.get_attribute("class").split()
    assert page.driver.execute_script("return document.querySelector('main').firstElementChild") == focused
    link = focused.find_element(By.CSS_SELECTOR, "li a")
    assert link.get_attribute("hash") == "#id_images" and expected_text.replace("\xa0", " ") in link.text


def _nothing_stored(settings) -> None:
    assert not Submission.objects.exists()
    blobs = settings.INTAKE_BLOB_DIR
    assert not blobs.exists() or not [path for path in blobs.rglob("*") if path.is_file()]


def test_too_many_photos_are_told_before_anything_is_sent(page, settings, tmp_path):
    settings.INTAKE_MAX_IMAGES = 1
    _choose_and_send(page, _photos(tmp_path, 2))
    if page.javascript:
        _held_back_before_upload(page, page.find("[name=images]").get_attribute("data-message-too-many"))
        page.check("submit-photo-check")
    else:
        page.submit("form.testimony")  # the server says the same, after the upload
        assert page.find("#id_images_error").is_displayed()
        page.check("submit-photo-check-server")
    _nothing_stored(settings)


def test_a_photo_larger_than_the_limit_is_named_before_anything_is_sent(page, settings, tmp_path):
    settings.INTAKE_MAX_IMAGE_BYTES = 1000  # the camera photo is larger
    _choose_and_send(page, _photos(tmp_path, 1))
    if page.javascript:
        expected = page.find("[name=images]").get_attribute("data-message-too-large").replace("{name}", "IMG_0001.jpg")
        _held_back_before_upload(page, expected)
        assert page.find("#id_images_error bdi").text == "IMG_0001.jpg"
    else:
        page.submit("form.testimony")
        assert page.find("#id_images_error").is_displayed()
    _nothing_stored(settings)


def test_photos_within_the_limits_are_sent(page, settings, tmp_path):
    settings.INTAKE_MAX_IMAGES = 2
    _choose_and_send(page, _photos(tmp_path, 2))
    assert not page.find_all("#id_images_error li")
    page.submit("form.testimony")
    assert Submission.objects.get().images.count() == 2


def test_choosing_again_within_the_limits_clears_the_message(page, settings, tmp_path):
    settings.INTAKE_MAX_IMAGES = 1
    photos = _photos(tmp_path, 2)
    _choose_and_send(page, photos)
    # Without JavaScript nothing is checked before the form is sent, and the form still works.
    assert bool(page.find_all("#id_images_error li")) is page.javascript
    field = page.find("[name=images]")
    field.clear()
    field.send_keys(photos[0])
    assert not page.find_all("#id_images_error li")
    assert "has-errors" not in page.find(".field:has([name=images])").get_attribute("class")
    page.submit("form.testimony")
    assert Submission.objects.get().images.count() == 1


def _clip(tmp_path, name: str = "VID_20260307_234109.mp4") -> str:
    path = tmp_path / name
    codec = "libvpx-vp9" if name.endswith(".webm") else "libx264"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
         "-c:v", codec, "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return str(path)


@pytest.mark.parametrize("name", ["clip.mkv", "clip.webm", "clip.mov", "clip.3gp"])
def test_a_video_of_each_family_is_let_through_by_the_check_before_upload(page, tmp_path, name):
    """Chromium names an .mkv "video/matroska", which is not libmagic's name for it: the check must know
    the names browsers give, or a witness with JavaScript could not send the clip at all."""
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    page.find("[name=images]").send_keys(_clip(tmp_path, name))
    assert not page.find_all("#id_images_error li")
    page.submit("form.testimony")
    assert Submission.objects.get().images.count() == 1


def test_a_video_is_held_to_the_video_limit_not_the_photo_limit(page, settings, tmp_path):
    clip = _clip(tmp_path)
    size = os.path.getsize(clip)
    settings.INTAKE_MAX_IMAGE_BYTES = size - 1  # too large for a photo, within a video's limit: goes
    settings.INTAKE_MAX_VIDEO_BYTES = size + 1
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    page.find("[name=images]").send_keys(clip)
    assert not page.find_all("#id_images_error li")

    settings.INTAKE_MAX_VIDEO_BYTES = size - 1  # now too large for a video as well: named as a video
    page.open("/")
    page.find("[name=account]").send_keys(ACCOUNT)
    page.find("[name=images]").send_keys(clip)
    if page.javascript:
        field = page.find("[name=images]")
        expected = field.get_attribute("data-message-video-too-large").replace("{name}", Path(clip).name)
        _held_back_before_upload(page, expected)
        page.check("submit-video-check")
    else:
        page.submit("form.testimony")  # the server says the same, after the upload
        assert page.find("#id_images_error").is_displayed()
        page.check("submit-video-check-server")
    _nothing_stored(settings)
