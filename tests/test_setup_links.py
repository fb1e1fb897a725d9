"""Nobody knows another member's password: new accounts and reset ones get a one-time setup link, on
which their owner chooses a password and enrols an authenticator app."""

import io
import re

import pyotp
import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from intake import factors, setup_links
from intake.models import AuditEvent, AuthenticatorApp, RecoveryCodes, SetupLink
from tests.conftest import log_in
from tests.staff_login import enrol_app, is_logged_in, log_in_with_code, secret_shown, text

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long passphrase of her own"


def printed_link(out: str) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/staff/setup/[A-Za-z0-9_-]{43}/)", out)
    assert match, out
    return match.group(1)


def create(username, *roles) -> str:
    out = io.StringIO()
    call_command("createstaff", username, *roles, stdout=out)
    return printed_link(out.getvalue())


def finish_setup(client, link, password=NEW_PASSWORD):
    """Open the link and fill the page in as a person with an authenticator app would."""
    page = text(client.get(link, follow=True))
    totp = pyotp.TOTP(secret_shown(page))
    response = client.post(
        reverse("review:setup"),
        {
            "new_password1": password,
            "new_password2": password,
            "code": totp.now(),
        },
    )
    return response, totp


def test_createstaff_makes_an_account_nobody_can_log_in_to_until_its_link_is_used(client):
    link = create("nadia", "--reviewer")
    nadia = User.objects.get(username="nadia")
    assert not nadia.has_usable_password() and not factors.has_factor(nadia)
    assert list(nadia.groups.values_list("name", flat=True)) == ["Reviewer"] and not nadia.is_staff
    assert SetupLink.objects.get().digest not in link  # only a digest is stored

    response, totp = finish_setup(client, link)
    assert "Your account is ready" in text(response)
    nadia.refresh_from_db()
    assert nadia.check_password(NEW_PASSWORD) and factors.has_factor(nadia)
    assert RecoveryCodes.objects.get(user=nadia).codes.count() == 10
    assert is_logged_in(client)
    # Logged in as the page says: the staff navigation is there, and a reviewer continues to the queue.
    assert 'class="staff-nav"' in text(response)
    assert f'href="{reverse("review:queue")}">' in text(response).split("I have kept them")[0].rsplit("<a ", 1)[1]


def test_no_stored_session_holds_a_setup_token(client):
    """Session rows are in the database: a token there would let whoever copies the table set up the
    account, password and second factor included."""
    from intake.models import StaffSession

    link = create("nadia", "--reviewer")
    token = link.split("/")[-2]
    client.get(link)
    assert client.get(reverse("review:setup")).status_code == 200
    rows = StaffSession.objects.all()
    stored = " ".join(row.session_data + repr(row.get_decoded()) for row in rows)
    assert rows and token not in stored


def test_the_link_leaves_the_address_bar_and_the_page_needs_no_script(client):
    link = create("nadia", "--reviewer")
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == reverse("review:setup")
    response = client.get(reverse("review:setup"))
    page = text(response)
    assert link.split("/")[-2] not in page
    # The QR code is drawn in the page, and the key is there as text: no script, no data: image.
    assert "<svg" in page and 'class="secret"' in page and 'name="code"' in page
    # Scripts may come only from our own files (witness pages enhance with them); this page loads none.
    assert "<script" not in page and "script-src 'self';" in response["Content-Security-Policy"] + ";"


def test_a_link_works_once(client):
    link = create("nadia", "--reviewer")
    finish_setup(client, link)
    client.post(reverse("review:logout"))
    second = text(client.get(link, follow=True))
    assert "This setup link cannot be used" in second
    assert client.post(reverse("review:setup"), {"new_password1": "x"}).status_code == 404


def test_unknown_used_and_expired_links_all_look_the_same(client, clock):
    used = create("used", "--reviewer")
    finish_setup(client, used)
    client.post(reverse("review:logout"))
    expired = create("late", "--reviewer")
    clock.advance(hours=24, seconds=1)
    unknown = reverse("review:setup_link", args=["x" * 43])

    pages = []
    for link in (unknown, used, expired):
        response = client.get(link, follow=True)
        pages.append((response.status_code, re.sub(r'value="[^"]+"', "", text(response))))
    assert pages[0] == pages[1] == pages[2]
    assert pages[0][0] == 404 and "This setup link cannot be used" in pages[0][1]


