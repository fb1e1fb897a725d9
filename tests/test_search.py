"""Search by words over encrypted text (intake.search): Arabic and Latin spellings of one word find each
other, every word must be there, and the database holds keyed tokens, never the words."""

import hashlib
import importlib
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from intake import actions, crypto, search, sent_forms
from intake.models import IndexedWord, Submission
from tests.conftest import at_once
from tests.test_conversation import witness_replies
from tests.test_encryption_at_rest import all_database_bytes

pytestmark = pytest.mark.django_db

ACCOUNT = "شَهِدْتُ إطلاقَ النار في بانياس"


def submit(account: str, when: str = "", where: str = "") -> Submission:
    receipt = actions.submit_testimony(
        account=account, happened_when=when, happened_where=where, uploads=[], token=sent_forms.new_token()
    )
    return actions.find_by_receipt(receipt)


def found(text: str) -> set[Submission]:
    return set(search.submissions_matching(Submission.objects.all(), text))


@pytest.fixture
def unrelated(db) -> Submission:
    """A testimony that no search of these tests should find."""
    return submit("رأيت الدخان فوق الجسر في حمص. I saw smoke over the bridge.")


# --- What finds what -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["اطلاق", "إطلاق", "إِطْلَاق", "شهدت", "بانياس", "النار", "نار", "شهدت بانياس"])
def test_an_arabic_account_is_found_with_or_without_diacritics_and_alef_variants(query, unrelated):
    submission = submit(ACCOUNT)
    assert found(query) == {submission}


@pytest.mark.parametrize(
    ("written", "query"),
    [
        ("مدرسة", "مدرسه"),  # ta marbuta
        ("مدرسه", "مدرسة"),
        ("ذهبنا إلى المستشفى", "مستشفي"),  # alef maqsura, and the article
        ("مسؤول الحاجز", "مسوول"),  # hamza on waw
        ("ســـوق", "سوق"),  # tatweel
        ("آمنة", "امنه"),
        ("وبانياس", "بانياس"),  # the conjunction
        ("بيت", "البيت"),  # a search word with the article finds it without
        ("للبيت", "بيت"),
        ("کتاب", "كتاب"),  # Persian kaf
        ("في ٢٠١٣", "2013"),  # Arabic-Indic digits
        ("in 2013", "۲۰۱۳"),  # Eastern Arabic-Indic digits
        ("Bāniyās", "BANIYAS"),
        ("École", "ecole"),
        ("Straße", "STRASSE"),
    ],
)
def test_spellings_of_one_word_find_each_other(written, query, unrelated):
    submission = submit(written)
    assert found(query) == {submission}


@pytest.mark.parametrize("query", ["ولد", "طن", "لد", "banyas", "نيران"])
def test_a_different_word_is_not_found(query):
    submit("الوطن بانياس Bāniyās النار")
    assert found(query) == set()


def test_every_word_of_a_search_must_be_there(unrelated):
    both = submit("The checkpoint at Baniyas")
    one = submit("The checkpoint at Homs")
    assert found("checkpoint") == {both, one}
    assert found("checkpoint baniyas") == {both}
    assert found("baniyas homs") == set()


def test_a_search_without_words_leaves_the_queue_as_it_is(unrelated):
    everything = Submission.objects.all()
    for query in ("", "   ", "؟!", "a", "ب"):
        assert search.submissions_matching(everything, query) is everything


def test_the_place_and_the_time_are_searchable(unrelated):
    submission = submit("They came.", when="الجمعة صباحاً", where="ساحة الحرية، Baniyas")
    assert found("ساحه") == found("الجمعه") == found("baniyas") == {submission}


def test_notes_messages_and_witness_replies_are_searchable(reviewer, unrelated):
    submission = submit("They came at dawn.")
    actions.add_note(reviewer, submission, "Matches the report from Tartus.")
    actions.send_message(reviewer, submission, "هل تذكر لون السيارة؟")
    witness_replies(submission, text="كانت السيارةُ بيضاءَ")
    assert found("tartus") == found("لون") == found("سياره بيضاء") == {submission}
    assert found("dawn tartus بيضاء") == {submission}


def test_a_note_rolled_back_is_not_found(reviewer, unrelated):
    submission = submit("They came at dawn.")
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.add_note(reviewer, submission, "Matches the report from Tartus.")
        raise RuntimeError
    assert found("tartus") == set()


def test_a_query_word_is_its_normalised_form_once_and_only_the_first_words_count():
    assert search.query_words("Bāniyās BANIYAS النَّار النار") == ["baniyas", "النار"]
    many = " ".join(f"word{n}" for n in range(20))
    assert search.query_words(many) == [f"word{n}" for n in range(search.MAX_QUERY_WORDS)]


def test_normalisation_keeps_words_of_other_scripts_whole_and_drops_one_letter_words():
    assert search.normalise("शब्द, snake_case, a 5 و") == ["शब्द", "snake", "case"]
    assert search.normalise("ﻻ ﬁne") == ["لا", "fine"]
    # A conjunction or article is a stem only when enough of the word remains.
    assert search.words_of("ولد الام") == {"ولد", "الام", "ام"}


# --- The cost of a search ---------------------------------------------------------------------------


