"""Forms that lose nothing and reveal nothing, in Chromium at phone width, JavaScript on and off, English
and Arabic: after sending, Back shows nothing of the testimony and a reload stores nothing twice; the
language switch keeps what was typed; a refused form puts focus on the summary of its problems."""

from django.conf import settings
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.support.wait import WebDriverWait

from intake.models import SentForm, Submission
from tests.browser.conftest import _click_and_wait_for_next_page

MARKER = "MARKER-4417"
TYPED = {
    "account": f"{MARKER} They came at night. جاؤوا في الليل.",
    "happened_when": f"{MARKER}-when",
    "happened_where": f"{MARKER}-where",
}


def type_everything(page) -> None:
    for name, text in TYPED.items():
        page.find(f"[name={name}]").send_keys(text)


def values(page) -> dict[str, str]:
    return {name: page.find(f"[name={name}]").get_attribute("value") for name in TYPED}


def receipt_shown(page) -> str:
    return page.driver.execute_script(
        "const r = document.querySelector('.receipt p'); return r ? r.textContent.replace(/\\s+/g, '') : ''"
    )


def reload(page) -> None:
    """The browser's reload, saying yes if it asks whether to send the form again."""
    page.driver.execute_script("document.leftBehind = true")
    page.driver.refresh()
    try:
        page.driver.switch_to.alert.accept()
    except NoAlertPresentException:
        pass
    WebDriverWait(page.driver, 20).until(
        lambda d: d.execute_script("return !document.leftBehind && document.readyState === 'complete'")
    )


def focus_is_on_the_problems(page) -> bool:
    """Autofocus is applied at the first rendering after the page has loaded: wait for it."""
    WebDriverWait(page.driver, 5).until(
        lambda d: d.execute_script("return document.activeElement.matches('section.problems')"),
        "focus did not go to the summary of problems",
    )
    return True


