"""The admin, where admins manage accounts and read the audit log, is a staff page like the others:
axe-core finds no WCAG 2.2 AA violation on any of its pages, in English and Arabic.

Django's admin lays its tables out for a desk, so these pages are checked for accessibility at phone
width but not for sideways scrolling, which a wide table needs."""

import time

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from intake import actions
from intake.models import AuditEvent
from tests.browser.conftest import axe
from tests.staff_login import PASSWORD, enrol_app

pytestmark = pytest.mark.browser


@pytest.fixture
def admin(db):
    user = User.objects.create_user("adam", password=PASSWORD, is_staff=True, is_superuser=True)
    user.groups.set([Group.objects.get(name="Admin")])
    actions.record_account_change(user, AuditEvent.Action.CHANGED_ACCOUNT, user)
    return user, enrol_app(user)


def test_every_admin_page_has_no_accessibility_violation(page, admin, language):
    user, app = admin
    page.open(reverse("review:login"))
    page.find("[name=username]").send_keys("adam")
    page.find("[name=password]").send_keys(PASSWORD)
    page.submit("main form")
    page.find("[name=code]").send_keys(app.at(time.time() + 30))
    page.submit("main form")
    event = AuditEvent.objects.first()
    assert event is not None
    pages = {
        "admin-index": reverse("admin:index"),
        "admin-users": reverse("admin:auth_user_changelist"),
        "admin-user": reverse("admin:auth_user_change", args=[user.pk]),
        "admin-add-user": reverse("admin:auth_user_add"),
        "admin-groups": reverse("admin:auth_group_changelist"),
        "admin-group": reverse("admin:auth_group_change", args=[Group.objects.get(name="Reviewer").pk]),
        "admin-audit-log": reverse("admin:intake_auditevent_changelist"),
        "admin-audit-event": reverse("admin:intake_auditevent_change", args=[event.pk]),
    }
    for name, path in pages.items():
        page.open(path)
        assert page.language == language, f"{name} is not in {language}"
        assert page.driver.current_url.endswith(path), f"{name} was not shown: {page.driver.current_url}"
        page.screenshot(name)
        if page.javascript:
            axe(page.driver)
