import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings

from replica.medusa import MedusaReplica, MedusaUnavailable, ShapeError
from replica.queued import queued_clear, queued_hold
from replica.services.drain import drain
from replica.services.kick import drain_kick

logger = logging.getLogger(__name__)

# One connection per worker process, kept between drains.
_replica: MedusaReplica | None = None
RETRY_MAX_SECONDS = 60


def replica_for(url: str) -> MedusaReplica | None:
    global _replica  # noqa: PLW0603  (the process's one connection)
    if not url:
        return None
    if _replica is None or _replica.url != url:
        _replica = MedusaReplica(url)
    return _replica


# acks_late: a worker killed mid-batch leaves the message to redeliver; the
# outbox rows it had not deleted are applied again (idempotent). Beat also
# queues it every minute, for rows whose backoff ended and kicks lost.
@shared_task(bind=True, ignore_result=True, acks_late=True, max_retries=None)
def replica_drain_task(self: Task[..., Any]) -> None:
    queued_clear()
    replica = replica_for(settings.MEDUSA_DATABASE_URL)
    try:
        result = drain(
            replica,
            seconds=settings.REPLICA_DRAIN_SECONDS,
            batch_size=settings.REPLICA_BATCH_SIZE,
        )
    except (MedusaUnavailable, ShapeError) as exc:
        # Nothing was applied. Medusa down: retry with backoff (1 s, 2 s, ...
        # up to a minute) while kicks stay quiet. Wrong tables: say so, as
        # loudly, each time, until an operator fixes them.
        countdown = min(2 ** min(self.request.retries, 6), RETRY_MAX_SECONDS)
        level = logging.CRITICAL if isinstance(exc, ShapeError) else logging.WARNING
        logger.log(
            level,
            "replica_drain_failed",
            extra={"error": str(exc), "retry_in_seconds": countdown},
        )
        queued_hold(countdown)
        raise self.retry(countdown=countdown) from None
    if result.applied or result.refused or result.discarded:
        logger.info("replica_drained", extra=result.__dict__)
    if result.more:
        drain_kick()


# Beat's minute: queue a drain unless one is queued or waiting to retry, so
# an outage of Medusa never stacks drains.
@shared_task(ignore_result=True)
def replica_drain_kick_task() -> None:
    drain_kick()


@worker_ready.connect
def medusa_check_at_start(**kwargs: Any) -> None:
    """At the worker's start, say whether the replica can write, and drain
    what waited while no worker ran. Wrong tables refuse the replica (every
    drain logs why) but not the worker: it also sends the login codes."""
    url = settings.MEDUSA_DATABASE_URL
    if not url:
        logger.info("replica_standalone")
        return
    replica = MedusaReplica(url)
    try:
        replica.connection()
    except ShapeError as exc:
        logger.critical("replica_refused", extra={"error": str(exc)})
        return
    except MedusaUnavailable as exc:
        logger.warning("replica_medusa_unavailable", extra={"error": str(exc)})
    else:
        logger.info("replica_ready")
    finally:
        replica.close()
    drain_kick()
