"""Search by words over encrypted text, through a blind index (docs/decisions/0008).

Every word of a submission's text (the account, when and where it happened, every message of the
conversation, every note) is normalised, then stored as a keyed token (``crypto.index_token``, a PRF
under the index key) in ``IndexedWord``: each word once per submission. A search normalises its words
the same way and looks their tokens up. The database holds no word, only which submissions share one.

Normalisation, so that the ways people write one word find each other:

- Unicode NFKC first: presentation forms and ligatures become letters ("ﻻ" is "لا", "ﬁ" is "fi"),
  full-width letters ordinary ones.
- Arabic: the diacritics go (tashkeel U+064B–U+065F, the superscript alef U+0670, Quranic marks), and
  the tatweel (U+0640); the alef with hamza or madda and the wasla (أ إ آ ٱ) become a bare alef (ا),
  the alef maqsura (ى) a ya (ي), the ta marbuta (ة) a ha (ه), the hamza on waw or ya (ؤ ئ) the bare
  letter (و ي); the Persian and Urdu kaf and ya (ک ی) the Arabic ones (ك ي). So "شَهِدْتُ إطلاقَ"
  is "شهدت اطلاق", "مدرسة" is "مدرسه", "على" is "علي", "مسؤول" is "مسوول".
- Digits of every Arabic script are ASCII digits: "٢٠١٣" and "۲۰۱۳" are "2013".
- Latin: case folded, accents removed: "Bāniyās" is "baniyas", "École" is "ecole", "Straße" is "strasse".
- A word is a run of letters and digits (with the marks of scripts not listed above, which stay); a
  one-letter word is left out.
- Arabic words also give their stem: without the definite article and the letters attached before it
  (ال وال فال بال كال لل ...) when two letters or more remain, and without a leading و or ف
  ("and", "so") when three letters or more remain. So "البيت" and "وبانياس" are indexed as themselves
  and as "بيت" and "بانياس"; a search word matches when the word or its stem is indexed, so "بيت" finds
  "البيت" and "البيت" finds "بيت".

Searching is AND: every word must be there. It is one SQL query however many words it has (one
subquery each, up to ``MAX_QUERY_WORDS``, four); a submission indexes at most ``MAX_WORDS_PER_SUBMISSION``
distinct words, so no testimony, however long, can swell the table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import cast

from django.db import transaction

from intake import crypto
from intake.models import IndexedWord, Message, Note, Submission

# A search uses its first four words. Each is a semi-join that PostgreSQL can start from, or walk the queue
# in its order and stop at a page; but the planner's time grows fast with their number (measured on the
# queue's own query at 10,000 submissions: 9 to 14 ms at four words, 30 to 47 at five, up to 85 beyond),
# and four words already narrow a search to a few submissions.
MAX_QUERY_WORDS = 4
MAX_WORDS_PER_SUBMISSION = 20_000

# Stripped before the words are cut: combining marks over Arabic letters, and the tatweel.
_ARABIC_MARKS = {
    *range(0x0610, 0x061B),  # Quranic honorifics and small letters
    *range(0x064B, 0x0660),  # tashkeel: fathatan to the wavy hamza below
    0x0670,  # superscript alef
    *(code for code in range(0x06D6, 0x06EE) if unicodedata.category(chr(code)) == "Mn"),  # Quranic marks
    0x0640,  # tatweel
}
_ARABIC_LETTERS = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    # The ta marbuta is written as a ha by many people, and often without its dots in handwriting and
    # on phones: the usual choice of Arabic search engines (docs/decisions/0008).
    "ة": "ه",
    "ؤ": "و",
    "ئ": "ي",
    "ک": "ك",
    "ی": "ي",
}
_FOLD = str.maketrans(
    {
        **{code: None for code in _ARABIC_MARKS},
        **{ord(letter): plain for letter, plain in _ARABIC_LETTERS.items()},
        **{0x0660 + digit: str(digit) for digit in range(10)},  # Arabic-Indic digits
        **{0x06F0 + digit: str(digit) for digit in range(10)},  # Eastern Arabic-Indic (Persian, Urdu)
        # Latin letters whose mark is part of the letter, so that no decomposition takes it off: a
        # search typed without them ("Lodz", "Soren") finds them.
        **{ord(letter): plain for letter, plain in zip("łŁøØđĐħĦıŀĿ", "lLoOdDhHilL", strict=True)},
        **{ord(letter): plain for letter, plain in (("æ", "ae"), ("Æ", "AE"), ("œ", "oe"), ("Œ", "OE"))},
    }
)

# A combining mark (Latin accents, once decomposed) that follows a Latin letter goes; the marks of other
# scripts (Devanagari's vowel signs, for instance) are part of their words.
_LATIN_ACCENT = re.compile(r"(?<=[A-Za-z\u00C0-\u024F\u1E00-\u1EFF])[\u0300-\u036F]+")
_MARKS = "".join(re.escape(chr(code)) for code in range(0x10000) if unicodedata.category(chr(code)).startswith("M"))
_WORD = re.compile(rf"[^\W_](?:[^\W_]|[{_MARKS}])*")

# Longest first: the first that leaves enough letters is taken.
_ARTICLE_PREFIXES = ("وبال", "وكال", "فبال", "فكال", "ولل", "فلل", "وال", "فال", "بال", "كال", "لل", "ال")
_CONJUNCTIONS = ("و", "ف")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u066E-\u06D3]")


def normalise(text: str) -> list[str]:
    """The words of ``text``, normalised as this module's docstring says, in order, repeats kept."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    text = unicodedata.normalize("NFC", _LATIN_ACCENT.sub("", unicodedata.normalize("NFD", text)))
    return [word for word in _WORD.findall(text) if len(word) > 1]


