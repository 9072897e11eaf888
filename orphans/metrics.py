"""Prometheus metrics (API.md, Operations). Counters are written by web
processes and Celery workers alike; with PROMETHEUS_MULTIPROC_DIR set (./dev
does, see docs/deploy.md) /metrics sums them across processes. The orphan
gauge is read from PostgreSQL at scrape time, so it is right whichever
process answers."""

import logging
import os

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

orphans_created = Counter(
    "orphaned_auth_identities_created",
    "Auth identities left without a customer by a failed profile creation",
    registry=REGISTRY,
)
orphans_cleaned = Counter(
    "orphaned_auth_identities_cleaned",
    "Orphaned auth identities deleted by the sweep or by staff",
    registry=REGISTRY,
)
signup_attempts = Counter(
    "signup_attempts",
    "Signup completions (customer creation) by flow and outcome",
    ["flow", "outcome"],
    registry=REGISTRY,
)
otp_verifications = Counter(
    "otp_verifications",
    "OTP verifications by outcome",
    ["outcome"],
    registry=REGISTRY,
)


def input_rejected(error: Exception) -> bool:
    """The client's input was refused (a 4xx), rather than ours failing."""
    status = getattr(error, "status", None) or getattr(error, "status_code", 500)
    return status < 500


def signup_outcome(*, flow: str, error: Exception | None = None) -> None:
    """success, rejected (the client's input, 4xx) or error (ours, 5xx)."""
    if error is None:
        outcome = "success"
    else:
        outcome = "rejected" if input_rejected(error) else "error"
    signup_attempts.labels(flow=flow, outcome=outcome).inc()


# Every label combination exists from the start at 0, so increase() sees the
# first event of each (Prometheus takes a series' first sample as its base).
for _flow in ("two_step", "one_step"):
    for _outcome in ("success", "rejected", "error"):
        signup_attempts.labels(flow=_flow, outcome=_outcome)


class DatabaseGaugeCollector:
    """Gauges read from PostgreSQL at scrape time. While the database is
    down they are left out and the counters still served: /health reports
    the outage, and a scrape that fails would hide the counters too."""

    def collect(self):
        from orphans.selectors import orphans_count, signups_paused

        try:
            orphans_now = orphans_count(now=timezone.now())
            paused_now = signups_paused()
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


def scrape_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in (
            orphans_created,
            orphans_cleaned,
            signup_attempts,
            otp_verifications,
        ):
            registry.register(collector)
    registry.register(DatabaseGaugeCollector())
    return registry
