"""The Celery app: settings, the beat schedule, and the tasks of every app."""

import os

from celery import Celery

from ops.schedule import BEAT_SCHEDULE

# Production unless told otherwise: a forgotten variable fails closed
# (missing secrets refuse to start) instead of running unhardened.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("storefront_auth")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The schedule lives in code; beat's DatabaseScheduler copies it into its
# tables at start (keeping an admin's pause).
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()
