"""Receipts a witness can keep: 28 digits with a Damm check digit, shown in the witness's numerals,
typed back in any of them; receipts of words handed out before still open their testimonies."""

import math
import re

import pytest
from django.urls import reverse

from intake import crypto, receipts
from intake.models import Submission
from tests.conftest import form_token
from tests.test_crypto import KNOWN_RECEIPT_DIGEST, known_keys  # noqa: F401 (a fixture)
from tests.test_witness import receipt_in, submit

SUBMIT = reverse("witness:submit")
STATUS = reverse("witness:status")
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
EXTENDED_ARABIC_INDIC = "۰۱۲۳۴۵۶۷۸۹"
OLD_RECEIPT = "abandon ability able about above absent absorb abstract"
# A digit receipt and its digest under tests.test_crypto's known keys: its canonical form must never
# change, or every receipt handed out would stop opening its testimony.
KNOWN_RECEIPT = "3141592653589793238462643382"
KNOWN_DIGIT_RECEIPT_DIGEST = "55a4e05ff336bdfa688bc81404bbc5cede31b1176b726009dd0ddb60a4d76b94"


def in_numerals(receipt: str, numerals: str) -> str:
    return receipt.translate(str.maketrans(receipts.WESTERN, numerals))


# --- The scheme --------------------------------------------------------------------------------


def test_a_receipt_has_at_least_80_bits_of_entropy():
    possible = len(receipts.WESTERN) ** receipts.RANDOM_DIGITS  # the check digit adds none
    assert receipts.ENTROPY_BITS == pytest.approx(math.log2(possible))
    assert receipts.ENTROPY_BITS >= 80
    assert round(receipts.ENTROPY_BITS, 1) == 89.7
    drawn = [receipts.new_receipt() for _ in range(2000)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(receipt) == receipts.DIGITS == 28 and receipt.isascii() for receipt in drawn)
    # Every random position takes every digit: none is fixed or narrowed.
    for position in range(receipts.RANDOM_DIGITS):
        assert {receipt[position] for receipt in drawn} == set(receipts.WESTERN), position


def test_every_random_digit_comes_from_the_secrets_module(monkeypatch):
    draws = []
    monkeypatch.setattr(receipts.secrets, "choice", lambda digits: draws.append(digits) or "7")
    assert receipts.new_receipt() == "7" * 27 + receipts.check_digit("7" * 27)
    assert draws == [receipts.WESTERN] * receipts.RANDOM_DIGITS


def test_every_new_receipt_passes_its_own_check():
    assert all(receipts.normalise(receipt) == receipt for receipt in (receipts.new_receipt() for _ in range(500)))


def test_the_check_digit_is_damms():
    # The worked example of Damm's algorithm: 572 gets 4, and 5724 checks to 0.
    assert receipts.check_digit("572") == "4"
    assert receipts.check_digit("5724") == "0"


def _single_errors(receipt: str):
    for position, digit in enumerate(receipt):
        for wrong in receipts.WESTERN.replace(digit, ""):
            yield receipt[:position] + wrong + receipt[position + 1 :]


def _neighbour_swaps(receipt: str):
    for position in range(len(receipt) - 1):
        first, second = receipt[position], receipt[position + 1]
        if first != second:
            yield receipt[:position] + second + first + receipt[position + 2 :]


def test_every_single_wrong_digit_and_swap_of_neighbours_in_a_receipt_is_told_as_a_wrong_digit():
    receipt = receipts.new_receipt()
    mistakes = [*_single_errors(receipt), *_neighbour_swaps(receipt)]
    assert len(mistakes) >= 28 * 9
    assert {receipts.normalise(mistake) for mistake in mistakes} == {receipts.WRONG_DIGIT}


def test_the_check_digit_catches_every_single_wrong_digit_and_swap_of_neighbours_in_many_receipts():
    for _ in range(300):
        receipt = receipts.new_receipt()
        for mistake in [*_single_errors(receipt), *_neighbour_swaps(receipt)]:
            assert receipts.check_digit(mistake) != "0", (receipt, mistake)


# --- Typed back --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(lambda r: r, id="plain"),
        pytest.param(lambda r: " ".join(receipts.groups(r)), id="groups"),
        pytest.param(lambda r: "-".join(receipts.groups(r)), id="dashes"),
        pytest.param(lambda r: ".".join(receipts.groups(r)), id="dots"),
        pytest.param(lambda r: ", ".join(receipts.groups(r)), id="commas"),
        pytest.param(lambda r: " ، ".join(receipts.groups(in_numerals(r, ARABIC_INDIC))), id="arabic-comma"),
        pytest.param(lambda r: in_numerals(r, ARABIC_INDIC), id="arabic-indic"),
        pytest.param(lambda r: " ".join(receipts.groups(in_numerals(r, EXTENDED_ARABIC_INDIC))), id="extended"),
        pytest.param(lambda r: in_numerals(r, "０１２３４５６７８９"), id="full-width"),
        pytest.param(lambda r: in_numerals(r[:14], ARABIC_INDIC) + r[14:], id="mixed"),
        pytest.param(lambda r: "\u200f" + "\n".join(receipts.groups(r)) + " \u2013 ", id="direction-marks"),
    ],
)
def test_a_receipt_is_read_in_any_digits_with_any_separators(typed):
    receipt = receipts.new_receipt()
    assert receipts.normalise(typed(receipt)) == receipt


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "- . ,", "1234", "3141 5926 5358 9793 2384 6264 338", "3141 5926 5358 9793 2384 6264 33822", "3141x"],
)
def test_what_is_not_a_receipt_is_none(typed):
    assert receipts.normalise(typed) is None