def test_back_after_sending_shows_nothing_of_the_testimony(page):
    page.open("/")
    type_everything(page)
    page.submit("form.testimony")
    assert receipt_shown(page)
    page.driver.back()
    WebDriverWait(page.driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert MARKER not in page.driver.page_source
    assert values(page) == {"account": "", "happened_when": "", "happened_where": ""}
    # Forward brings the receipt's page; loading it again (the browser asks first) stores nothing twice.
    page.driver.forward()
    reload(page)
    assert MARKER not in page.driver.page_source
    assert Submission.objects.count() == 1


def test_reloading_the_receipt_stores_nothing_twice_and_shows_the_same_receipt(page):
    page.open("/")
    type_everything(page)
    page.submit("form.testimony")
    first = receipt_shown(page)
    reload(page)
    assert receipt_shown(page) == first
    assert Submission.objects.count() == 1 and SentForm.objects.count() == 1
    assert MARKER not in page.driver.page_source


def test_a_page_back_from_the_cache_after_sending_is_replaced_by_an_empty_form(page):
    """Chromium 156 keeps no page sent with no-store in its back/forward cache; others may, with
    JavaScript on (sent.js). What such a return looks like is played to the script here."""
    if not page.javascript:
        return  # with JavaScript off, Chromium caches no such page (tests above)
    page.open("/")
    type_everything(page)
    restored = (
        "window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}));"
        "return document.querySelector('[name=account]').value"
    )
    # Not sent (the witness went to read another page): it comes back as it was.
    assert page.driver.execute_script(restored) == TYPED["account"]
    # Sent: the page gives way to a fresh one.
    page.driver.execute_script(
        "document.leftBehind = true;"
        "document.getElementById('testimony').dispatchEvent(new Event('submit', {bubbles: true, cancelable: true}))"
    )
    page.driver.execute_script("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    WebDriverWait(page.driver, 20).until(
        lambda d: d.execute_script("return !document.leftBehind && document.readyState === 'complete'")
    )
    assert MARKER not in page.driver.page_source and values(page)["account"] == ""
    assert not Submission.objects.exists()


def test_the_language_switch_keeps_everything_typed(page, language):
    other = "ar" if language == "en" else "en"
    page.open("/")
    type_everything(page)
    _click_and_wait_for_next_page(page.driver, page.find(f".language button[value='{other}']"))
    assert page.language == other and page.direction == ("rtl" if other == "ar" else "ltr")
    assert values(page) == TYPED
    assert page.find("p.warning").is_displayed()  # photos must be chosen again
    page.check("submit-switched")
    _click_and_wait_for_next_page(page.driver, page.find(f".language button[value='{language}']"))
    assert page.language == language and values(page) == TYPED
    assert not Submission.objects.exists()
    page.submit("form.testimony")
    assert receipt_shown(page) and Submission.objects.get().happened_where == TYPED["happened_where"]


def test_a_refused_form_puts_focus_on_its_problems_which_lead_to_each_field(page):
    page.open("/")
    page.find("[name=happened_where]").send_keys(TYPED["happened_where"])
    page.submit("form.testimony")
    assert focus_is_on_the_problems(page)
    links = page.find_all("section.problems a")
    assert [link.get_attribute("hash") for link in links] == ["#id_account"]
    assert not page.find_all("[role=alert]")
    page.check("submit-problems")
    links[0].click()
    assert page.driver.execute_script("return document.activeElement.name") == "account"
    assert values(page)["happened_where"] == TYPED["happened_where"]


def test_too_many_characters_are_refused_with_focus_on_the_problem(page):
    page.open("/")
    too_many = settings.INTAKE_MAX_ACCOUNT_CHARS + 1
    page.driver.execute_script("document.querySelector('[name=account]').value = 'x'.repeat(arguments[0])", too_many)
    page.submit("form.testimony")
    assert focus_is_on_the_problems(page)
    target = page.find("section.problems a").get_attribute("hash")
    assert page.driver.execute_script("return document.getElementById(arguments[0]) !== null", target[1:])
    page.check("submit-too-long")


def test_a_repeat_after_the_receipts_time_says_received_and_shows_nothing(page, clock):
    page.open("/")
    type_everything(page)
    page.submit("form.testimony")
    clock.advance(minutes=31)
    reload(page)
    assert not receipt_shown(page) and MARKER not in page.driver.page_source
    assert Submission.objects.count() == 1
    page.check("already-received")


def test_the_language_switch_works_with_photos_the_check_refuses(page, tmp_path):
    """The photo check stops a send with a file it refuses; a switch sends no file, so it goes."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.open("/")
    type_everything(page)
    page.find("[name=images]").send_keys(str(notes))
    other = "ar" if page.language == "en" else "en"
    _click_and_wait_for_next_page(page.driver, page.find(f".language button[value='{other}']"))
    assert page.language == other and values(page) == TYPED


def test_after_sending_the_browsers_files_keep_nothing_written_and_not_the_receipt(page, tmp_path):
    """A page that answers a POST stays in the history with the form it was sent, and Chromium writes
    that form into the profile's session files, on disk, where whoever takes the phone finds it. After
    a testimony is sent, a receipt typed and an answer sent, the profile holds none of them."""
    from selenium.webdriver.common.by import By

    from tests.browser.conftest import start_chromium

    profile = tmp_path / "profile"
    chromium = start_chromium(profile, javascript=page.javascript)
    try:
        base = page.base_url
        chromium.get(base + "/")
        for name, text in TYPED.items():
            chromium.find_element(By.NAME, name).send_keys(text)
        _click_and_wait_for_next_page(chromium, chromium.find_element(By.CSS_SELECTOR, "#testimony [type=submit]"))
        receipt = chromium.execute_script(
            "return document.querySelector('.receipt p:last-child').textContent.replace(/\\s+/g, '')"
        )
        assert len(receipt) == 28
        chromium.get(base + "/status/")
        chromium.find_element(By.NAME, "receipt").send_keys(receipt)
        _click_and_wait_for_next_page(chromium, chromium.find_element(By.CSS_SELECTOR, "#receipt [type=submit]"))
        chromium.find_element(By.NAME, "text").send_keys(f"{MARKER}-answer")
        _click_and_wait_for_next_page(chromium, chromium.find_element(By.CSS_SELECTOR, "#answer [type=submit]"))
        assert "Your answer was received." in chromium.page_source
        chromium.get("about:blank")  # a navigation, so that the session is written out
    finally:
        chromium.quit()
    kept = {
        str(path.relative_to(profile))
        for path in profile.rglob("*")
        if path.is_file() and (MARKER.encode() in (data := path.read_bytes()) or receipt.encode() in data)
    }
    assert kept == set(), f"the browser's files keep what was written or the receipt: {sorted(kept)}"
    assert Submission.objects.get().messages.count() == 1


def test_a_form_given_back_in_another_language_leaves_nothing_written_in_the_browsers_files(page, tmp_path):
    """The switched page holds the text in its form, to be sent from there; its history entry is only
    its address (forget.js), so Back then Reload, or the session files, give nothing back. Without
    JavaScript the entry keeps the form sent, as docs/threat-model.md says."""
    if not page.javascript:
        return
    from selenium.webdriver.common.by import By

    from tests.browser.conftest import start_chromium

    profile = tmp_path / "profile"
    chromium = start_chromium(profile, javascript=True)
    try:
        chromium.get(page.base_url + "/")
        for name, text in TYPED.items():
            chromium.find_element(By.NAME, name).send_keys(text)
        _click_and_wait_for_next_page(chromium, chromium.find_element(By.CSS_SELECTOR, ".language button[value=ar]"))
        assert chromium.find_element(By.NAME, "account").get_attribute("value") == TYPED["account"]
        chromium.get("about:blank")
        chromium.back()  # the switched page, loaded again from its address: an empty form, nothing sent
        WebDriverWait(chromium, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
        assert MARKER not in chromium.page_source
        chromium.get("about:blank")
    finally:
        chromium.quit()
    kept = [
        str(path.relative_to(profile))
        for path in profile.rglob("*")
        if path.is_file() and MARKER.encode() in path.read_bytes()
    ]
    assert kept == [], f"the browser's files keep what was written: {kept}"
    assert not Submission.objects.exists()


def test_two_testimonies_open_in_two_tabs_each_take_their_own_answer(page):
    """Each opening of a testimony has an address, and a cookie, of its own: opening a second one in
    another tab does not turn the first tab's answer into an answer to the second."""
    from intake import receipts
    from intake.models import Message

    made = {}
    for name in ("first", "second"):
        receipt = receipts.new_receipt()
        digest = receipts.digest(receipts.normalise(receipt))
        made[name] = (Submission.objects.create(receipt_digest=digest, account=f"The {name} testimony."), receipt)

    def open_with(receipt: str) -> None:
        page.open("/status/")
        page.find("[name=receipt]").send_keys(receipt)
        page.submit("#receipt")

    driver = page.driver
    first_tab = driver.current_window_handle
    open_with(made["first"][1])
    driver.switch_to.new_window("tab")
    try:
        open_with(made["second"][1])
        driver.switch_to.window(first_tab)
        page.find("[name=text]").send_keys(f"{MARKER} for the first")
        page.submit("#answer")
        assert f"{MARKER} for the first" in driver.page_source
        assert Message.objects.get().submission == made["first"][0]
    finally:
        for handle in driver.window_handles:
            if handle != first_tab:
                driver.switch_to.window(handle)
                driver.close()
        driver.switch_to.window(first_tab)


def test_once_sent_the_button_says_so_and_a_second_press_sends_nothing_until_escape(page):
    """On a slow connection a second press would start the upload again. With JavaScript off the button
    stays as it is, and the one-time token keeps a second send from storing anything twice."""
    if not page.javascript:
        return
    page.open("/")
    page.find("[name=account]").send_keys(TYPED["account"])
    # Watched after sent.js's own listener, which decides; every send is then held on the page.
    state = page.driver.execute_script(
        """
        const form = document.getElementById('testimony');
        const button = form.querySelector('button[type=submit]');
        const stopped = [];
        window.addEventListener('submit', e => { stopped.push(e.defaultPrevented); e.preventDefault(); });
        form.requestSubmit(button);
        const sending = [button.getAttribute('aria-disabled'), button.textContent,
                         form.querySelector('[role=status]').textContent];
        form.requestSubmit(button);
        document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
        const after = [button.getAttribute('aria-disabled'), button.textContent];
        form.requestSubmit(button);
        return {stopped, sending, after, label: button.dataset.sending};
        """
    )
    assert state["stopped"] == [False, True, False]
    assert state["sending"] == ["true", state["label"], state["label"]]
    assert state["after"][0] is None and state["after"][1] != state["label"]
    assert not Submission.objects.exists()
