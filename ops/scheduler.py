"""Beat's scheduler: django-celery-beat's DatabaseScheduler, kept alive
through a database outage."""

import logging

from django.db import close_old_connections
from django.db.utils import DatabaseError, InterfaceError
from django_celery_beat.schedulers import DatabaseScheduler as BaseScheduler

logger = logging.getLogger("ops.scheduler")

# Seconds beat waits before it tries again after a tick met an outage.
OUTAGE_RETRY_SECONDS = 5.0


class DatabaseScheduler(BaseScheduler):
    """django-celery-beat reads the whole schedule from PostgreSQL when it
    changed and every 5 minutes, without catching a database error there:
    a read that met an outage ended beat (found when a fault test stopped
    PostgreSQL at that moment), and no scheduled job ran again until
    someone restarted it. Here the tick is logged and tried again shortly;
    the schedule it had stays in force meanwhile."""

    def tick(self, *args, **kwargs):
        try:
            return super().tick(*args, **kwargs)
        except (DatabaseError, InterfaceError) as exc:
            logger.warning(
                "beat: database unavailable, schedule kept; next try in %s s (%s)",
                OUTAGE_RETRY_SECONDS,
                type(exc).__name__,
                extra={"error": type(exc).__name__},
            )
            close_old_connections()
            return OUTAGE_RETRY_SECONDS
