"""Two factors for every staff login, through one door: the password step, the second step, the staff
door in front of every staff page and the admin, recovery codes, and a member's own factors."""

import io
import re

import pyotp
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from intake import factors, throttle
from intake.models import AuditEvent, AuthenticatorApp, RecoveryCode
from tests.conftest import log_in
from tests.staff_login import (
    PASSWORD,
    enrol_app,
    enter_password,
    is_logged_in,
    log_in_with_code,
    next_code,
    secret_shown,
    text,
)

pytestmark = pytest.mark.django_db


def staff_pages(submission):
    return [
        reverse("review:queue"),
        reverse("review:submission", args=[submission.pk]),
        reverse("review:image", args=[submission.images.get().pk]),
        reverse("review:account"),
        reverse("review:password_change"),
        reverse("admin:index"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:intake_auditevent_changelist"),
        reverse("otp_webauthn:credential-registration-begin"),
    ]


# --- End to end --------------------------------------------------------------------------------


def test_a_member_sets_up_totp_and_logs_in_with_password_and_code(client):
    out = io.StringIO()
    call_command("createstaff", "nadia", "--reviewer", stdout=out)
    link = re.search(r"http://127\.0\.0\.1:8000(/staff/setup/\S+/)", out.getvalue()).group(1)

    page = text(client.get(link, follow=True))
    totp = pyotp.TOTP(secret_shown(page))
    response = client.post(
        reverse("review:setup"),
        {
            "new_password1": "a long passphrase of her own",
            "new_password2": "a long passphrase of her own",
            "code": totp.now(),
        },
    )
    assert response.status_code == 200 and len(re.findall(r"<li><code>[0-9A-Z-]{19}</code></li>", text(response))) == 10
    assert client.get(reverse("review:queue")).status_code == 200  # logged in by the setup
    client.post(reverse("review:logout"))
    assert client.get(reverse("review:queue")).status_code == 302

    response = log_in_with_code(client, "nadia", totp, password="a long passphrase of her own")
    assert response.status_code == 302 and response["Location"] == reverse("review:queue")
    assert "Review queue" in text(client.get(reverse("review:queue")))
    events = list(AuditEvent.objects.order_by("at", "id").values_list("actor_name", "action", "detail"))
    assert [(action, detail.get("factor")) for _, action, detail in events] == [
        ("created_account", None),
        ("created_setup_link", None),
        ("enrolled_factor", "authenticator_app"),
        ("used_setup_link", None),
        ("enrolled_factor", "recovery_codes"),
        ("logged_in", "authenticator_app"),
        ("logged_out", None),
        ("logged_in", "authenticator_app"),
    ]


# --- The door ------------------------------------------------------------------------------------


def test_a_password_alone_opens_no_staff_page(client, clock, reviewer, admin_user, submission):
    for user in (reviewer, admin_user):
        enrol_app(user)
        assert enter_password(client, user.username)["Location"] == reverse("review:verify")
        for url in staff_pages(submission):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"] == reverse("review:verify"), url
        assert "They came at dawn" not in text(client.post(reverse("review:verify"), {"code": "000000"}))
    assert not AuditEvent.objects.filter(action__in=["logged_in", "viewed", "viewed_image"]).exists()


def test_a_second_step_left_waiting_more_than_five_minutes_is_logged_out(client, clock, reviewer):
    totp = enrol_app(reviewer)
    enter_password(client, "rania")
    clock.advance(minutes=5, seconds=1)
    response = client.post(reverse("review:verify"), {"code": next_code(totp)})
    assert response.status_code == 302 and response["Location"] == reverse("review:login")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("review:queue"))["Location"].startswith(reverse("review:login"))


def test_a_second_step_within_five_minutes_logs_in(client, clock, reviewer):
    totp = enrol_app(reviewer)
    enter_password(client, "rania")
    clock.advance(minutes=4, seconds=50)
    assert client.post(reverse("review:verify"), {"code": next_code(totp)})["Location"] == reverse("review:queue")
    assert is_logged_in(client)


def test_the_login_is_audited_when_the_second_factor_is_done_not_before(client, reviewer):
    totp = enrol_app(reviewer)
    enter_password(client, "rania")
    assert not AuditEvent.objects.exists()
    client.post(reverse("review:verify"), {"code": next_code(totp)})
    event = AuditEvent.objects.get()
    assert (event.actor_name, event.action, event.detail) == ("rania", "logged_in", {"factor": "authenticator_app"})


def test_a_password_only_session_that_logs_out_leaves_no_logout_in_the_audit_log(client, reviewer):
    enrol_app(reviewer)
    enter_password(client, "rania")
    client.post(reverse("review:logout"))
    assert not AuditEvent.objects.exists()


