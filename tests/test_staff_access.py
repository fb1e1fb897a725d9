"""Role separation and the chain of custody, tested through the staff pages."""

import re

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from intake import blobs
from intake.models import AuditEvent, AuditLogIsAppendOnly, Image, Note, Submission
from tests.conftest import log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission():
    submission = Submission.objects.create(
        receipt_digest="d" * 64, account="They came at dawn.", happened_where="Qardaha"
    )
    Image.objects.create(
        submission=submission,
        position=0,
        state=Image.State.CLEAN,
        clean_blob=blobs.write(b"GIF89a-cleaned"),
        media_type="image/gif",
        removed=["gps", "serial"],
        preview_blob=blobs.write(b"JPEG-preview"),
        described=True,
    )
    return submission


def submission_url(submission, name="review:submission"):
    return reverse(name, args=[submission.pk])


# --- Who can read testimony --------------------------------------------------------------------


def test_a_reviewer_reads_the_account_and_the_cleaned_image(reviewer_client, submission):
    page = reviewer_client.get(submission_url(submission)).content.decode()
    assert "They came at dawn." in page and "Qardaha" in page
    assert "Removed: GPS location, camera or lens serial number" in page
    image = submission.images.get()
    response = reviewer_client.get(reverse("review:image", args=[image.pk]))
    assert response.content == b"GIF89a-cleaned"
    assert response["Content-Type"] == "image/gif"
    assert response["Content-Disposition"].startswith("inline; filename=")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("actor", ["admin_user", "superuser", "outsider"])
def test_staff_without_the_reviewer_role_cannot_read_a_submission(client, submission, actor, request):
    log_in(client, request.getfixturevalue(actor))
    assert client.get(submission_url(submission)).status_code == 404
    assert client.get(reverse("review:image", args=[submission.images.get().pk])).status_code == 404
    assert client.get(reverse("review:queue")).status_code == 403
    assert client.post(submission_url(submission, "review:set_status"), {"status": "verified"}).status_code == 404
    assert client.post(submission_url(submission, "review:add_note"), {"text": "x"}).status_code == 404
    submission.refresh_from_db()
    assert submission.status == "new" and not Note.objects.exists()


def test_anonymous_visitors_are_sent_to_the_staff_login(client, submission):
    image_url = reverse("review:image", args=[submission.images.get().pk])
    for url in (reverse("review:queue"), submission_url(submission), image_url):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("review:login"))


def test_a_deactivated_reviewer_reads_nothing(client, reviewer, submission):
    log_in(client, reviewer)
    reviewer.is_active = False
    reviewer.save()
    assert client.get(submission_url(submission)).status_code in (302, 404)


def test_a_submission_still_being_cleaned_is_not_shown(reviewer_client, submission):
    Image.objects.create(submission=submission, position=1, original_blob=blobs.write(b"raw"))
    assert reviewer_client.get(submission_url(submission)).status_code == 404
    assert "They came" not in reviewer_client.get(reverse("review:queue")).content.decode()
    assert reviewer_client.get(reverse("review:image", args=[submission.images.get(position=0).pk])).status_code == 404


def test_an_image_that_was_refused_is_never_served_and_its_reason_is_shown_in_words(reviewer_client, submission):
    refused = Image.objects.create(
        submission=submission,
        position=1,
        state=Image.State.FAILED,
        refusal="too_many_pixels",
        refusal_params={"width": 12000, "height": 12000, "megapixels": 110},
    )
    assert reviewer_client.get(reverse("review:image", args=[refused.pk])).status_code == 404
    page = reviewer_client.get(submission_url(submission)).content.decode()
    assert "The photo is 12000 × 12000 pixels, more than the 110 megapixels we accept." in page
    assert "too_many_pixels" not in page


# --- The Django admin ------------------------------------------------------------------------


@pytest.mark.parametrize("staff_flag", [False, True])
def test_a_reviewer_gets_no_access_to_the_django_admin(client, reviewer, staff_flag):
    reviewer.is_staff = staff_flag
    reviewer.save()
    log_in(client, reviewer)
    for name in ("admin:auth_user_changelist", "admin:auth_group_changelist", "admin:intake_auditevent_changelist"):
        response = client.get(reverse(name))
        assert response.status_code in (302, 403), name