@pytest.mark.usefixtures("known_keys")
def test_an_old_word_receipt_typed_loosely_is_digested_exactly_as_before(settings):
    settings.INTAKE_RECEIPT_SCRYPT_N = 16
    typed = "  ABANDON-abil able; abou abov/abse absorbs abstrakt "
    assert receipts.normalise(typed) == OLD_RECEIPT
    assert receipts.digest(OLD_RECEIPT) == KNOWN_RECEIPT_DIGEST


@pytest.mark.usefixtures("known_keys")
def test_a_digit_receipt_is_digested_in_its_canonical_form(settings):
    settings.INTAKE_RECEIPT_SCRYPT_N = 16
    typed = " ".join(receipts.groups(in_numerals(KNOWN_RECEIPT, ARABIC_INDIC), ARABIC_INDIC))
    assert receipts.normalise(typed) == KNOWN_RECEIPT
    assert receipts.digest(KNOWN_RECEIPT) == KNOWN_DIGIT_RECEIPT_DIGEST


# --- Through the pages -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_receipt_typed_in_arabic_indic_digits_opens_its_testimony(client):
    receipt = receipt_in(submit(client))
    typed = "، ".join(receipts.groups(in_numerals(receipt, ARABIC_INDIC)))
    assert "Status:" in client.post(STATUS, {"receipt": typed}).content.decode()


@pytest.mark.django_db
def test_the_arabic_receipt_page_shows_arabic_indic_digits_that_open_the_testimony(client):
    testimony = {**form_token(), "account": "أخذوا جيراننا ليلاً."}
    page = client.post(SUBMIT, testimony, HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    shown = page.split('class="receipt"', 1)[1].split("</div>", 1)[0]
    arabic = re.findall(r"<span>([٠-٩]{4})</span>", shown)
    western = re.findall(r"<span>([0-9]{4})</span>", shown)
    assert len(arabic) == len(western) == 7
    assert in_numerals("".join(western), ARABIC_INDIC) == "".join(arabic)  # the same receipt, twice
    assert shown.index(arabic[0]) < shown.index(western[0])  # Arabic-Indic first, Western below
    response = client.post(STATUS, {"receipt": " ".join(arabic)}, HTTP_ACCEPT_LANGUAGE="ar")
    assert 'class="status-value"' in response.content.decode()


@pytest.mark.django_db
def test_the_english_receipt_page_shows_only_western_digits_in_seven_groups_left_to_right(client):
    page = submit(client).content.decode()
    assert "28 digits, in 7 groups of 4" in page
    assert receipts.DIGITS == 28 and receipts.DIGITS // receipts.GROUP == 7  # what the page says
    block = re.search(r'<div class="receipt" dir="ltr" lang="en">(.*?)</div>', page, re.S)
    assert block is not None
    assert len(re.findall(r"<span>[0-9]{4}</span>", block.group(1))) == 7
    assert not re.search("[٠-٩]", page)


@pytest.mark.django_db
def test_an_old_word_receipt_still_opens_its_testimony(client):
    # Stored as receipts of words were: the digest of the eight whole words.
    Submission.objects.create(receipt_digest=receipts.digest(OLD_RECEIPT), account="Sent before digits.")
    for typed in (OLD_RECEIPT, "Aban abil able abou abov abse abso abst"):
        assert "Status:" in client.post(STATUS, {"receipt": typed}).content.decode(), typed


@pytest.mark.django_db
def test_a_wrong_digit_is_told_plainly_without_a_lookup_and_given_back_to_correct(client, monkeypatch):
    receipt = receipt_in(submit(client))
    mistyped = " ".join(receipts.groups(receipt[:5] + str((int(receipt[5]) + 1) % 10) + receipt[6:]))

    def no_scrypt(_receipt):
        raise AssertionError("a receipt that fails its check digit was looked up")

    monkeypatch.setattr(crypto, "receipt_digest", no_scrypt)
    page = client.post(STATUS, {"receipt": mistyped}).content.decode()
    assert "One of the digits is wrong" in page
    assert "No testimony matches" not in page and "Status:" not in page
    assert f'value="{mistyped}"' in page


@pytest.mark.django_db
def test_a_receipt_missing_digits_is_not_found_without_a_lookup(client, monkeypatch):
    receipt = receipt_in(submit(client))
    monkeypatch.setattr(crypto, "receipt_digest", lambda _receipt: pytest.fail("looked up"))
    page = client.post(STATUS, {"receipt": receipt[:-4]}).content.decode()
    assert "No testimony matches this receipt" in page and "One of the digits" not in page


@pytest.mark.django_db
def test_the_receipt_field_leaves_the_keyboard_for_letters_and_digits(client):
    field = re.search(r'<input[^>]*name="receipt"[^>]*>', client.get(STATUS).content.decode()).group(0)
    assert 'autocomplete="off"' in field and 'dir="ltr"' in field
    # A numeric keypad would lock out the holders of receipts of words (decision 0005).
    assert "inputmode" not in field
    assert "The 28 digits you were given" in client.get(STATUS).content.decode()
