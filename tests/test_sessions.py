"""Staff sessions really end: after 30 idle minutes or 8 hours in all, on the server; when the account
is deactivated, loses a role, gets a new password or loses a factor, however that is done; and when
the member or a superuser ends them."""

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from intake.models import AuditEvent, AuthenticatorApp, RecoveryCode, RecoveryCodes, StaffSession
from tests.conftest import log_in

pytestmark = pytest.mark.django_db

QUEUE = reverse("review:password_change")  # a page every logged-in member may open


def signed_in(user, count=1) -> list[Client]:
    clients = []
    for _ in range(count):
        client = Client()
        log_in(client, user)
        assert client.get(QUEUE).status_code == 200
        clients.append(client)
    return clients


def alive(client) -> bool:
    """Whether the client's session still opens the queue (a dead one is sent to the login)."""
    response = client.get(QUEUE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def sessions_of(user) -> int:
    return StaffSession.objects.filter(user_id=user.pk).count()


def test_the_database_keeps_no_session_key_that_would_open_a_session(reviewer):
    """A copy of the session table must not be a set of live logins: only digests of the keys are kept."""
    from django.conf import settings

    (client,) = signed_in(reviewer)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    stored = list(StaffSession.objects.values_list("session_key", flat=True))
    assert stored and key not in stored
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stored[0]
    assert thief.get(QUEUE).status_code == 302
    assert alive(client)


# --- Idle and absolute limits ----------------------------------------------------------------------


def test_a_session_idle_for_more_than_30_minutes_is_ended(clock, reviewer):
    (client,) = signed_in(reviewer)
    for _ in range(5):  # in use: each request starts the idle time again
        clock.advance(minutes=29)
        assert alive(client)
    clock.advance(minutes=31)
    assert not alive(client)
    assert sessions_of(reviewer) == 0


def test_the_idle_limit_is_a_setting(clock, reviewer, settings):
    settings.INTAKE_STAFF_IDLE_MINUTES = 5
    (client,) = signed_in(reviewer)
    clock.advance(minutes=6)
    assert not alive(client)


def test_a_session_in_constant_use_ends_after_8_hours(clock, reviewer):
    (client,) = signed_in(reviewer)
    for _ in range(8 * 3 - 1):
        clock.advance(minutes=20)
        assert alive(client)
    clock.advance(minutes=21)
    assert not alive(client)
    assert sessions_of(reviewer) == 0


def test_an_abandoned_session_is_expired_in_the_database_itself(clock, reviewer):
    """Not only the browser's cookie or the next request: the stored row expires, and Django's own
    clean-up removes it."""
    signed_in(reviewer)
    clock.advance(minutes=31)
    call_command("clearsessions")
    assert sessions_of(reviewer) == 0


def test_the_witness_side_gets_no_session(client, reviewer):
    for response in (client.get("/"), client.get(reverse("witness:status")), client.get("/no-such-page/")):
        assert "sessionid" not in response.cookies
    assert not StaffSession.objects.exists()


def test_a_staff_session_is_not_touched_on_the_witness_side(clock, reviewer):
    (client,) = signed_in(reviewer)
    before = StaffSession.objects.get().session_data
    clock.advance(minutes=20)
    client.get("/")
    assert StaffSession.objects.get().session_data == before  # no "last seen" written there


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_losing_staff_or_superuser_status_ends_every_session(superuser, flag):
    clients = signed_in(superuser, count=2)
    setattr(superuser, flag, False)
    superuser.save()
    assert sessions_of(superuser) == 0 and not any(alive(client) for client in clients)


# --- Deactivation ---------------------------------------------------------------------------------


def deactivate_by_saving(superuser, account):
    account.is_active = False
    account.save()


def deactivate_in_the_admin(superuser, account):
    from tests.test_staff_access import change_form

    client = Client()
    log_in(client, superuser)
    response = client.post(reverse("admin:auth_user_change", args=[account.pk]), change_form(account, is_active=""))
    assert response.status_code == 302


@pytest.mark.parametrize("deactivate", [deactivate_by_saving, deactivate_in_the_admin])
def test_deactivating_ends_every_session_and_reactivating_does_not_revive_them(reviewer, superuser, deactivate):
    clients = signed_in(reviewer, 2)
    deactivate(superuser, reviewer)
    assert sessions_of(reviewer) == 0  # on the server, before anyone comes back

    reviewer.refresh_from_db()
    reviewer.is_active = True
    reviewer.save()
    assert not any(alive(client) for client in clients)


def test_a_deactivation_no_signal_sees_still_kills_the_session_on_its_next_use(reviewer):
    """QuerySet.update sends no signal: the session is then ended when it is next used."""
    (client,) = signed_in(reviewer)
    User.objects.filter(pk=reviewer.pk).update(is_active=False)
    assert not alive(client)
    User.objects.filter(pk=reviewer.pk).update(is_active=True)
    assert not alive(client)


# --- Roles ---------------------------------------------------------------------------------------


def remove_from_the_account(account, role):
    account.groups.remove(role)


def remove_from_the_group(account, role):
    role.user_set.remove(account)


def clear_the_accounts_groups(account, role):
    account.groups.clear()


def clear_the_groups_members(account, role):
    role.user_set.clear()


def set_the_accounts_groups_without_it(account, role):
    account.groups.set(Group.objects.exclude(pk=role.pk))


def set_the_groups_members_without_it(account, role):
    role.user_set.set([])


def take_it_away_in_the_admin(account, role):
    from tests.test_staff_access import change_form

    admin = User.objects.create_user("adam", is_staff=True)
    admin.groups.add(Group.objects.get(name="Admin"))
    client = Client()
    log_in(client, admin)
    response = client.post(reverse("admin:auth_user_change", args=[account.pk]), change_form(account, groups=[]))
    assert response.status_code == 302


WAYS_TO_TAKE_A_ROLE_AWAY = [
    remove_from_the_account,
    remove_from_the_group,
    clear_the_accounts_groups,
    clear_the_groups_members,
    set_the_accounts_groups_without_it,
    set_the_groups_members_without_it,
    take_it_away_in_the_admin,
]


@pytest.mark.parametrize("take_away", WAYS_TO_TAKE_A_ROLE_AWAY)
def test_taking_a_role_away_ends_every_session(reviewer, take_away):
    clients = signed_in(reviewer, 2)
    take_away(reviewer, Group.objects.get(name="Reviewer"))
    assert not reviewer.groups.filter(name="Reviewer").exists()
    assert sessions_of(reviewer) == 0
    reviewer.groups.add(Group.objects.get(name="Reviewer"))
    assert not any(alive(client) for client in clients)


@pytest.mark.parametrize("take_away", WAYS_TO_TAKE_A_ROLE_AWAY)
def test_taking_the_exporter_role_away_ends_every_session(reviewer, take_away):
    exporters = Group.objects.get(name="Exporter")
    reviewer.groups.add(exporters)
    clients = signed_in(reviewer, 2)
    take_away(reviewer, exporters)
    assert not reviewer.groups.filter(name="Exporter").exists()
    assert sessions_of(reviewer) == 0
    reviewer.groups.add(exporters, Group.objects.get(name="Reviewer"))
    assert not any(alive(client) for client in clients)


def test_giving_a_role_ends_no_session(reviewer):
    (client,) = signed_in(reviewer)
    reviewer.groups.add(Group.objects.get(name="Admin"))
    assert sessions_of(reviewer) == 1 and alive(client)


@pytest.mark.parametrize("where", ["orm", "admin"])
def test_deleting_a_group_ends_the_sessions_of_its_members(reviewer, outsider, superuser, where):
    desk = Group.objects.create(name="Night desk")
    reviewer.groups.add(desk)
    signed_in(reviewer)
    signed_in(outsider.__class__.objects.get(pk=outsider.pk))  # not a member: keeps its session
    if where == "orm":
        desk.delete()
    else:
        client = Client()
        log_in(client, superuser)
        client.post(reverse("admin:auth_group_delete", args=[desk.pk]), {"post": "yes"})
    assert not Group.objects.filter(name="Night desk").exists()
    assert sessions_of(reviewer) == 0
    assert sessions_of(outsider) == 1


# --- Passwords ------------------------------------------------------------------------------------


def test_a_new_password_saved_on_the_model_ends_every_session(reviewer):
    clients = signed_in(reviewer, 2)
    reviewer.set_password("another long passphrase 7")
    reviewer.save()
    assert sessions_of(reviewer) == 0
    assert not any(alive(client) for client in clients)


def test_a_new_password_from_the_changepassword_command_ends_every_session(reviewer, monkeypatch):
    signed_in(reviewer, 2)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another long passphrase 7")
    call_command("changepassword", "rania", stdout=io.StringIO())
    assert sessions_of(reviewer) == 0


def test_changing_ones_own_password_ends_the_other_sessions_and_keeps_this_one(reviewer):
    here, elsewhere = signed_in(reviewer, 2)
    response = here.post(
        reverse("review:password_change"),
        {
            "old_password": "correct horse battery staple",
            "new_password1": "another long passphrase 7",
            "new_password2": "another long passphrase 7",
        },
    )
    assert response.status_code == 302
    assert sessions_of(reviewer) == 1
    assert alive(here)
    assert not alive(elsewhere)


def test_saving_an_account_without_changing_password_or_activity_keeps_its_sessions(reviewer):
    (client,) = signed_in(reviewer)
    reviewer.first_name = "Rania"
    reviewer.save()
    assert sessions_of(reviewer) == 1 and alive(client)


# --- Second factors ------------------------------------------------------------------------------


def delete_the_app(account):
    AuthenticatorApp.objects.get(user=account).delete()


def delete_every_app_in_one_query(account):
    AuthenticatorApp.objects.filter(user=account).delete()


def delete_a_passkey(account):
    WebAuthnCredential.objects.create(user=account, name="key", credential_id=b"id", public_key=b"key").delete()


def delete_the_recovery_codes(account):
    RecoveryCodes.objects.create(user=account, name="recovery codes").delete()


def reset_them_in_the_admin(account):
    superuser = User.objects.create_user("root", is_staff=True, is_superuser=True)
    client = Client()
    log_in(client, superuser)
    client.post(reverse("admin:auth_user_changelist"), {"action": "reset_factors", "_selected_action": [account.pk]})
    assert not AuthenticatorApp.objects.filter(user=account).exists()


@pytest.mark.parametrize(
    "reset",
    [
        delete_the_app,
        delete_every_app_in_one_query,
        delete_a_passkey,
        delete_the_recovery_codes,
        reset_them_in_the_admin,
    ],
)
def test_taking_a_factor_away_ends_every_session(reviewer, reset):
    signed_in(reviewer, 2)
    reset(reviewer)
    assert sessions_of(reviewer) == 0


def test_using_one_recovery_code_ends_no_session(reviewer):
    signed_in(reviewer)
    device = RecoveryCodes.objects.create(user=reviewer, name="recovery codes")
    RecoveryCode.objects.create(device=device, digest="0" * 64).delete()
    assert sessions_of(reviewer) == 1


# --- Ending sessions on purpose --------------------------------------------------------------------


def test_a_member_logs_out_everywhere(reviewer):
    here, elsewhere = signed_in(reviewer, 2)
    assert reverse("review:logout_everywhere") in here.get(QUEUE).content.decode()
    response = here.post(reverse("review:logout_everywhere"))
    assert response.status_code == 302
    assert sessions_of(reviewer) == 0
    assert not alive(here) and not alive(elsewhere)
    event = AuditEvent.objects.get(action=AuditEvent.Action.ENDED_SESSIONS)
    assert (event.actor, event.account, event.detail) == (reviewer, "rania", {"sessions": 2})


def test_a_superuser_ends_someones_sessions_in_the_admin(reviewer, superuser):
    signed_in(reviewer, 2)
    client = Client()
    log_in(client, superuser)
    assert "end_sessions" in client.get(reverse("admin:auth_user_changelist")).content.decode()
    client.post(reverse("admin:auth_user_changelist"), {"action": "end_sessions", "_selected_action": [reviewer.pk]})
    assert sessions_of(reviewer) == 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.ENDED_SESSIONS)
    assert (event.actor, event.account, event.detail) == (superuser, "rania", {"sessions": 2})


def test_an_admin_who_is_not_a_superuser_cannot_end_someones_sessions(reviewer, admin_user):
    signed_in(reviewer)
    client = Client()
    log_in(client, admin_user)
    assert "end_sessions" not in client.get(reverse("admin:auth_user_changelist")).content.decode()
    client.post(reverse("admin:auth_user_changelist"), {"action": "end_sessions", "_selected_action": [reviewer.pk]})
    assert sessions_of(reviewer) == 1
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ENDED_SESSIONS).exists()


def test_the_endsessions_command_ends_someones_sessions(reviewer):
    signed_in(reviewer, 2)
    out = io.StringIO()
    call_command("endsessions", "rania", stdout=out)
    assert sessions_of(reviewer) == 0
    assert "Ended 2 session(s) of rania." in out.getvalue()
    event = AuditEvent.objects.get(action=AuditEvent.Action.ENDED_SESSIONS)
    assert event.account == "rania" and event.detail == {"sessions": 2, "by": "manage.py endsessions"}
    with pytest.raises(CommandError, match="no account named 'nobody'"):
        call_command("endsessions", "nobody")
