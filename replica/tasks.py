import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from core.tasks import retry_countdown
from replica.medusa import MedusaReplica, MedusaUnavailable, ShapeError
from replica.queued import DRAIN
from replica.services.drain import drain, standalone_forget
from replica.services.kick import drain_kick
from replica.services.sync import Drift, verify

logger = logging.getLogger(__name__)

# One connection per worker process, kept between drains.
_replica: MedusaReplica | None = None
RETRY_MAX_SECONDS = 60
STANDALONE_KEEP = timedelta(days=7)
VERIFY_BATCH_SIZE = 1000
VERIFY_SAMPLE = 20  # customer ids logged per kind of drift


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
    if not self.request.retries:
        DRAIN.forget()  # a change committed from now on queues the next drain
    replica = replica_for(settings.MEDUSA_DATABASE_URL)
    if replica is None:
        # Queued by a process that has the URL: this worker lacks it. Keep
        # every change for a worker that can apply it (the backlog grows
        # and ReplicaLagging fires).
        logger.error("replica_worker_without_medusa_database_url")
        return
    try:
        result = drain(
            replica,
            seconds=settings.REPLICA_DRAIN_SECONDS,
            batch_size=settings.REPLICA_BATCH_SIZE,
        )
    except (MedusaUnavailable, ShapeError) as exc:
        # Nothing was applied. Medusa down: retry with backoff (1 s, 2 s, ...
        # up to a minute) while kicks stay quiet, so one chain retries, not
        # one per sign-up. Wrong tables: say so, as loudly, each time, until
        # an operator fixes them.
        countdown = retry_countdown(
            min(2 ** min(self.request.retries, 6), RETRY_MAX_SECONDS)
        )
        level = logging.CRITICAL if isinstance(exc, ShapeError) else logging.WARNING
        logger.log(
            level,
            "replica_drain_failed",
            extra={"error": str(exc), "retry_in_seconds": countdown},
        )
        DRAIN.keep(countdown)
        raise self.retry(countdown=countdown) from None
    if self.request.retries:
        DRAIN.forget()  # the retry chain is over
    if result.applied or result.refused:
        logger.info("replica_drained", extra=result.__dict__)
    # Rows left by the time budget: go on. Customers another drain held and
    # nothing else done: that drain is at work, beat looks again in a minute
    # (queueing at once would spin while it holds them).
    if result.more and (result.applied or result.refused):
        drain_kick()


# Beat's minute: queue a drain unless one is queued or waiting to retry, so
# an outage of Medusa never stacks drains. Standalone, forget what the
# triggers recorded a week ago (a worker that lost its URL has that long to
# be noticed: the backlog gauge and ReplicaLagging).
@shared_task(ignore_result=True)
def replica_drain_kick_task() -> None:
    if settings.MEDUSA_DATABASE_URL:
        drain_kick()
    else:
        standalone_forget(older_than=timezone.now() - STANDALONE_KEEP)


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


@shared_task(ignore_result=True)
def replica_verify_task() -> None:
    """Daily (beat, ops/schedule.py): `medusa_sync --verify --repair`. This
    server owns the profile and the address book, so an edit made in
    Medusa's admin is drift, written over and counted in
    replica_drift_repaired.

    Cost: one pass over our customers and their addresses and one over
    Medusa's registered customers, in keyset batches of 1,000 (two queries
    on each side per batch of ours, one on each per batch of Medusa's);
    nothing is written unless something differs. 13 s for 100,000
    customers and 150,000 addresses on the benchmark machine at load 5.5
    (docs/performance.md, "Replica backfill and verify"): that long it holds
    one worker process, once a day."""
    replica = replica_for(settings.MEDUSA_DATABASE_URL)
    if replica is None:
        return
    log = DriftLog()
    try:
        result = verify(replica, batch_size=VERIFY_BATCH_SIZE, repair=True, report=log)
    except (MedusaUnavailable, ShapeError) as exc:
        level = logging.CRITICAL if isinstance(exc, ShapeError) else logging.WARNING
        logger.log(level, "replica_verify_failed", extra={"error": str(exc)})
        return
    level = logging.WARNING if result.drifted else logging.INFO
    logger.log(
        level,
        "replica_verified",
        extra={
            "customers": result.customers,
            "accounts": result.accounts,
            "drifted": result.drifted,
            "drift": dict(result.drift),
            "repaired": result.repaired,
            "refused": result.refused,
            "remaining": result.remaining,
            "queued": result.queued,
            "sample": dict(log.sample),
        },
    )


class DriftLog:
    """The daily verify's report: a few customer ids of each kind for its
    log line (ids only: the email's HMAC stays out of the logs too)."""

    def __init__(self) -> None:
        self.sample: defaultdict[str, list[str]] = defaultdict(list)

    def _keep(self, kind: str, customer_id: str) -> None:
        if len(self.sample[kind]) < VERIFY_SAMPLE:
            self.sample[kind].append(customer_id)

    def drift(self, drift: Drift) -> None:
        self._keep(drift.kind, drift.customer_id)

    def refused(self, customer_id: str, reason: str) -> None:
        self._keep("refused", customer_id)

    def unrepaired(self, drift: Drift) -> None:
        self._keep("unrepaired", drift.customer_id)
