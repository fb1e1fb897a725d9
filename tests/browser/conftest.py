"""The real-browser layer: Debian's Chromium driven by selenium against a live server, at phone width,
with JavaScript on and off, in English and Arabic, every page checked by axe-core (WCAG 2.2 AA).

``page`` (a ``Page``) is what a test uses: it opens a path, switches language with the site's own
control, and ``page.check(name)`` looks at what is on screen: no sideways scrolling at 320 and 360 px,
no axe violation, a full-page screenshot. Screenshots go to the test's tmp folder and, when
``INTAKE_SCREENSHOTS=DIR`` is set, to DIR as well, for a person to look at.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = (360, 800)
NARROWEST = 320


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def _needs(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(f"The browser tests need {path}: {what}", pytrace=False)


@pytest.fixture(scope="module", params=["js-on", "js-off"])
def driver(request, tmp_path_factory):
    """One headless Chromium per module and JavaScript setting, with a profile of its own."""
    # A module may set preferences of its own, as a person would in Chromium's settings (text size).
    chromium = start_chromium(
        tmp_path_factory.mktemp("chromium-profile"),
        javascript=request.param == "js-on",
        prefs=getattr(request.module, "CHROMIUM_PREFS", {}),
    )
    yield chromium
    chromium.quit()


def start_chromium(profile: Path, *, javascript: bool, prefs: dict | None = None) -> webdriver.Chrome:
    """Headless Chromium at phone width, keeping its files (history, sessions, cache) in ``profile``."""
    _needs(CHROMIUM, "install Debian's chromium (apt-get install chromium).")
    _needs(CHROMEDRIVER, "install Debian's chromium-driver (apt-get install chromium-driver).")
    _needs(AXE, "install axe-core from package-lock.json (npm ci, which make test runs).")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--lang=en-US",
        # Phones draw scrollbars over the page, so the page gets the full width, as here.
        "--hide-scrollbars",
        f"--window-size={PHONE[0]},{PHONE[1]}",
    ):
        options.add_argument(argument)
    prefs = {"intl.accept_languages": "en-US,en", **(prefs or {})}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    chromium = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    chromium.javascript = javascript
    # Pages may never run script of their own unless they need it, so prove the setting took hold.
    chromium.get("data:text/html,<title>off</title><script>document.title = 'on'</script>")
    assert chromium.title == ("on" if javascript else "off"), "Chromium ignored the JavaScript setting"
    return chromium


@pytest.fixture(params=["en", "ar"])
def language(request):
    return request.param


@pytest.fixture(scope="session")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    folders = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("INTAKE_SCREENSHOTS"):
        folders.append(Path(os.environ["INTAKE_SCREENSHOTS"]))
        folders[-1].mkdir(parents=True, exist_ok=True)
    return folders


@pytest.fixture
def page(driver, live_server, django_db_serialized_rollback, language, screenshot_dirs, request):
    """A fresh visit (no cookies) to the live server in ``language``, in a phone-sized window. The
    database is emptied after each test and its migrations' rows (the role groups) put back, as in
    every other transactional test of the suite."""
    driver.delete_all_cookies()
    visit = Page(driver, live_server.url, screenshot_dirs, request.node.name)
    visit.resize(PHONE[0])
    visit.use_language(language)
    return visit


def axe(driver) -> None:
    """Run axe-core on the page shown and fail listing every WCAG 2.2 A/AA violation.

    WebDriver's scripts are evaluated through the DevTools protocol, which the page's Content Security
    Policy does not govern. With JavaScript off they run too, on the page as that browser drew it, with
    what ``<noscript>`` holds on screen (``AXE_RUN``)."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(AXE_RUN, AXE_TAGS, driver.javascript)
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {driver.current_url}\n    " + "\n    ".join(v["nodes"])
        for v in result
    )
    assert not result, "axe-core found accessibility violations:\n" + report


# With JavaScript off, WebDriver's scripts and their promises run, but no timer ever fires, and axe waits
# 0 ms between its steps: those waits become promises. Its longer timers are deadlines (a frame that
# does not answer, a style sheet that does not load) and never fire, as if axe were always in time.
# What <noscript> holds is on screen with JavaScript off, yet axe always takes it for hidden: it is
# moved out beside its <noscript> for the run, and put back after.
AXE_RUN = """
const [tags, javascript, done] = arguments;
if (!javascript) {
  let last = 0;
  const cleared = new Set();
  window.setTimeout = (run, delay, ...args) => {
    const id = ++last;
    if (!delay) Promise.resolve().then(() => cleared.has(id) || run(...args));
    return id;
  };
  window.clearTimeout = id => cleared.add(id);
}
const shown = javascript ? [] : [...document.querySelectorAll('noscript')].map(n => [n, [...n.childNodes]]);
shown.forEach(([noscript, content]) => noscript.before(...content));
axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})),
    e => [{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])
  .then(found => {
    shown.forEach(([noscript, content]) => noscript.append(...content));
    done(found);
  });
"""