def test_a_link_still_works_just_before_it_expires(client, clock):
    link = create("nadia", "--reviewer")
    clock.advance(hours=23, minutes=59)
    response, _ = finish_setup(client, link)
    assert "Your account is ready" in text(response)


def test_the_password_validators_apply_and_a_refusal_changes_nothing(client):
    link = create("nadia", "--reviewer")
    page = text(client.get(link, follow=True))
    totp = pyotp.TOTP(secret_shown(page))
    response = client.post(
        reverse("review:setup"), {"new_password1": "short", "new_password2": "short", "code": totp.now()}
    )
    assert response.status_code == 200 and "too short" in text(response)
    assert secret_shown(text(response)) == totp.secret  # the same app still waits
    nadia = User.objects.get(username="nadia")
    assert not nadia.has_usable_password() and not factors.has_factor(nadia)
    assert SetupLink.objects.get().used_at is None


def test_a_wrong_code_changes_nothing(client):
    link = create("nadia", "--reviewer")
    client.get(link, follow=True)
    response = client.post(
        reverse("review:setup"), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "code": "000000"}
    )
    assert "That code is not right" in text(response)
    nadia = User.objects.get(username="nadia")
    assert not nadia.has_usable_password() and not factors.has_factor(nadia) and not is_logged_in(client)
    assert SetupLink.objects.get().used_at is None


def test_whoever_opened_the_link_before_does_not_learn_the_secret_that_gets_enrolled(client):
    link = create("nadia", "--reviewer")
    from django.test import Client

    scanner = Client()
    seen = secret_shown(text(scanner.get(link, follow=True)))
    response, totp = finish_setup(client, link)
    assert "Your account is ready" in text(response)
    assert totp.secret != seen


def test_a_new_link_cancels_the_old_one(client):
    old = create("nadia", "--reviewer")
    nadia = User.objects.get(username="nadia")
    new = setup_links.path(setup_links.issue(None, nadia))
    assert "cannot be used" in text(client.get(old, follow=True))
    assert "Set up your account" in text(client.get(new, follow=True))