def test_a_search_is_one_query_however_many_words_it_has():
    submit(" ".join(f"word{n}" for n in range(40)))
    counts = set()
    for words in (1, 2, search.MAX_QUERY_WORDS, 30):
        query = " ".join(f"word{n}" for n in range(words))
        with CaptureQueriesContext(connection) as queries:
            assert len(found(query)) == 1
        counts.add(len(queries))
    assert counts == {1}


def test_a_submission_indexes_at_most_the_cap_of_words(monkeypatch, reviewer):
    monkeypatch.setattr(search, "MAX_WORDS_PER_SUBMISSION", 10)
    submission = submit(" ".join(f"word{n}" for n in range(30)))
    actions.add_note(reviewer, submission, "another note with more words")
    assert IndexedWord.objects.filter(submission=submission).count() == 10
    assert found("word9") == {submission}
    assert found("word10") == found("note") == set()


# --- What the index keeps ---------------------------------------------------------------------------


def test_the_index_holds_neither_the_words_nor_their_plain_digests(reviewer):
    submission = submit(ACCOUNT + " Bāniyās checkpoint", where="Baniyas")
    actions.add_note(reviewer, submission, "Tartus report")
    words = search.words_of(ACCOUNT + " Bāniyās checkpoint Baniyas Tartus report")
    tokens = set(IndexedWord.objects.filter(submission=submission).values_list("token", flat=True))
    assert tokens == {crypto.index_token(word) for word in words}  # each word once, stems included

    dump = all_database_bytes()
    for word in words:
        digest = hashlib.sha256(word.encode()).hexdigest()
        for guess in (word, digest, digest[:32]):
            assert guess.encode() not in dump, guess


def replace_index_key(settings) -> None:
    keys = json.loads(settings.INTAKE_KEYS)
    keys["index"] = json.loads(crypto.new_keys_document())["index"]
    settings.INTAKE_KEYS = json.dumps(keys)
    crypto.forget_loaded_keys()


def test_another_index_key_gives_other_tokens(settings):
    before = crypto.index_token("بانياس")
    replace_index_key(settings)
    assert crypto.index_token("بانياس") != before
    assert crypto.index_token("بانياس") == crypto.index_token("بانياس")


def test_reindex_rebuilds_the_index_after_the_index_key_changes(settings, reviewer):
    submission = submit(ACCOUNT)
    actions.add_note(reviewer, submission, "Tartus")
    replace_index_key(settings)
    assert found("بانياس") == set()  # tokens made under the old key match nothing

    call_command("reindex", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert found("بانياس") == found("tartus") == {submission}
    assert IndexedWord.objects.filter(submission=submission).count() == len(search.words_of(ACCOUNT + " Tartus"))


# --- What was stored before the index -----------------------------------------------------------------

index_migration = importlib.import_module("intake.migrations.0013_search")


def test_the_migration_indexes_what_was_stored_before_it(reviewer):
    # Stored without going through intake.actions, as before the index: no words indexed.
    submission = Submission.objects.create(receipt_digest="e" * 64, account=ACCOUNT, happened_where="Baniyas")
    submission.notes.create(author=reviewer, text="Tartus report")
    submission.messages.create(position=0, sender="witness", text="كانت السيارة بيضاء")
    assert found("بانياس") == set()
    state = MigrationExecutor(connection).loader.project_state(("intake", "0013_search")).apps

    index_migration.index_stored(state, None)

    assert found("بانياس") == found("baniyas") == found("tartus") == found("السيارة") == {submission}
    index_migration.forget_index(state, None)
    assert not IndexedWord.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_notes_added_at_once_by_several_reviewers_are_all_stored_and_found(reviewer):
    submission = Submission.objects.create(receipt_digest="f" * 64, account="They came at dawn.")
    writers = 8
    assert at_once(writers, lambda number: actions.add_note(reviewer, submission, f"note{number}")) == []
    for number in range(writers):
        assert found(f"note{number}") == {submission}


def test_the_index_keeps_neither_the_order_of_arrival_nor_the_order_of_the_words(db):
    words = [f"word{number:02d}" for number in range(40)]
    stored = []
    for number in range(8):  # stored one after another, as witnesses' testimonies arrive
        submission = Submission.objects.create(receipt_digest=f"{number:064d}", account=" ".join(words))
        search.index_submission(submission)
        stored.append(submission.pk)
    first_row_of = {}
    for row in IndexedWord.objects.order_by("pk"):
        first_row_of.setdefault(row.submission_id, row.pk)
    assert sorted(stored, key=first_row_of.__getitem__) != stored  # 1 chance in 40,320 of failing by luck
    in_key_order = list(
        IndexedWord.objects.filter(submission_id=stored[0]).order_by("pk").values_list("token", flat=True)
    )
    assert in_key_order != [crypto.index_token(word) for word in words]


@pytest.mark.parametrize(
    "written, typed", [("Łódź", "lodz"), ("Søren", "SOREN"), ("Đakovo", "dakovo"), ("Æblegade", "aeblegade")]
)
def test_latin_letters_with_marks_of_their_own_are_found_without_them(written, typed):
    assert search.normalise(written) == search.normalise(typed)
