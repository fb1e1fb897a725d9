import contextlib
from pathlib import Path

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    default = True
    name = "intake"
    verbose_name = _("Testimony intake")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth import signals

        from intake import actions

        # Not on user_logged_in, which fires after the password alone: a login is audited when the second
        # factor is done (intake.factors.complete_login).
        signals.user_logged_out.connect(actions.record_logout, dispatch_uid="intake-audit-logout")
        signals.user_login_failed.connect(actions.record_failed_login, dispatch_uid="intake-log-failed-login")

        # Sessions that end with the account's deactivation, roles, password or factors; role groups kept.
        from intake import signals as account_signals

        account_signals.connect()

        # The file-system broker (used when no REDIS_URL is set) needs its folders before the first
        # message; web and worker both start here.
        from django.conf import settings

        for option in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(option)
            if folder:
                with contextlib.suppress(OSError):  # kombu names the folder if it is still missing
                    Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)


class StaffAdminConfig(admin_apps.AdminConfig):
    """Django's admin on a site that has no login of its own and needs both factors."""

    default = False
    default_site = "intake.review.door.StaffAdminSite"