def stem(word: str) -> str | None:
    """An Arabic word without its article or a leading conjunction (see the docstring); None if none."""
    if not _ARABIC_LETTER.match(word):
        return None
    for prefix in _ARTICLE_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return word[len(prefix) :]
    for prefix in _CONJUNCTIONS:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            return word[len(prefix) :]
    return None


def _indexed_forms(words: Iterable[str]) -> dict[str, None]:
    """Each word and its stem, once each, in order of appearance (a dict as an ordered set)."""
    forms: dict[str, None] = {}
    for word in words:
        forms[word] = None
        stemmed = stem(word)
        if stemmed is not None:
            forms[stemmed] = None
    return forms


def words_of(text: str) -> set[str]:
    """What indexing ``text`` stores a token of: its normalised words, and the stems of the Arabic ones."""
    return set(_indexed_forms(normalise(text)))


def tokens_of(*texts: str, limit: int | None = None) -> list[str]:
    """The index tokens of the distinct words of ``texts``, at most ``limit`` of them (the first met;
    ``MAX_WORDS_PER_SUBMISSION`` unless said)."""
    limit = MAX_WORDS_PER_SUBMISSION if limit is None else limit
    forms: dict[str, None] = {}
    for text in texts:
        for form in _indexed_forms(normalise(text or "")):
            if len(forms) >= limit:
                break
            forms[form] = None
    return [crypto.index_token(form) for form in forms]


def query_words(text: str) -> list[str]:
    """The distinct words of a search, normalised, at most ``MAX_QUERY_WORDS`` (the first typed)."""
    return list(dict.fromkeys(normalise(text)))[:MAX_QUERY_WORDS]


def submissions_matching(queryset, text: str):
    """``queryset`` narrowed to the submissions whose text holds every word of ``text`` (AND); a word
    matches when it or its stem is indexed. A search without words leaves it as it is. Lazy, and one
    query when evaluated: a subquery on the index per word."""
    for word in query_words(text):
        forms = {word}
        stemmed = stem(word)
        if stemmed is not None:
            forms.add(stemmed)
        tokens = sorted(crypto.index_token(form) for form in forms)
        queryset = queryset.filter(pk__in=IndexedWord.objects.filter(token__in=tokens).values("submission_id"))
    return queryset


def _store(submission_id, tokens: list[str]) -> None:
    # In the tokens' own order, which is random: rows written in the order of the text would keep it.
    IndexedWord.objects.bulk_create(
        (IndexedWord(submission_id=submission_id, token=token) for token in sorted(tokens)),
        batch_size=1000,
        ignore_conflicts=True,  # a word already indexed for this submission
    )


def _lock(submission: Submission) -> None:
    # index_submission and add_words on one submission take turns, so that a note committed while the
    # index is rebuilt is either read by the rebuild or added after it, never deleted by it.
    list(Submission.objects.select_for_update().filter(pk=submission.pk).values_list("pk", flat=True))


def _texts(submission: Submission) -> list[str]:
    """Everything of ``submission`` that is indexed, in the order a reader meets it."""
    texts = [submission.account, submission.happened_when, submission.happened_where]
    texts += [message.text for message in Message.objects.filter(submission=submission).order_by("position")]
    texts += [note.text for note in Note.objects.filter(submission=submission).order_by("created_at")]
    return cast(list[str], texts)  # encrypted fields read as text (intake.fields); their stubs say bytes


def index_submission(submission: Submission) -> None:
    """Index every word of ``submission`` again (after the index key changed, or a restore), replacing
    what was indexed, in one transaction."""
    with transaction.atomic():
        _lock(submission)
        IndexedWord.objects.filter(submission=submission).delete()
        _store(submission.pk, tokens_of(*_texts(submission)))


def add_words(submission: Submission, *texts: str) -> None:
    """Add the words of ``texts`` (a new message or note, or a new testimony's own) to the index of
    ``submission``. Call it in the transaction that stores the texts: a search then never misses
    committed text nor finds text rolled back."""
    with transaction.atomic():
        _lock(submission)
        room = MAX_WORDS_PER_SUBMISSION - IndexedWord.objects.filter(submission=submission).count()
        if room > 0:
            _store(submission.pk, tokens_of(*texts, limit=room))
