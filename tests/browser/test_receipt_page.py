"""The receipt page in a real browser: 28 digits in groups of four that a witness can copy by hand, at a
320 px phone's width with the browser's text size doubled (WCAG 1.4.4), in English and Arabic."""

from intake import receipts

# Chromium's own text-size setting (Settings, Appearance, Font size), doubled from its 16 and 13 px.
CHROMIUM_PREFS = {"webkit.webprefs.default_font_size": 32, "webkit.webprefs.default_fixed_font_size": 26}

# Each group: on one line, inside the receipt's box, after the one before it (to its right, or on a
# line below), and overlapping no other group.
LAYOUT_PROBLEMS = """
const box = document.querySelector('.receipt').getBoundingClientRect();
const problems = [];
for (const line of document.querySelectorAll('.receipt p')) {
  const groups = [...line.querySelectorAll('span')].map(span => {
    const range = document.createRange();
    range.selectNodeContents(span);
    return {text: span.textContent, lines: range.getClientRects().length, rect: span.getBoundingClientRect()};
  });
  groups.forEach((group, i) => {
    const r = group.rect;
    if (group.lines !== 1) problems.push(`${group.text} is broken over ${group.lines} lines`);
    if (r.left < box.left || r.right > box.right) problems.push(`${group.text} sticks out of the box`);
    const before = groups[i - 1];
    const below = before && r.top >= before.rect.bottom - 1;
    const right = before && Math.abs(r.top - before.rect.top) < 1 && r.left >= before.rect.right;
    if (before && !below && !right) problems.push(`${group.text} is not after ${before.text}, left to right`);
    groups.slice(i + 1).forEach(other => {
      const o = other.rect;
      if (r.left < o.right && o.left < r.right && r.top < o.bottom && o.top < r.bottom)
        problems.push(`${group.text} overlaps ${other.text}`);
    });
  });
}
return problems;
"""


def test_at_double_text_size_the_receipt_fits_a_phone_in_whole_groups_read_left_to_right(page, language):
    page.open("/")
    assert page.driver.execute_script("return getComputedStyle(document.documentElement).fontSize") == "32px"
    page.find("[name=account]").send_keys("They came at dawn.")
    page.submit("form.testimony")

    lines = [[span.text for span in line.find_elements("css selector", "span")] for line in page.find_all(".receipt p")]
    western = "".join(lines[-1])
    assert receipts.normalise(western) == western and len(lines[-1]) == receipts.DIGITS // receipts.GROUP
    if language == "ar":  # Arabic-Indic digits first, the same receipt in 0-9 below
        assert len(lines) == 2 and lines[0] == receipts.groups(western, receipts.NUMERALS["ar"])
    else:
        assert len(lines) == 1
    assert page.find(".receipt").get_attribute("dir") == "ltr"

    for width in (320, 360):
        page.resize(width)
        assert page.driver.execute_script(LAYOUT_PROBLEMS) == [], f"at {width} px"
    page.check("receipt-text-200")
    page.resize(320)
    page.screenshot("receipt-text-200-320px")
