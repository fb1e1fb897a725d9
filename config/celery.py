"""The Celery application. Configured from Django settings (``CELERY_*``); tasks carry only ids, as JSON."""
import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("intake")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

for option in ("data_folder_in", "data_folder_out", "control_folder"):
    folder = app.conf.broker_transport_options.get(option)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