def test_without_the_door_a_password_only_session_still_reads_no_testimony(
    client, reviewer, superuser, submission, settings
):
    """Defence in depth: intake.access and the admin site ask for the second factor themselves."""
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != "intake.review.door.staff_door"]
    client.force_login(reviewer)
    assert client.get(reverse("review:queue")).status_code == 403
    assert client.get(reverse("review:submission", args=[submission.pk])).status_code == 404
    assert client.get(reverse("review:image", args=[submission.images.get().pk])).status_code == 404
    client.force_login(superuser)
    response = client.get(reverse("admin:auth_user_changelist"))
    assert response.status_code == 302 and "/staff/admin/login/" in response["Location"]


def test_a_wrong_or_reused_code_does_not_log_in(client, clock, reviewer):
    totp = enrol_app(reviewer)
    log_in_with_code(client, "rania", totp)
    client.post(reverse("review:logout"))
    code = next_code(totp)  # just used
    enter_password(client, "rania")
    response = client.post(reverse("review:verify"), {"code": code})
    assert response.status_code == 200 and "That code is not right" in text(response)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page = text(client.post(reverse("review:verify"), {"code": wrong}))
    assert "That code is not right" in page and wrong not in page  # not given back to type over
    assert not is_logged_in(client)
    page = text(client.post(reverse("review:verify"), {"recovery_code": "AAAA-BBBB-CCCC-DDDD"}))
    assert "AAAA-BBBB-CCCC-DDDD" not in page and "<details open>" in page


def test_the_second_step_asks_the_throttle_and_counts_wrong_codes(client, reviewer, monkeypatch):
    totp = enrol_app(reviewer)
    enter_password(client, "rania")
    failures = []
    monkeypatch.setattr(throttle, "record_failure", lambda name, user=None: failures.append((name, user)))
    client.post(reverse("review:verify"), {"code": "000000"})
    client.post(reverse("review:verify"), {"recovery_code": "0000-0000-0000-0000"})
    assert failures == [("rania", reviewer), ("rania", reviewer)]

    monkeypatch.setattr(throttle, "refusal", lambda name: "Locked: wait." if name == "rania" else None)
    response = client.post(reverse("review:verify"), {"code": next_code(totp)})
    assert "Locked: wait." in text(response) and not is_logged_in(client)
    assert AuthenticatorApp.objects.get().last_t == -1  # the code was not even checked


def test_a_throttled_name_is_refused_before_its_password_is_checked(client, reviewer, monkeypatch):
    enrol_app(reviewer)
    monkeypatch.setattr(throttle, "refusal", lambda name: "Locked: wait.")
    response = enter_password(client, "rania")
    assert response.status_code == 200 and "Locked: wait." in text(response)
    assert "_auth_user_id" not in client.session


def test_an_account_without_a_factor_is_told_what_a_wrong_password_is_told(client, clock, reviewer, outsider):
    enrol_app(outsider)
    answers = [
        enter_password(client, "rania"),  # the right password, but no factor
        enter_password(client, "olga", "not her password"),
        enter_password(client, "nobody-by-this-name"),
    ]
    pages = [re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text(answer)) for answer in answers]
    pages = [
        page.replace("nobody-by-this-name", "NAME").replace("rania", "NAME").replace("olga", "NAME") for page in pages
    ]
    assert all(answer.status_code == 200 for answer in answers)
    assert pages[0] == pages[1] == pages[2]
    assert "did not match" in pages[0]
    assert "_auth_user_id" not in client.session


def test_the_next_address_is_kept_through_both_steps_and_only_if_it_is_ours(client, reviewer, submission):
    totp = enrol_app(reviewer)
    wanted = reverse("review:submission", args=[submission.pk])
    enter_password(client, "rania", next=wanted)
    assert client.post(reverse("review:verify"), {"code": next_code(totp)})["Location"] == wanted
    client.post(reverse("review:logout"))
    enter_password(client, "rania", next="https://phish.example/staff/")
    code = totp.at(__import__("time").time() + 60)
    assert client.post(reverse("review:verify"), {"code": code})["Location"] == reverse("review:queue")


# --- One door -------------------------------------------------------------------------------------


