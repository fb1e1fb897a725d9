import contextlib
from pathlib import Path

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "intake"
    verbose_name = _("Testimony intake")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The file-system broker (used when no REDIS_URL is set) needs its folders before the first
        # message; web and worker both start here.
        from django.conf import settings

        for option in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(option)
            if folder:
                with contextlib.suppress(OSError):  # kombu names the folder if it is still missing
                    Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