def test_an_admin_manages_users_and_reads_the_audit_log(client, admin_user):
    log_in(client, admin_user)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    assert client.get(reverse("admin:auth_user_add")).status_code == 200
    assert client.get(reverse("admin:intake_auditevent_changelist")).status_code == 200


def test_nobody_can_edit_the_audit_log_in_the_admin(client, superuser, reviewer, submission):
    event = AuditEvent.objects.create(actor=reviewer, action="viewed", submission_id=submission.pk)
    log_in(client, superuser)
    assert client.get(reverse("admin:intake_auditevent_add")).status_code == 403
    client.post(reverse("admin:intake_auditevent_delete", args=[event.pk]), {"post": "yes"})
    client.post(reverse("admin:intake_auditevent_change", args=[event.pk]), {"action": "added_note"})
    event.refresh_from_db()
    assert event.action == "viewed"
    assert list(AuditEvent.objects.exclude(action="refused").values_list("action", flat=True)) == ["viewed"]


def test_the_admin_has_no_page_for_testimony(client, superuser):
    log_in(client, superuser)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Submission" not in page and "Note" not in page


# --- Triage and the chain of custody ---------------------------------------------------------------


def test_every_view_and_change_is_in_the_audit_log(reviewer_client, reviewer, submission):
    reviewer_client.get(submission_url(submission))
    reviewer_client.get(reverse("review:image", args=[submission.images.get().pk]))
    reviewer_client.post(submission_url(submission, "review:set_status"), {"status": "in_review"})
    reviewer_client.post(submission_url(submission, "review:add_note"), {"text": "Geolocated: matches the mosque."})

    events = list(
        AuditEvent.objects.filter(submission_id__isnull=False)
        .order_by("at", "id")
        .values_list("actor_name", "action", "submission_id")
    )
    assert [action for _, action, _ in events] == ["viewed", "viewed_image", "changed_status", "added_note"]
    assert {(actor, sid) for actor, _, sid in events} == {(reviewer.username, submission.pk)}
    assert AuditEvent.objects.get(action="changed_status").detail == {"from": "new", "to": "in_review"}
    submission.refresh_from_db()
    assert submission.status == "in_review"
    assert Note.objects.get().text == "Geolocated: matches the mosque."


def test_an_unknown_status_is_refused(reviewer_client, submission):
    reviewer_client.post(submission_url(submission, "review:set_status"), {"status": "deleted"})
    submission.refresh_from_db()
    assert submission.status == "new"
    assert not AuditEvent.objects.filter(action="changed_status").exists()