def test_the_admin_login_is_no_login_view(client, superuser):
    enrol_app(superuser)
    response = client.get(reverse("admin:login") + "?next=/staff/admin/auth/user/")
    assert response.status_code == 302
    assert response["Location"] == reverse("review:login") + "?next=/staff/admin/auth/user/"
    response = client.get(reverse("admin:login") + "?next=https://phish.example/")
    assert response["Location"] == reverse("review:login") + "?next=/staff/admin/"
    client.post(reverse("admin:login"), {"username": "root", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_no_view_anywhere_logs_anyone_in_but_the_staff_login(client):
    from django.contrib.auth.views import LoginView

    def callbacks(resolver):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from callbacks(pattern)
            elif isinstance(pattern, URLPattern):
                yield pattern.callback

    for callback in callbacks(get_resolver()):
        view_class = getattr(callback, "view_class", None)
        assert not (view_class and issubclass(view_class, LoginView)), callback
    assert client.post(reverse("admin:login"), {"username": "x", "password": "y"}).status_code == 302


def test_the_admin_logs_out_through_the_staff_logout(client, superuser):
    totp = enrol_app(superuser)
    log_in_with_code(client, "root", totp)
    assert client.get(reverse("admin:index")).status_code == 200
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("review:login")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(actor=superuser, action="logged_out").exists()


# --- Recovery codes ----------------------------------------------------------------------------------


def test_a_recovery_code_works_once_and_only_its_digest_is_stored(client, reviewer):
    enrol_app(reviewer)
    codes = factors.new_recovery_codes(reviewer)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code) for code in codes)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM intake_recoverycode")
        stored = repr(cursor.fetchall())
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored

    enter_password(client, "rania")
    typed = codes[3].lower().replace("-", " ")  # as someone might copy it
    response = client.post(reverse("review:verify"), {"recovery_code": typed})
    assert response.status_code == 302 and response["Location"] == reverse("review:account")
    assert "9 are left" in text(client.get(reverse("review:account")))
    event = AuditEvent.objects.get(action="used_recovery_code")
    assert event.detail == {"left": 9}
    assert AuditEvent.objects.get(action="logged_in").detail == {"factor": "recovery_code"}

    client.post(reverse("review:logout"))
    enter_password(client, "rania")
    response = client.post(reverse("review:verify"), {"recovery_code": codes[3]})
    assert "That recovery code is not right" in text(response) and not is_logged_in(client)
    assert RecoveryCode.objects.count() == 9


def test_recovery_codes_read_with_o_for_zero_and_l_for_one(reviewer):
    codes = factors.new_recovery_codes(reviewer)
    misread = codes[0].replace("0", "O").replace("1", "l")
    assert factors.use_recovery_code(reviewer, misread) is not None


def test_new_recovery_codes_replace_the_old_ones_and_are_audited(client, reviewer):
    old = factors.new_recovery_codes(reviewer)
    log_in(client, reviewer)
    page = text(client.post(reverse("review:new_recovery_codes")))
    new = re.findall(r"<li><code>([0-9A-Z-]{19})</code></li>", page)
    assert len(new) == 10 and not set(new) & set(old)
    assert factors.use_recovery_code(reviewer, old[0]) is None
    assert factors.use_recovery_code(reviewer, new[0]) is not None
    assert AuditEvent.objects.filter(action="enrolled_factor", detail__factor="recovery_codes").count() == 2


# --- A member's own factors ---------------------------------------------------------------------


def test_the_last_authenticator_app_cannot_be_removed_but_a_second_one_can_replace_it(client, reviewer):
    log_in(client, reviewer)
    first = AuthenticatorApp.objects.get(user=reviewer)
    response = client.post(reverse("review:remove_factor", args=["app", first.pk]), follow=True)
    assert "Your last authenticator app cannot be removed" in text(response)
    assert AuthenticatorApp.objects.filter(pk=first.pk).exists()

    page = text(client.get(reverse("review:add_app")))
    assert "<svg" in page
    new_phone = pyotp.TOTP(secret_shown(page))
    client.post(reverse("review:add_app"), {"code": new_phone.now()})
    assert AuthenticatorApp.objects.filter(user=reviewer, confirmed=True).count() == 2
    response = client.post(reverse("review:remove_factor", args=["app", first.pk]), follow=True)
    assert "Log in again with a factor you still have" in text(response)
    assert not AuthenticatorApp.objects.filter(pk=first.pk).exists()
    assert not is_logged_in(client)  # a factor taken away ends the account's sessions, this one too
    assert [(event.action, event.detail) for event in AuditEvent.objects.order_by("at", "id")] == [
        ("enrolled_factor", {"factor": "authenticator_app"}),
        ("removed_factor", {"factor": "authenticator_app"}),
        ("logged_out", {}),
    ]
    assert log_in_with_code(client, "rania", new_phone)["Location"] == reverse("review:queue")


def test_nobody_removes_another_members_factor(client, reviewer, outsider):
    enrol_app(outsider)
    enrol_app(outsider)
    theirs = AuthenticatorApp.objects.filter(user=outsider).first()
    log_in(client, reviewer)
    assert client.post(reverse("review:remove_factor", args=["app", theirs.pk])).status_code == 404
    assert AuthenticatorApp.objects.filter(user=outsider).count() == 2


def test_the_totp_secret_is_encrypted_at_rest(reviewer):
    totp = enrol_app(reviewer)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM intake_authenticatorapp")
        (stored,) = cursor.fetchone()
    assert totp.secret.encode() not in bytes(stored)
    assert AuthenticatorApp.objects.get().secret == totp.secret


# --- Pages that need no script ----------------------------------------------------------------------


def test_the_second_step_works_without_script_and_offers_a_passkey_only_to_those_who_have_one(client, reviewer):
    enrol_app(reviewer)
    enter_password(client, "rania")
    page = text(client.get(reverse("review:verify")))
    assert 'name="code"' in page and 'name="recovery_code"' in page
    assert "<script" not in page and "passkey-verification-button" not in page
