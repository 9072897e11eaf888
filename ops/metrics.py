"""GET /metrics (Prometheus text format), bearer-protected by METRICS_TOKEN:
the counters of core/metrics.py, and gauges read from PostgreSQL at scrape
time, so they are right whichever process answers."""

import logging
import os
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from core.errors import unauthorized_response
from core.http import bearer_token, read_only
from core.metrics import REGISTRY
from orphans.selectors import orphans_count, signups_paused
from otp.selectors import MailsWaiting, mails_waiting
from replica.selectors import Backlog, backlog

logger = logging.getLogger(__name__)


@read_only
def metrics(request):
    expected = settings.METRICS_TOKEN
    if expected and not constant_time_compare(bearer_token(request) or "", expected):
        return unauthorized_response()
    return HttpResponse(
        generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST
    )


class DatabaseGaugeCollector:
    """Gauges read from PostgreSQL at scrape time. While the database is
    down they are left out and the counters still served: /health reports
    the outage, and a scrape that fails would hide the counters too."""

    def collect(self):
        try:
            orphans_now = orphans_count(now=timezone.now())
            paused_now = signups_paused()
            replica_now = backlog()
            mails_now = mails_waiting()
        except DatabaseError as exc:
            logger.warning(
                "metrics_database_gauges_skipped", extra={"error": type(exc).__name__}
            )
            return
        orphans = GaugeMetricFamily(
            "orphaned_auth_identities",
            "Auth identities without a customer, past the grace period",
        )
        orphans.add_metric([], orphans_now)
        yield orphans
        paused = GaugeMetricFamily(
            "signups_paused", "1 while new signups are paused (the circuit breaker)"
        )
        paused.add_metric([], 1 if paused_now else 0)
        yield paused
        yield from _code_mail_gauges(mails_now)
        # Standalone, the outbox only waits to be forgotten: no gauge, no alert.
        if settings.MEDUSA_DATABASE_URL:
            yield from _replica_gauges(replica_now)


def _code_mail_gauges(now: MailsWaiting) -> Iterator[GaugeMetricFamily]:
    waiting = GaugeMetricFamily(
        "code_mails_waiting", "Code mails not sent yet (otp/mail.py's outbox)"
    )
    waiting.add_metric([], now.count)
    yield waiting
    oldest = GaugeMetricFamily(
        "code_mails_oldest_waiting_seconds",
        "Age of the oldest code mail not sent yet (0 when none)",
    )
    oldest.add_metric([], _seconds_since(now.oldest_at))
    yield oldest


def _seconds_since(moment: datetime | None) -> float:
    """An oldest row's age for a gauge: 0 when there is none."""
    return (timezone.now() - moment).total_seconds() if moment else 0


def _replica_gauges(now: Backlog) -> Iterator[GaugeMetricFamily]:
    pending = GaugeMetricFamily(
        "replica_backlog", "Outbox changes not yet copied to Medusa (parked apart)"
    )
    pending.add_metric([], now.pending)
    yield pending
    parked = GaugeMetricFamily(
        "replica_parked", "Outbox changes parked for staff (admin, Replication)"
    )
    parked.add_metric([], now.parked)
    yield parked
    oldest = GaugeMetricFamily(
        "replica_oldest_pending_seconds",
        "Age of the oldest change not yet copied to Medusa (0 when none)",
    )
    oldest.add_metric([], _seconds_since(now.oldest_pending_at))
    yield oldest


class _Counters:
    """This process's counters (core/metrics.py), when they are not
    summed across processes from files."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Counters())
    registry.register(DatabaseGaugeCollector())
    return registry