def test_createstaff_refuses_an_existing_name_and_needs_a_role():
    create("nadia", "--reviewer")
    with pytest.raises(CommandError, match="resetfactors"):
        call_command("createstaff", "Nadia", "--admin", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Give a role"):
        call_command("createstaff", "omar", stdout=io.StringIO())


def test_createstaff_makes_an_exporter_only_of_a_reviewer(client):
    for alone in (["--exporter"], ["--exporter", "--admin"], ["--exporter", "--superuser"]):
        with pytest.raises(CommandError, match="--exporter needs --reviewer"):
            call_command("createstaff", "omar", *alone, stdout=io.StringIO())
    assert not User.objects.filter(username="omar").exists()
    create("nadia", "--reviewer", "--exporter")
    nadia = User.objects.get(username="nadia")
    assert sorted(nadia.groups.values_list("name", flat=True)) == ["Exporter", "Reviewer"] and not nadia.is_staff
    event = AuditEvent.objects.get(action="created_account")
    assert event.detail == {"roles": ["Reviewer", "Exporter"], "superuser": False, "by": "manage.py"}


def test_createstaff_makes_the_first_superuser(client):
    link = create("root", "--superuser")
    root = User.objects.get(username="root")
    assert root.is_superuser and root.is_staff and not root.groups.exists()
    finish_setup(client, link)
    assert client.get(reverse("admin:index")).status_code == 200
    assert [(event.action, event.detail) for event in AuditEvent.objects.order_by("at", "id")[:2]] == [
        ("created_account", {"roles": [], "superuser": True, "by": "manage.py"}),
        ("created_setup_link", {"by": "manage.py"}),
    ]


# --- The admin's "add account" -------------------------------------------------------------------


def test_the_admin_adds_an_account_with_a_name_and_roles_only_and_sees_its_link_once(client, admin_user):
    log_in(client, admin_user)
    form = text(client.get(reverse("admin:auth_user_add")))
    assert 'name="username"' in form and 'name="groups"' in form
    assert not re.search(r'name="(password[12]?|usable_password)"', form)
    admin_role = str(Group.objects.get(name="Admin").pk)
    response = client.post(reverse("admin:auth_user_add"), {"username": "nour", "groups": [admin_role]})
    link = re.search(r"http://testserver(/staff/setup/[A-Za-z0-9_-]{43}/)", text(response)).group(1)
    nour = User.objects.get(username="nour")
    assert nour.is_staff and not nour.has_usable_password()
    assert link not in text(client.get(reverse("admin:auth_user_change", args=[nour.pk])))

    newcomer = type(client)()
    finish_setup(newcomer, link)
    assert newcomer.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("role", ["Reviewer", "Exporter"])
def test_an_admin_cannot_add_a_reviewer_or_an_exporter(client, admin_user, role):
    log_in(client, admin_user)
    given = str(Group.objects.get(name=role).pk)
    response = client.post(reverse("admin:auth_user_add"), {"username": "nour", "groups": [given]})
    assert f"Only a superuser can give the {role} role" in text(response)
    assert not User.objects.filter(username="nour").exists() and not SetupLink.objects.exists()


def test_nobody_sets_another_members_password_in_the_admin_not_even_a_superuser(client, superuser, outsider):
    log_in(client, superuser)
    url = reverse("admin:auth_user_password_change", args=[outsider.pk])
    assert client.get(url).status_code == 403
    assert (
        client.post(
            url,
            {
                "password1": "a new long passphrase 42",
                "password2": "a new long passphrase 42",
                "usable_password": "true",
            },
        ).status_code
        == 403
    )
    outsider.refresh_from_db()
    assert outsider.check_password("correct horse battery staple")
    assert "../password/" not in text(client.get(reverse("admin:auth_user_change", args=[outsider.pk])))


# --- Resetting factors ---------------------------------------------------------------------------


def reset_action(client, *accounts):
    return client.post(
        reverse("admin:auth_user_changelist"),
        {
            "action": "reset_factors",
            "_selected_action": [str(account.pk) for account in accounts],
        },
    )


def test_a_superuser_resets_factors_which_ends_sessions_and_sends_the_owner_through_setup(client, superuser, reviewer):
    totp = enrol_app(reviewer)
    factors.new_recovery_codes(reviewer)
    members_browser = type(client)()
    log_in_with_code(members_browser, "rania", totp)
    assert members_browser.get(reverse("review:queue")).status_code == 200

    log_in(client, superuser)
    response = reset_action(client, reviewer)
    link = re.search(r"http://testserver(/staff/setup/[A-Za-z0-9_-]{43}/)", text(response)).group(1)
    reviewer.refresh_from_db()
    assert not reviewer.has_usable_password() and not factors.has_factor(reviewer)
    assert not AuthenticatorApp.objects.filter(user=reviewer).exists()
    assert not RecoveryCodes.objects.filter(user=reviewer).exists()
    assert members_browser.get(reverse("review:queue")).status_code == 302

    reset = AuditEvent.objects.get(action="reset_factors")
    assert (reset.actor_name, reset.account) == ("root", "rania")
    assert AuditEvent.objects.filter(action="created_setup_link", actor=superuser, account="rania").exists()

    finish_setup(members_browser, link, password="her brand new passphrase")
    assert members_browser.get(reverse("review:queue")).status_code == 200


def test_an_admin_can_neither_see_nor_use_the_reset(client, admin_user, outsider):
    totp = enrol_app(outsider)
    log_in(client, admin_user)
    changelist = text(client.get(reverse("admin:auth_user_changelist")))
    assert 'value="reset_factors"' not in changelist
    reset_action(client, outsider)
    outsider.refresh_from_db()
    assert outsider.has_usable_password() and factors.has_factor(outsider)
    assert not AuditEvent.objects.filter(action="reset_factors").exists()
    assert log_in_with_code(type(client)(), "olga", totp)["Location"] == reverse("review:account")


def test_resetfactors_on_the_command_line_moves_an_account_from_before_two_factors(client, reviewer):
    assert not factors.has_factor(reviewer)  # an account from before two factors
    out = io.StringIO()
    call_command("resetfactors", "rania", stdout=out)
    link = printed_link(out.getvalue())
    response, _ = finish_setup(client, link)
    assert "Your account is ready" in text(response)
    assert client.get(reverse("review:queue")).status_code == 200
    reset = AuditEvent.objects.get(action="reset_factors")
    assert (reset.actor_name, reset.account, reset.detail) == ("rania", "rania", {"by": "manage.py"})
    with pytest.raises(CommandError):
        call_command("resetfactors", "nobody", stdout=io.StringIO())
