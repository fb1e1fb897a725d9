"""Guessing staff passwords is slowed, then locked, per typed name and for the whole service, through the
staff login page; nothing says whether an account exists, and no name is stored."""

import logging
import re

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from intake import throttle
from intake.models import AuditEvent, AuthenticatorApp, LoginThrottle
from intake.review.login import WRONG_PASSWORD

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery staple"  # the actors' password (tests.conftest)
WRONG = "wrong horse battery staple"


@pytest.fixture
def member(reviewer):
    """A reviewer with an authenticator app, whose right password leads to the second step."""
    app = AuthenticatorApp.new(reviewer, name="phone")
    app.confirmed = True
    app.save(update_fields=["confirmed"])
    return reviewer


def attempt(client, username, password=WRONG):
    return client.post(reverse("review:login"), {"username": username, "password": password})


def refusal_of(response) -> str:
    """The error the password step gives: a throttle's message, or the usual one."""
    return str(response.context["error"] or "")


def passed(response) -> bool:
    """The password was accepted: on to the second step."""
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def fail_until_locked(client, clock, username, settings):
    """Wrong passwords, each after waiting out the delay the last one earned, up to the lock."""
    for _ in range(settings.INTAKE_LOGIN_LOCK_AFTER):
        assert refusal_of(attempt(client, username)) == WRONG_PASSWORD
        clock.advance(minutes=5)  # longer than any slowdown, shorter than the lock
    clock.advance(minutes=-5)


@pytest.fixture
def checks(monkeypatch):
    """Counts the passwords actually checked against an account."""
    counted = []
    real = AbstractBaseUser.check_password

    def check_password(user, raw):
        counted.append(user.get_username())
        return real(user, raw)

    monkeypatch.setattr(AbstractBaseUser, "check_password", check_password)
    return counted


def test_a_guesser_who_waits_out_every_delay_is_still_locked_when_the_right_password_comes(
    clock, client, member, checks
):
    for _ in range(300):
        attempt(client, "rania")
        clock.advance(minutes=3)
    response = attempt(client, "rania", RIGHT)
    assert not passed(response)
    assert "locked" in refusal_of(response)
    # Ten guesses before the lock, then one each time a lock runs out: not 300.
    assert 10 <= len(checks) <= 10 + (300 * 3) // 15
    assert "_auth_user_id" not in client.session


def test_the_lock_lifts_after_its_time(clock, client, member, settings):
    fail_until_locked(client, clock, "rania", settings)
    response = attempt(client, "rania", RIGHT)
    assert not passed(response)
    assert "15 minutes" in refusal_of(response)

    clock.advance(minutes=14)
    assert not passed(attempt(client, "rania", RIGHT))
    clock.advance(minutes=1)
    assert passed(attempt(client, "rania", RIGHT))


def test_each_failure_after_the_lock_locks_again(clock, client, member, settings):
    fail_until_locked(client, clock, "rania", settings)
    clock.advance(minutes=15)
    attempt(client, "rania")
    assert "locked" in refusal_of(attempt(client, "rania", RIGHT))


def test_a_try_that_comes_too_early_is_refused_without_being_checked(clock, client, member, checks, settings):
    for _ in range(settings.INTAKE_LOGIN_SLOW_AFTER):
        attempt(client, "rania")
    assert len(checks) == settings.INTAKE_LOGIN_SLOW_AFTER

    response = attempt(client, "rania", RIGHT)
    assert not passed(response)
    assert "Wait 2 seconds" in refusal_of(response)
    assert len(checks) == settings.INTAKE_LOGIN_SLOW_AFTER  # the right password was not even looked at

    clock.advance(seconds=1)
    assert "Wait 1 second," in refusal_of(attempt(client, "rania", RIGHT))
    clock.advance(seconds=1)
    assert passed(attempt(client, "rania", RIGHT))


def test_the_delay_grows_with_each_failure(clock, client, member, settings):
    waits = []
    for _ in range(settings.INTAKE_LOGIN_LOCK_AFTER - 1):
        attempt(client, "rania")
        message = throttle.refusal("rania") or ""
        waits.append(int(re.search(r"Wait (\d+) second", message).group(1)) if "Wait" in message else 0)
        clock.advance(minutes=5)
    assert waits == [0, 0, 2, 4, 8, 16, 32, 64, 128]


def test_the_backend_refuses_a_throttled_name_unchecked_but_with_the_work_of_a_check(
    clock, client, member, settings, checks, monkeypatch
):
    """Whoever calls authenticate() while a name is throttled (the login page asks the throttle first;
    a race, or another caller, does not) is refused in the time a check takes: the typed password is
    hashed, only not compared."""
    from django.contrib.auth import authenticate, base_user

    for _ in range(settings.INTAKE_LOGIN_SLOW_AFTER):
        attempt(client, "rania")
    hashed = []
    real = base_user.make_password
    monkeypatch.setattr(base_user, "make_password", lambda raw, *a, **k: hashed.append(raw) or real(raw, *a, **k))
    with pytest.raises(ValidationError, match="Wait 2 seconds"):
        authenticate(None, username="rania", password=RIGHT)
    assert hashed == [RIGHT]
    assert len(checks) == settings.INTAKE_LOGIN_SLOW_AFTER


