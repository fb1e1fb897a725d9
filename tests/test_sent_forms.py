"""intake.sent_forms: a form's one-time token is claimed once, what it kept is shown again only with the
token and only for a while, and the rows go once their tokens can no longer be sent."""

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from intake import crypto, sent_forms
from intake.models import SentForm

pytestmark = pytest.mark.django_db


def claimed(token: str, keep=None) -> None:
    with transaction.atomic():
        sent_forms.claim(token, keep=keep)


def test_a_new_token_is_fresh_and_carries_256_random_bits():
    token = sent_forms.new_token()
    day, random_part = token.split(".")
    assert int(day) == (datetime.now(UTC).date() - sent_forms.EPOCH).days
    assert len(random_part) == 43  # base64 of 32 bytes
    assert sent_forms.new_token() != token
    assert sent_forms.check(token) == sent_forms.Seen(sent_forms.FRESH)


@pytest.mark.parametrize("token", ["", "abc", "20000.short", "20000." + "a" * 44, "99999999." + "a" * 43])
def test_anything_but_a_token_is_missing(token):
    assert sent_forms.check(token).state == sent_forms.MISSING


def test_a_token_from_a_day_still_to_come_is_missing(clock):
    clock.advance(days=1)
    tomorrow = sent_forms.new_token()
    clock.advance(days=-1)
    assert sent_forms.check(tomorrow).state == sent_forms.MISSING


def test_a_claimed_token_is_sent_and_cannot_be_claimed_again():
    token = sent_forms.new_token()
    claimed(token)
    assert sent_forms.check(token) == sent_forms.Seen(sent_forms.SENT, None)
    with pytest.raises(sent_forms.AlreadySent):
        claimed(token)
    assert SentForm.objects.count() == 1


def test_a_refused_claim_rolls_back_the_writes_of_its_transaction(reviewer):
    token = sent_forms.new_token()
    claimed(token)
    with pytest.raises(sent_forms.AlreadySent), transaction.atomic():
        reviewer.first_name = "changed"
        reviewer.save()
        sent_forms.claim(token)
    reviewer.refresh_from_db()
    assert reviewer.first_name != "changed"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_claim_outside_a_transaction_is_a_bug():
    with pytest.raises(RuntimeError):
        sent_forms.claim(sent_forms.new_token())


@pytest.mark.parametrize("token", ["", "not a token"])
def test_nothing_is_claimed_without_a_token(token):
    with pytest.raises(sent_forms.Unusable):
        claimed(token)
    assert not SentForm.objects.exists()


def test_what_was_kept_is_shown_again_for_a_quarter_of_an_hour_then_never(clock):
    token = sent_forms.new_token()
    claimed(token, keep={"receipt": "1234", "photos": 2})
    clock.advance(minutes=14)
    assert sent_forms.check(token) == sent_forms.Seen(sent_forms.SENT, {"receipt": "1234", "photos": 2})
    clock.advance(minutes=16)  # the bound is rounded up to a quarter hour, so at most 30 minutes
    assert sent_forms.check(token) == sent_forms.Seen(sent_forms.SENT, None)
    assert SentForm.objects.get().sealed_receipt is None  # not only hidden: gone
    clock.advance(minutes=-30)
    assert sent_forms.check(token).kept is None


def test_the_row_holds_no_token_no_time_and_no_plaintext(clock):
    token = sent_forms.new_token()
    claimed(token, keep={"receipt": "RECEIPT-MARKER"})
    row = SentForm.objects.get()
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert (row.expires_at.hour, row.expires_at.minute, row.expires_at.second) == (0, 0, 0)
    sealed = bytes(row.sealed_receipt)
    assert b"RECEIPT-MARKER" not in sealed and token.encode() not in sealed


def test_the_sealed_receipt_opens_only_with_its_token_in_its_row():
    token, other = sent_forms.new_token(), sent_forms.new_token()
    claimed(token, keep={"receipt": "1234"})
    row = SentForm.objects.get()
    context = sent_forms._context(row.digest)
    assert b"1234" in crypto.open_with_token(row.sealed_receipt, token, context)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_with_token(row.sealed_receipt, other, context)
    with pytest.raises(crypto.DecryptionError):
        crypto.open_with_token(row.sealed_receipt, token, sent_forms._context("0" * 64))
    flipped = bytearray(row.sealed_receipt)
    flipped[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.open_with_token(bytes(flipped), token, context)


def test_a_sealed_receipt_altered_in_the_database_still_refuses_the_repeat():
    token = sent_forms.new_token()
    claimed(token, keep={"receipt": "1234"})
    SentForm.objects.update(sealed_receipt=b"\x01" + b"\x00" * 40)
    assert sent_forms.check(token) == sent_forms.Seen(sent_forms.SENT, None)


def test_a_token_is_sendable_for_two_days_after_its_own_then_too_old(clock):
    token = sent_forms.new_token()
    clock.advance(days=2)
    assert sent_forms.check(token).state == sent_forms.FRESH
    clock.advance(days=1)
    assert sent_forms.check(token).state == sent_forms.TOO_OLD
    with pytest.raises(sent_forms.Unusable):
        claimed(token)


def test_rows_go_when_their_tokens_can_no_longer_be_sent(clock):
    token = sent_forms.new_token()
    claimed(token)
    clock.advance(days=2)
    assert sent_forms.sweep() == 0
    assert sent_forms.check(token).state == sent_forms.SENT  # still refused on the last day
    clock.advance(days=1)
    assert sent_forms.sweep() == 1
    assert not SentForm.objects.exists()


def test_a_check_removes_the_rows_whose_day_has_passed(clock):
    claimed(sent_forms.new_token())
    clock.advance(days=3)
    sent_forms.check(sent_forms.new_token())
    assert not SentForm.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite takes its write lock as a transaction begins (IMMEDIATE), so two claims are never inside "
    "at once and this race cannot happen; it runs against PostgreSQL in CI's second leg",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_of_two_concurrent_claims_of_one_token_exactly_one_is_stored():
    token = sent_forms.new_token()
    both_inside = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def claim_it():
        try:
            with transaction.atomic():
                both_inside.wait()
                sent_forms.claim(token)
                outcomes.append("stored")
        except sent_forms.AlreadySent:
            outcomes.append("already sent")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already sent", "stored"]
    assert SentForm.objects.count() == 1


def test_expiry_is_a_day_boundary_after_the_last_day_a_token_may_be_sent(clock):
    clock.now = datetime(2031, 5, 6, 23, 59, tzinfo=UTC)
    claimed(sent_forms.new_token())
    assert SentForm.objects.get().expires_at == datetime(2031, 5, 9, tzinfo=UTC)
    assert timedelta(days=2) < SentForm.objects.get().expires_at - clock.now <= timedelta(days=3)


def test_the_worker_sweep_removes_the_sent_forms_whose_day_has_passed(clock, monkeypatch):
    from intake import tasks

    monkeypatch.setattr(tasks, "_queued_messages", lambda queue=None: 1)  # no broker needed: nothing is enqueued
    claimed(sent_forms.new_token())
    tasks.requeue_pending()
    assert SentForm.objects.count() == 1
    clock.advance(days=3)
    tasks.requeue_pending()
    assert not SentForm.objects.exists()