def test_the_audit_log_cannot_be_changed_or_deleted_through_the_orm(reviewer, submission):
    event = AuditEvent.objects.create(actor=reviewer, action="viewed", submission_id=submission.pk)
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().update(action="added_note")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists only on PostgreSQL")
def test_postgresql_refuses_to_rewrite_the_audit_log(reviewer, submission):
    AuditEvent.objects.create(actor=reviewer, action="viewed", submission_id=submission.pk)
    for statement in ("UPDATE intake_auditevent SET action = 'added_note'", "DELETE FROM intake_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.get().action == "viewed"


def test_the_queue_lists_ready_submissions_newest_first_with_paging(reviewer_client):
    import datetime

    for day in range(30):
        Submission.objects.create(
            receipt_digest=f"{day:064d}",
            account=f"account {day}",
            received_on=datetime.date(2026, 1, 1) + datetime.timedelta(days=day),
        )
    page = reviewer_client.get(reverse("review:queue")).content.decode()
    assert page.index("2026-01-30") < page.index("2026-01-29")
    assert "2026-01-01" not in page  # on the second page
    following = re.search(r'href="\?([^"]*)" rel="next"', page).group(1).replace("&amp;", "&")
    assert "2026-01-01" in reviewer_client.get(reverse("review:queue") + "?" + following).content.decode()


def test_the_queue_filters_by_status_and_hides_closed_ones_by_default(reviewer_client, submission):
    closed = Submission.objects.create(receipt_digest="e" * 64, account="closed", status="archived")
    page = reviewer_client.get(reverse("review:queue")).content.decode()
    assert submission.reference in page and closed.reference not in page
    page = reviewer_client.get(reverse("review:queue") + "?status=archived").content.decode()
    assert closed.reference in page and submission.reference not in page


# --- Admins cannot become readers ------------------------------------------------------------------


def change_form(user, **overrides):
    """The Django admin's change form for ``user`` as a browser would post it, with ``overrides``."""
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "groups": [str(group.pk) for group in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": f"{user.date_joined:%Y-%m-%d}",
        "date_joined_1": f"{user.date_joined:%H:%M:%S}",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def group(name):
    from django.contrib.auth.models import Group

    return str(Group.objects.get(name=name).pk)


def set_password(client, account):
    url = reverse("admin:auth_user_password_change", args=[account.pk])
    return client.post(url, {"password1": "a new long passphrase 42", "password2": "a new long passphrase 42"})


def test_an_admin_cannot_give_themselves_the_reviewer_role_or_superuser_status(client, admin_user):
    log_in(client, admin_user)
    client.post(
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        change_form(admin_user, groups=[group("Reviewer")], is_superuser="on", first_name="Adam"),
    )
    admin_user.refresh_from_db()
    assert admin_user.first_name == "Adam"  # the form was saved...
    assert not admin_user.is_superuser  # ...without the fields an admin may not change on themselves
    assert list(admin_user.groups.values_list("name", flat=True)) == ["Admin"]


def test_an_admin_cannot_give_anyone_the_reviewer_role(client, admin_user, outsider):
    log_in(client, admin_user)
    response = client.post(
        reverse("admin:auth_user_change", args=[outsider.pk]), change_form(outsider, groups=[group("Reviewer")])
    )
    assert "Only a superuser can give the Reviewer role" in response.content.decode()
    assert not outsider.groups.exists()


def test_a_superuser_gives_the_reviewer_role_and_it_is_audited(client, superuser, outsider):
    log_in(client, superuser)
    url = reverse("admin:auth_user_change", args=[outsider.pk])
    client.post(url, change_form(outsider, groups=[group("Reviewer")]))
    assert list(outsider.groups.values_list("name", flat=True)) == ["Reviewer"]
    event = AuditEvent.objects.get(action="changed_roles")
    assert (event.actor_name, event.account, event.detail) == ("root", "olga", {"from": [], "to": ["Reviewer"]})


def test_an_admin_can_take_the_reviewer_role_away(client, admin_user, reviewer):
    log_in(client, admin_user)
    client.post(reverse("admin:auth_user_change", args=[reviewer.pk]), change_form(reviewer, groups=[]))
    assert not reviewer.groups.exists()


def test_an_admin_cannot_give_a_reviewer_the_exporter_role(client, admin_user, reviewer):
    log_in(client, admin_user)
    response = client.post(
        reverse("admin:auth_user_change", args=[reviewer.pk]),
        change_form(reviewer, groups=[group("Reviewer"), group("Exporter")]),
    )
    assert "Only a superuser can give the Exporter role" in response.content.decode()
    assert "Only a superuser can give the Reviewer role" not in response.content.decode()  # she has it already
    assert list(reviewer.groups.values_list("name", flat=True)) == ["Reviewer"]


def test_a_superuser_gives_the_exporter_role_and_an_admin_can_take_it_away(client, superuser, admin_user, reviewer):
    log_in(client, superuser)
    url = reverse("admin:auth_user_change", args=[reviewer.pk])
    client.post(url, change_form(reviewer, groups=[group("Reviewer"), group("Exporter")]))
    assert sorted(reviewer.groups.values_list("name", flat=True)) == ["Exporter", "Reviewer"]
    event = AuditEvent.objects.get(action="changed_roles")
    assert event.detail == {"from": ["Reviewer"], "to": ["Exporter", "Reviewer"]}
    log_in(client, admin_user)
    client.post(url, change_form(reviewer, groups=[group("Reviewer")]))
    assert list(reviewer.groups.values_list("name", flat=True)) == ["Reviewer"]


def test_the_exporter_group_can_be_neither_deleted_nor_renamed(client, superuser):
    from django.contrib.auth.models import Group

    from intake.signals import RoleGroupIsProtected

    exporters = Group.objects.get(name="Exporter")
    with pytest.raises(RoleGroupIsProtected), transaction.atomic():
        exporters.delete()
    exporters.name = "Former exporters"
    with pytest.raises(RoleGroupIsProtected), transaction.atomic():
        exporters.save()
    log_in(client, superuser)
    assert client.post(reverse("admin:auth_group_delete", args=[exporters.pk]), {"post": "yes"}).status_code == 403
    client.post(reverse("admin:auth_group_change", args=[exporters.pk]), {"name": "Former exporters"})
    assert Group.objects.filter(pk=exporters.pk, name="Exporter").exists()


def test_only_an_exporter_has_the_export_section_and_its_link_on_the_page(client, reviewer, submission):
    from django.contrib.auth.models import Group

    def page():
        return client.get(submission_url(submission)).content.decode()

    def on_this_page(html):
        return html.split('<nav class="sections"', 1)[1].split("</nav>", 1)[0]

    log_in(client, reviewer)
    html = page()
    assert 'id="export"' not in html and 'href="#export"' not in on_this_page(html)
    reviewer.groups.add(Group.objects.get(name="Exporter"))
    html = page()
    assert 'id="export"' in html and 'href="#export"' in on_this_page(html)


def test_an_admin_cannot_set_the_password_of_an_account_in_use(client, admin_user, outsider):
    from django.utils import timezone

    outsider.last_login = timezone.now()
    outsider.save()
    log_in(client, admin_user)
    assert set_password(client, outsider).status_code == 403
    outsider.refresh_from_db()
    assert outsider.check_password("correct horse battery staple")


def test_an_admin_cannot_clear_the_last_login_to_take_over_an_account(client, admin_user, outsider):
    from django.utils import timezone

    used = timezone.now()
    outsider.last_login = used
    outsider.save()
    log_in(client, admin_user)
    client.post(reverse("admin:auth_user_change", args=[outsider.pk]), change_form(outsider, first_name="Olga"))
    outsider.refresh_from_db()
    assert outsider.first_name == "Olga" and outsider.last_login == used
    assert set_password(client, outsider).status_code == 403


def test_an_admin_cannot_set_the_password_of_a_reviewer_even_a_new_one(client, admin_user, reviewer):
    assert reviewer.last_login is None
    log_in(client, admin_user)
    assert set_password(client, reviewer).status_code == 403
    reviewer.refresh_from_db()
    assert reviewer.check_password("correct horse battery staple")


def test_an_admin_cannot_change_a_superuser(client, admin_user, superuser):
    log_in(client, admin_user)
    response = client.post(reverse("admin:auth_user_change", args=[superuser.pk]), change_form(superuser, is_active=""))
    assert response.status_code == 403
    assert set_password(client, superuser).status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.check_password("correct horse battery staple")


def test_an_admin_cannot_rename_an_account_and_a_rename_does_not_rewrite_the_audit_log(
    client, admin_user, superuser, reviewer, submission
):
    AuditEvent.objects.create(actor=reviewer, action="viewed", submission_id=submission.pk)
    log_in(client, admin_user)
    client.post(reverse("admin:auth_user_change", args=[reviewer.pk]), change_form(reviewer, username="someone"))
    reviewer.refresh_from_db()
    assert reviewer.username == "rania"

    log_in(client, superuser)
    client.post(reverse("admin:auth_user_change", args=[reviewer.pk]), change_form(reviewer, username="someone"))
    reviewer.refresh_from_db()
    assert reviewer.username == "someone"
    assert AuditEvent.objects.get(action="viewed").actor_name == "rania"
    renamed = AuditEvent.objects.get(action="changed_account")
    assert (renamed.actor_name, renamed.detail) == ("root", {"username": "someone", "fields": ["username"]})


def test_account_creation_and_changes_by_an_admin_are_audited_and_nobody_sets_a_password(client, admin_user):
    from django.contrib.auth.models import User

    log_in(client, admin_user)
    response = client.post(reverse("admin:auth_user_add"), {"username": "newadmin", "groups": [group("Admin")]})
    assert "/staff/setup/" in response.content.decode()
    account = User.objects.get(username="newadmin")
    assert account.is_staff and not account.has_usable_password()
    assert set_password(client, account).status_code == 403
    client.post(reverse("admin:auth_user_change", args=[account.pk]), change_form(account, first_name="Nour"))
    account.refresh_from_db()
    client.post(
        reverse("admin:auth_user_change", args=[account.pk]), change_form(account, first_name="Nour", is_active="")
    )
    events = list(
        AuditEvent.objects.exclude(action="refused")
        .order_by("at", "id")
        .values_list("actor_name", "action", "account", "detail")
    )
    assert events == [
        ("adam", "created_account", "newadmin", {}),
        ("adam", "changed_roles", "newadmin", {"from": [], "to": ["Admin"]}),
        ("adam", "created_setup_link", "newadmin", {}),
        ("adam", "changed_account", "newadmin", {"fields": ["first_name"]}),
        ("adam", "changed_account", "newadmin", {"is_active": False, "fields": ["is_active"]}),
    ]


# --- Staff sessions and passwords --------------------------------------------------------------------


def test_staff_logins_and_logouts_are_audited_and_failures_logged_without_the_name_typed(
    clock, client, reviewer, caplog
):
    from tests.staff_login import enrol_app, log_in_with_code

    totp = enrol_app(reviewer)
    client.post(reverse("review:login"), {"username": "rania", "password": "my-password-typed-in-the-name"})
    log_in_with_code(client, "rania", totp)
    client.post(reverse("review:logout"))
    assert list(AuditEvent.objects.order_by("at", "id").values_list("actor_name", "action")) == [
        ("rania", "logged_in"),
        ("rania", "logged_out"),
    ]
    assert "a staff login failed" in caplog.text
    assert "rania" not in caplog.text and "my-password" not in caplog.text


def test_staff_change_their_own_password_and_it_is_audited(reviewer_client, reviewer):
    response = reviewer_client.post(
        reverse("review:password_change"),
        {
            "old_password": "correct horse battery staple",
            "new_password1": "a brand new passphrase 31",
            "new_password2": "a brand new passphrase 31",
        },
    )
    assert response.status_code == 302
    reviewer.refresh_from_db()
    assert reviewer.check_password("a brand new passphrase 31")
    assert AuditEvent.objects.filter(action="changed_own_password", actor=reviewer).exists()


def test_the_admins_own_password_page_leads_to_the_audited_one(client, admin_user):
    log_in(client, admin_user)
    response = client.get(reverse("admin:password_change"))
    assert response.status_code == 302 and response["Location"] == reverse("review:password_change")


def test_a_refused_note_shows_the_submission_and_is_audited_as_a_view(reviewer_client, submission):
    response = reviewer_client.post(submission_url(submission, "review:add_note"), {"text": ""})
    assert response.status_code == 400 and "They came at dawn." in response.content.decode()
    assert AuditEvent.objects.filter(action="viewed", submission_id=submission.pk).count() == 1


# --- Finding a submission ------------------------------------------------------------------------------


def test_a_reviewer_finds_a_submission_by_its_reference_whatever_its_status(reviewer_client, submission):
    closed = Submission.objects.create(receipt_digest="e" * 64, account="closed", status="archived")
    for typed in (closed.reference, closed.reference.lower(), f"  {closed.reference[:5]} "):
        page = reviewer_client.get(reverse("review:queue"), {"reference": typed}).content.decode()
        assert closed.reference in page and submission.reference not in page, typed


def test_a_malformed_reference_is_explained(reviewer_client, submission):
    page = reviewer_client.get(reverse("review:queue"), {"reference": "x' OR 1=1"}).content.decode()
    assert "A reference is up to eight letters and digits" in page


def test_the_queue_filters_by_the_day_received_and_pages_keep_the_filters(reviewer_client):
    import datetime

    for day in range(40):
        Submission.objects.create(
            receipt_digest=f"{day:064d}",
            account="x",
            received_on=datetime.date(2026, 3, 1) + datetime.timedelta(days=day),
        )
    query = {"received_from": "2026-03-05", "received_to": "2026-04-04"}  # 31 days: two pages
    page = reviewer_client.get(reverse("review:queue"), query).content.decode()
    assert "2026-04-04" in page and "2026-04-05" not in page
    following = re.search(r'href="\?([^"]*)" rel="next"', page).group(1).replace("&amp;", "&")
    assert following.startswith("received_from=2026-03-05&received_to=2026-04-04&after=")
    second = reviewer_client.get(reverse("review:queue") + "?" + following).content.decode()
    assert "2026-03-05" in second and "2026-03-04" not in second


def test_a_password_form_that_sets_nothing_writes_no_audit_event(client, admin_user, outsider):
    log_in(client, admin_user)
    url = reverse("admin:auth_user_password_change", args=[outsider.pk])
    client.post(url, {"usable_password": "false", "password1": "", "password2": ""})  # Django saves nothing
    outsider.refresh_from_db()
    assert outsider.check_password("correct horse battery staple")
    assert not AuditEvent.objects.filter(action="set_password").exists()
