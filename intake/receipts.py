"""Receipts: what a witness writes down to come back to a submission.

A receipt is 28 digits: 27 drawn with ``secrets`` (27 × log2 10 = 89.7 bits) and a check digit by Damm's
algorithm, which catches every single wrong digit and every swap of two neighbours, so that a receipt
typed wrong is told as such without a look-up. It is shown in 7 groups of 4, in the digits of the
witness's language, and typed back in Western, Arabic-Indic or Extended Arabic-Indic digits, with any
separators or none. Why digits: docs/decisions/0005-receipts-a-witness-can-keep.md.

Receipts handed out before were eight words from the BIP-39 English list; they keep working. The
canonical form of each kind (28 Western digits; eight whole lowercase words, one space apart) is what
is digested, so both meet the digests already stored. The server keeps only a slow peppered digest.
"""

import enum
import math
import re
import secrets
import unicodedata
from functools import cache

from mnemonic import Mnemonic

from intake import crypto

RANDOM_DIGITS = 27
DIGITS = RANDOM_DIGITS + 1
GROUP = 4
ENTROPY_BITS = RANDOM_DIGITS * math.log2(10)

WESTERN = "0123456789"
# The languages whose own digits are not 0-9. Their receipts are shown in both, since people in Syria
# read and type both.
NUMERALS = {"ar": "٠١٢٣٤٥٦٧٨٩"}
# What phone keyboards type: Arabic-Indic (U+0660-0669) and Extended Arabic-Indic (U+06F0-06F9, the
# Persian and Urdu layouts). Full-width and other compatibility digits become 0-9 under NFKC.
_TYPED_DIGITS = str.maketrans({chr(base + value): str(value) for base in (0x0660, 0x06F0) for value in range(10)})

# The quasigroup of Damm's algorithm (H. M. Damm, 2004), as published.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

WORDS = 8  # receipts handed out before digits


class Mistyped(enum.Enum):
    """28 digits whose check digit does not match them: one of them was written or typed wrong."""

    WRONG_DIGIT = "wrong_digit"


WRONG_DIGIT = Mistyped.WRONG_DIGIT


def check_digit(digits: str) -> str:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return str(interim)


def new_receipt() -> str:
    drawn = "".join(secrets.choice(WESTERN) for _ in range(RANDOM_DIGITS))
    return drawn + check_digit(drawn)


def normalise(text: str) -> str | Mistyped | None:
    """The canonical receipt a witness meant; WRONG_DIGIT for 28 digits that fail their check; None if
    it is not a receipt."""
    digits = _digits(text)
    if digits is None:
        return _words(text)
    if len(digits) != DIGITS:
        return None
    if check_digit(digits) != "0":
        return WRONG_DIGIT
    return digits


def groups(receipt: str, numerals: str = WESTERN) -> list[str]:
    """A canonical digit receipt in groups of four, written in ``numerals``."""
    shown = receipt.translate(str.maketrans(WESTERN, numerals))
    return [shown[start : start + GROUP] for start in range(0, len(shown), GROUP)]


def lines(receipt: str, language: str) -> list[list[str]]:
    """How a receipt is shown in ``language``: in its own digits, then in Western digits if they differ."""
    own = NUMERALS.get(language)
    return [groups(receipt, own), groups(receipt)] if own else [groups(receipt)]


def digest(receipt: str) -> str:
    return crypto.receipt_digest(receipt)


def _digits(text: str) -> str | None:
    """The digits of ``text`` as 0-9 once separators are dropped; None if anything else is in it."""
    kept = []
    for char in unicodedata.normalize("NFKC", text).translate(_TYPED_DIGITS):
        if char in WESTERN:
            kept.append(char)
        elif not _is_separator(char):
            return None
    return "".join(kept) or None


def _is_separator(char: str) -> bool:
    # Spaces, dashes, dots, commas (the Arabic one too), and the invisible direction marks that copying
    # from a right-to-left page brings along.
    category = unicodedata.category(char)
    return char.isspace() or category[0] in "PZ" or category == "Cf" or char == "\N{MINUS SIGN}"


# --- Receipts of words, handed out before digits -------------------------------------------------
# Every BIP-39 word is fixed by its first four letters, so a receipt copied with typos after the fourth
# letter, or abbreviated to four letters a word, still opens.


@cache
def _wordlist() -> tuple[str, ...]:
    return tuple(Mnemonic("english").wordlist)


@cache
def _by_prefix() -> dict[str, str]:
    return {word[:4]: word for word in _wordlist()}


def _words(text: str) -> str | None:
    typed = re.split(r"[\s,.;:\-_/]+", text.strip().lower())
    typed = [word for word in typed if word]
    if len(typed) != WORDS:
        return None
    found = [_by_prefix().get(word[:4]) for word in typed]
    words = [word for word in found if word is not None]
    if len(words) != len(found):
        return None
    return " ".join(words)