def test_a_spray_over_many_names_trips_the_global_budget(clock, client, member, settings):
    for number in range(settings.INTAKE_LOGIN_FAILURE_BUDGET):
        assert refusal_of(attempt(client, f"guess{number}")) == WRONG_PASSWORD

    for name, password in (("rania", RIGHT), ("someone-new", WRONG)):
        response = attempt(client, name, password)
        assert not passed(response)
        assert "logins are paused for everyone" in refusal_of(response)

    clock.advance(hours=1)
    assert passed(attempt(client, "rania", RIGHT))


def test_a_missing_account_and_a_real_one_get_the_same_pages_at_every_stage(clock, client, member, settings):
    def page(response, name):
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
        return response.status_code, refusal_of(response), body.replace(name, "NAME")

    def same(password_for_real, password_for_ghost=WRONG):
        real = page(attempt(client, "rania", password_for_real), "rania")
        ghost = page(attempt(client, "nadia", password_for_ghost), "nadia")
        assert real == ghost
        return real[1]

    messages = []
    for _ in range(60):  # ten failures, with their delays, take about 25 of these steps
        messages.append(same(WRONG))  # checked, or refused while slowed or locked
        messages.append(same(WRONG))  # at once again
        clock.advance(seconds=30)
        if "locked" in messages[-1]:
            break
    messages.append(same(RIGHT))  # the right password, for the real account, while locked
    assert any("Wait" in message for message in messages)
    assert "locked" in messages[-1]


def test_the_throttle_table_holds_no_name(clock, client, member):
    for name in ("rania", "Rania", "nadia", "my-password-typed-here"):
        attempt(client, name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM intake_loginthrottle")
        rows = cursor.fetchall()
    assert len(rows) == 3  # case is folded: Rania and rania are one name
    dump = repr(rows).casefold()
    for name in ("rania", "nadia", "my-password-typed-here"):
        assert name not in dump
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in LoginThrottle.objects.values_list("key", flat=True))


def test_a_lockout_is_audited_for_a_real_account_and_logged_without_the_name(clock, client, member, settings, caplog):
    with caplog.at_level(logging.WARNING, logger="intake.throttle"):
        fail_until_locked(client, clock, "rania", settings)
        fail_until_locked(client, clock, "nadia", settings)
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOCKED_OUT)
    assert event.actor == member and event.account == "rania"
    assert event.detail == {"failures": settings.INTAKE_LOGIN_LOCK_AFTER, "minutes": 15}
    lines = [record.getMessage() for record in caplog.records if record.name == "intake.throttle"]
    assert lines == ["a staff login name was locked for 15 minutes after 10 failed logins"] * 2
    assert "rania" not in caplog.text and "nadia" not in caplog.text


def test_failures_are_forgotten_after_a_day_without_any(clock, client, member, settings):
    fail_until_locked(client, clock, "rania", settings)
    clock.advance(days=2)
    attempt(client, "rania")
    assert LoginThrottle.objects.get().failures == 1
    assert passed(attempt(client, "rania", RIGHT))


def test_success_with_both_factors_forgets_the_failures(clock, client, member, settings):
    for _ in range(settings.INTAKE_LOGIN_SLOW_AFTER):
        attempt(client, "rania")
    throttle.record_success("rania")
    assert not LoginThrottle.objects.exists()
    assert throttle.refusal("rania") is None


def test_without_a_reachable_cache_the_per_name_limits_still_hold(clock, client, member, settings, caplog):
    """The global budget lives in the cache; a Redis outage must neither open the door nor shut it."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    for _ in range(settings.INTAKE_LOGIN_SLOW_AFTER):
        assert refusal_of(attempt(client, "rania")) == WRONG_PASSWORD
    assert "Wait 2 seconds" in refusal_of(attempt(client, "rania", RIGHT))
    clock.advance(seconds=2)
    assert passed(attempt(client, "rania", RIGHT))
    assert "the global budget of failed staff logins is not enforced" in caplog.text


# serialized_rollback: its flush then leaves the content types alone, so that a later test which
# restores the database's serialized contents does not meet new rows under the same names.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_failures_at_the_same_moment_are_all_counted_against_the_name(clock):
    """A row lock on PostgreSQL, the database's write lock on SQLite."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def fail(_):
        try:
            throttle.record_failure("rania")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fail, range(24)))
    assert LoginThrottle.objects.get().failures == 24


def test_failures_at_the_same_moment_are_all_counted_in_the_global_budget(clock):
    """Redis increments atomically; the file-based cache is read and rewritten under a lock file."""
    from concurrent.futures import ThreadPoolExecutor

    from django.core.cache import caches

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda _: throttle._count_global_failure(), range(400)))
    assert caches["default"].get(throttle._global_key()) == 400
