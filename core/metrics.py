"""The Prometheus counters every app writes, in one registry. Counters are
written by web processes and Celery workers alike; with
PROMETHEUS_MULTIPROC_DIR set (./dev does, see docs/deploy.md) /metrics sums
them across processes (ops/metrics.py serves them, with the gauges read
from PostgreSQL at scrape time)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

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
social_logins = Counter(
    "social_logins",
    "Provider (OpenID Connect) logins by provider and outcome: returning, "
    "linked (a first login joined an account), new (a new identity), "
    "refused (4xx), error (5xx)",
    ["provider", "outcome"],
    registry=REGISTRY,
)

replica_changes_applied = Counter(
    "replica_changes_applied",
    "Outbox changes copied to Medusa's database",
    registry=REGISTRY,
)
replica_customers_refused = Counter(
    "replica_customers_refused",
    "Customers whose copy Medusa's database refused (retried with backoff)",
    registry=REGISTRY,
)
replica_changes_parked = Counter(
    "replica_changes_parked",
    "Outbox changes parked for staff after REPLICA_MAX_ATTEMPTS refusals",
    registry=REGISTRY,
)
replica_drift_repaired = Counter(
    "replica_drift_repaired",
    "Customers whose copy in Medusa had drifted from ours (an edit in "
    "Medusa's admin, a lost write) and that a verify rewrote",
    registry=REGISTRY,
)
replica_lag = Histogram(
    "replica_lag_seconds",
    "From a customer's oldest pending change to its copy committed in Medusa",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)


def input_rejected(error: Exception) -> bool:
    """The client's input was refused (a 4xx), rather than ours failing."""
    for name in ("status", "status_code"):
        status = getattr(error, name, None)
        if isinstance(status, int) and status:
            return status < 500
    return False


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
