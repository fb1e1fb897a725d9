"""What the audit log now also holds: staff pages refused to a logged-in member, and accounts and groups
deleted; and the role groups, which cannot be deleted or renamed at all."""

import uuid

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.test import Client
from django.urls import reverse

from intake.models import AuditEvent
from intake.signals import RoleGroupIsProtected
from tests.conftest import log_in

pytestmark = pytest.mark.django_db


def refusals():
    return list(
        AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED)
        .order_by("at", "id")
        .values_list("actor_name", "detail")
    )


def logged_in(user) -> Client:
    client = Client()
    log_in(client, user)
    return client


# --- Refused staff requests ------------------------------------------------------------------------


def test_a_reviewers_404_on_a_missing_submission_is_audited(reviewer_client):
    path = reverse("review:submission", args=[uuid.uuid4()])
    assert reviewer_client.get(path).status_code == 404
    assert refusals() == [("rania", {"status": 404, "path": path})]


def test_an_admins_403_on_the_queue_is_audited(admin_user):
    client = logged_in(admin_user)
    assert client.get(reverse("review:queue")).status_code == 403
    assert refusals() == [("adam", {"status": 403, "path": reverse("review:queue")})]


def test_a_403_in_the_admin_is_audited(reviewer):
    reviewer.is_staff = True
    reviewer.save()
    client = logged_in(reviewer)
    path = reverse("admin:auth_user_changelist")
    assert client.get(path).status_code == 403
    assert refusals() == [("rania", {"status": 403, "path": path})]


def test_what_is_found_and_allowed_is_not_audited_as_refused(reviewer_client):
    assert reviewer_client.get(reverse("review:queue")).status_code == 200
    assert refusals() == []


def test_anonymous_refusals_and_the_witness_side_are_never_audited(reviewer_client):
    client = Client()
    assert client.get("/staff/no-such-page/").status_code in (302, 404)
    assert client.get(reverse("review:submission", args=[uuid.uuid4()])).status_code == 302
    # A member's browser, with its staff session cookie, on the witness side.
    assert reviewer_client.get("/no-such-page/").status_code == 404
    assert reviewer_client.get(reverse("witness:status") + "?receipt=no").status_code in (200, 400, 404)
    assert refusals() == []


# --- The role groups -------------------------------------------------------------------------------


@pytest.fixture
def reviewers(reviewer):
    return Group.objects.get(name="Reviewer")


def test_the_reviewer_group_cannot_be_deleted_in_the_admin(superuser, reviewer, reviewers):
    client = logged_in(superuser)
    assert client.get(reverse("admin:auth_group_delete", args=[reviewers.pk])).status_code == 403
    assert client.post(reverse("admin:auth_group_delete", args=[reviewers.pk]), {"post": "yes"}).status_code == 403
    client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [reviewers.pk], "post": "yes"},
    )
    assert Group.objects.filter(name="Reviewer").exists()
    assert reviewer.groups.filter(name="Reviewer").exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DELETED_GROUP).exists()


@pytest.mark.parametrize("name", ["Reviewer", "Admin"])
def test_a_role_group_cannot_be_deleted_through_the_models_either(reviewer, name):
    with pytest.raises(RoleGroupIsProtected), transaction.atomic():
        Group.objects.get(name=name).delete()
    with pytest.raises(RoleGroupIsProtected), transaction.atomic():
        Group.objects.filter(name__in=["Night desk", name]).delete()
    assert Group.objects.filter(name=name).exists()
    assert reviewer.groups.filter(name="Reviewer").exists()


def test_a_role_group_cannot_be_renamed(superuser, reviewers):
    reviewers.name = "Former reviewers"
    with pytest.raises(RoleGroupIsProtected), transaction.atomic():
        reviewers.save()
    client = logged_in(superuser)
    client.post(reverse("admin:auth_group_change", args=[reviewers.pk]), {"name": "Former reviewers"})
    assert Group.objects.filter(name="Reviewer").exists()


# --- Deletions -------------------------------------------------------------------------------------


def test_deleting_another_group_is_audited_with_the_members_who_lost_it(superuser, reviewer, outsider):
    desk = Group.objects.create(name="Night desk")
    desk.user_set.set([reviewer, outsider])
    client = logged_in(superuser)
    response = client.post(reverse("admin:auth_group_delete", args=[desk.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Group.objects.filter(name="Night desk").exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.DELETED_GROUP)
    assert (event.actor, event.detail) == (superuser, {"group": "Night desk", "members": ["olga", "rania"]})


def test_deleting_groups_in_bulk_is_audited_for_each(superuser, reviewer):
    desks = [Group.objects.create(name=name) for name in ("Night desk", "Day desk")]
    desks[0].user_set.add(reviewer)
    client = logged_in(superuser)
    client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [desk.pk for desk in desks], "post": "yes"},
    )
    details = sorted(
        (event.detail["group"], event.detail["members"])
        for event in AuditEvent.objects.filter(action=AuditEvent.Action.DELETED_GROUP)
    )
    assert details == [("Day desk", []), ("Night desk", ["rania"])]


def test_deleting_an_account_is_audited(superuser, outsider):
    outsider.groups.add(Group.objects.get(name="Admin"))
    client = logged_in(superuser)
    response = client.post(reverse("admin:auth_user_delete", args=[outsider.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(username="olga").exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.DELETED_ACCOUNT)
    assert (event.actor, event.account, event.detail) == (superuser, "olga", {"roles": ["Admin"]})


def test_deleting_accounts_in_bulk_is_audited_for_each(superuser):
    accounts = [User.objects.create_user(name) for name in ("olga", "omar")]
    client = logged_in(superuser)
    client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [account.pk for account in accounts], "post": "yes"},
    )
    assert not User.objects.filter(username__in=["olga", "omar"]).exists()
    deleted = AuditEvent.objects.filter(action=AuditEvent.Action.DELETED_ACCOUNT)
    assert sorted(deleted.values_list("account", flat=True)) == ["olga", "omar"]
