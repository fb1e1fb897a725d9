"""Receipts: what a witness writes down to come back to a submission.

Eight words from the BIP-39 English list (2048 words, so 88 bits of entropy). The list was made for
writing down: every word is fixed by its first four letters, so a receipt copied with typos or
abbreviated to four letters a word still opens. The server keeps only a slow peppered digest.
"""

import re
import secrets
from functools import cache

from mnemonic import Mnemonic

from intake import crypto

WORDS = 8


@cache
def _wordlist() -> tuple[str, ...]:
    return tuple(Mnemonic("english").wordlist)


@cache
def _by_prefix() -> dict[str, str]:
    return {word[:4]: word for word in _wordlist()}


def new_receipt() -> str:
    return " ".join(secrets.choice(_wordlist()) for _ in range(WORDS))


def normalise(text: str) -> str | None:
    """The canonical receipt a witness meant, or None if it is not one."""
    typed = re.split(r"[\s,.;:\-_/]+", text.strip().lower())
    typed = [word for word in typed if word]
    if len(typed) != WORDS:
        return None
    found = [_by_prefix().get(word[:4]) for word in typed]
    words = [word for word in found if word is not None]
    if len(words) != len(found):
        return None
    return " ".join(words)


def digest(receipt: str) -> str:
    return crypto.receipt_digest(receipt)
