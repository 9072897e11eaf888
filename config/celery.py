"""The Celery app: settings, the beat schedule, and the tasks of every app."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

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


@task_prerun.connect
@task_postrun.connect
def _database_connections_checked(sender: object = None, **_: object) -> None:
    """Around each task what Django does around each request: a connection
    past CONN_MAX_AGE or found broken (a database restart, a PgBouncer
    restart) is closed, so the next query opens a new one (settings
    CELERY_DB_REUSE_MAX keeps the others). Not for a task run eagerly
    inside a request or a test: its connection is the caller's."""
    from django.db import close_old_connections

    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
