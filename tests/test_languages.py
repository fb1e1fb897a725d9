"""English and Arabic: every page in both, right to left in Arabic, and a complete Arabic catalogue."""

import gettext
import re

import pytest
from django.urls import reverse

from tests.conftest import ROOT

CATALOGUE = ROOT / "intake" / "locale" / "ar" / "LC_MESSAGES"


def po_entries() -> dict[tuple[str, str], str]:
    """(context, msgid) -> msgstr (the first form for plurals) from the Arabic .po file."""
    text = (CATALOGUE / "django.po").read_text()
    entries = {}
    for block in text.split("\n\n"):
        if "#, fuzzy" in block and 'msgid ""\nmsgstr ""' not in block:
            entries[(_joined(block, "msgctxt"), _joined(block, "msgid"))] = ""  # fuzzy is untranslated
            continue
        msgid = _joined(block, "msgid")
        msgstr = _joined(block, "msgstr") or _joined(block, r"msgstr\[0\]")
        if msgid:
            entries[(_joined(block, "msgctxt"), msgid)] = msgstr
    return entries


def _joined(block: str, keyword: str) -> str:
    match = re.search(rf'^{keyword} "(.*)"$((?:\n".*")*)', block, re.MULTILINE)
    if not match:
        return ""
    parts = [match.group(1)] + re.findall(r'^"(.*)"$', match.group(2), re.MULTILINE)
    return "".join(parts).encode().decode("unicode_escape").encode("latin-1").decode()


def test_every_message_has_an_arabic_translation():
    untranslated = [msgid for (_, msgid), msgstr in po_entries().items() if not msgstr]
    assert untranslated == []


def test_the_compiled_catalogue_matches_the_source():
    with open(CATALOGUE / "django.mo", "rb") as file:
        compiled = gettext.GNUTranslations(file)
    stale = [
        msgid
        for (context, msgid), msgstr in po_entries().items()
        if "%(" not in msgid and (compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)) != msgstr
    ]
    assert stale == []


@pytest.mark.parametrize("url", [reverse("witness:submit"), reverse("witness:status"), reverse("review:login")])
def test_pages_in_arabic_are_right_to_left(client, url):
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in page
    assert re.search(r"[\u0600-\u06FF]{3,}", page)


def test_pages_in_english_are_left_to_right(client):
    page = client.get(reverse("witness:submit"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en" dir="ltr">' in page


@pytest.mark.django_db
def test_a_witness_can_switch_language_without_javascript(client):
    response = client.post(reverse("set_language"), {"language": "ar", "next": "/"})
    assert response.status_code == 302
    assert 'dir="rtl"' in client.get(reverse("witness:submit")).content.decode()


@pytest.mark.django_db
def test_errors_are_shown_in_arabic(client):
    from django.utils import translation

    from intake.witness.forms import TestimonyForm

    page = client.post(reverse("witness:submit"), {"account": ""}, HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    with translation.override("ar"):
        required = str(TestimonyForm.base_fields["account"].error_messages["required"])
    assert required in page and not required.isascii()


def test_the_stylesheet_uses_logical_directions_only():
    css = (ROOT / "intake" / "static" / "intake" / "site.css").read_text()
    assert not re.search(r"(margin|padding|border)-(left|right)|text-align:\s*(left|right)|float:\s*(left|right)", css)


def test_the_kinds_of_metadata_removed_and_the_refusals_are_translated():
    from django.utils import translation

    from intake import cleaning_text
    from tests.test_cleaning_text import EXAMPLES

    def words(language):
        with translation.override(language):
            kinds = cleaning_text.removed_labels(list(cleaning_text.KINDS))
            return kinds + [cleaning_text.refusal_text(code, params) for code, params in EXAMPLES.items()]

    untranslated = [english for english, arabic in zip(words("en"), words("ar"), strict=True) if english == arabic]
    assert untranslated == []


def test_the_catalogue_holds_every_message_of_the_code_and_templates(tmp_path):
    """Extract the messages afresh from a copy of the sources (as `make messages` does) and compare:
    a string added without `make messages` would otherwise never reach the Arabic catalogue."""
    import os
    import shutil
    import subprocess
    import sys

    for name in ("manage.py", "config", "intake", "templates"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "INTAKE_DATA_DIR": str(tmp_path / "var")}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "ar", "--no-obsolete", "--add-location", "file"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    fresh = (tmp_path / "intake" / "locale" / "ar" / "LC_MESSAGES" / "django.po").read_text()
    extracted = {msgid for _, msgid in _entries_of(fresh)}
    catalogued = {msgid for _, msgid in po_entries()}
    assert extracted - catalogued == set()
    assert len(extracted) > 100  # the extraction did find the service's messages


def _entries_of(text: str) -> set[tuple[str, str]]:
    return {
        (_joined(block, "msgctxt"), _joined(block, "msgid")) for block in text.split("\n\n") if _joined(block, "msgid")
    }