# Boxes whose content is wider than they are and spills over what is beside them (a word running into
# the next column, a button out of its form), which the page's own width does not show.
STICKING_OUT = """
return [...document.body.querySelectorAll('*')].filter(e => {
  const style = getComputedStyle(e);
  return style.display !== 'inline' && style.overflowX === 'visible' && e.clientWidth > 0
    && e.scrollWidth > e.clientWidth + 1;
}).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' '
  + e.scrollWidth + '>' + e.clientWidth + ' ' + JSON.stringify(e.textContent.trim().slice(0, 40)));
"""


class Page:
    def __init__(self, driver, base_url: str, screenshot_dirs: list[Path], test_name: str):
        self.driver = driver
        self.base_url = base_url
        self.screenshot_dirs = screenshot_dirs
        self.test_name = test_name
        self.javascript = driver.javascript

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def submit(self, form_css: str = "main form") -> None:
        """Press the form's submit button, as a person would, and wait for the next page."""
        self.follow(self.find(f"{form_css} button[type=submit]"))

    def follow(self, link_or_button) -> None:
        """Click and wait for the page it leads to."""
        _click_and_wait_for_next_page(self.driver, link_or_button)

    @property
    def language(self) -> str:
        return self.find("html").get_attribute("lang")

    @property
    def direction(self) -> str:
        return self.find("html").get_attribute("dir")

    @property
    def heading(self) -> str:
        return self.driver.execute_script("return document.querySelector('h1').textContent.trim()")

    def use_language(self, code: str) -> None:
        """Choose ``code`` with the language buttons in the page header (no script): on the testimony
        form they send that form, which comes back in ``code`` (intake.witness.language)."""
        self.open("/")
        if self.language != code:
            _click_and_wait_for_next_page(self.driver, self.find(f".language button[value='{code}']"))
        assert self.language == code
        assert self.direction == ("rtl" if code == "ar" else "ltr")

    def check(self, name: str) -> None:
        """What every page must pass: it fits 320 and 360 px without sideways scrolling, every ARIA
        reference resolves, axe-core finds nothing, and a screenshot is kept."""
        for width in (NARROWEST, PHONE[0]):
            self.resize(width)
            inner, scroll = self.driver.execute_script(
                "return [window.innerWidth, document.documentElement.scrollWidth]"
            )
            if scroll > inner:
                self.screenshot(f"{name}-{width}px-overflow")
            assert scroll <= inner, f"{name} scrolls sideways at {width} px: {scroll} px of content"
            sticking_out = self.driver.execute_script(STICKING_OUT)
            if sticking_out:
                self.screenshot(f"{name}-{width}px-overflow")
            assert not sticking_out, f"{name} at {width} px: content wider than its box: {sticking_out}"
        self.screenshot(name)
        # axe only "needs review" a description that points nowhere; a screen reader then reads nothing.
        dangling = self.driver.execute_script(
            "return [...document.querySelectorAll('[aria-describedby], [aria-labelledby]')].flatMap(e =>"
            " ((e.getAttribute('aria-describedby') || '') + ' ' + (e.getAttribute('aria-labelledby') || ''))"
            ".split(/\\s+/).filter(id => id && !document.getElementById(id)))"
        )
        assert not dangling, f"{name}: aria-describedby or aria-labelledby names missing ids: {dangling}"
        axe(self.driver)

    def resize(self, width: int) -> None:
        """Make the page ``width`` CSS pixels wide, and wait until it has been laid out so."""
        from selenium.webdriver.support.wait import WebDriverWait

        self.driver.set_window_size(width, PHONE[1])
        WebDriverWait(self.driver, 10).until(
            lambda d: d.execute_script("return window.innerWidth") == width,
            f"the window did not become {width} px wide",
        )

    def screenshot(self, name: str) -> None:
        """The whole page, not only the part in the window."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size, window = metrics["cssContentSize"], metrics["cssLayoutViewport"]
        if size["height"] <= window["clientHeight"]:
            # Capturing "beyond the viewport" a page that has nothing beyond it shifts right-to-left
            # pages sideways in Chromium 156; the window alone is the whole page anyway.
            png = self.driver.get_screenshot_as_png()
        else:
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
                },
            )
            png = base64.b64decode(shot["data"])
        file_name = f"{name}-{self.language}-{'js' if self.javascript else 'nojs'}.png"
        for folder in self.screenshot_dirs:
            (folder / file_name).write_bytes(png)


def log_in(page, app, username: str = "rania") -> None:
    """Through the staff login's two steps: the password, then a code of ``app`` (tests.staff_login)."""
    import time

    from tests.staff_login import PASSWORD

    page.open("/staff/login/")
    page.find("[name=username]").send_keys(username)
    page.find("[name=password]").send_keys(PASSWORD)
    page.submit("main form")
    page.find("[name=code]").send_keys(app.at(time.time() + 30))
    page.submit("main form")


def _click_and_wait_for_next_page(driver, button, timeout: float = 20) -> None:
    """Click ``button`` and wait until another document has replaced this one and finished loading.
    The old document is marked (WebDriver's scripts run with JavaScript off too), and looked for until
    it is gone; while one page gives way to the next, the browser may answer with errors of its own."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    driver.execute_script("document.leftBehind = true")
    button.click()
    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !document.leftBehind && document.readyState === 'complete'"),
        "no new page came",
    )
