"""Applying the outbox to Medusa, one batch of customers per transaction.

The outbox rows of a batch are locked (SKIP LOCKED, so two drains share
the work) and each customer is held by a transaction-scoped advisory lock,
so one customer is never written by two drains at once: the copy a drain
writes is the state it read after taking the lock, and a change committed
later has its own row, left for the next batch. Rows are deleted only with
Medusa's commit behind them; a crash in between applies them again, which
writes the same state (replica/medusa.py)."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.metrics import (
    replica_changes_applied,
    replica_changes_parked,
    replica_customers_refused,
    replica_lag,
)
from replica.medusa import MedusaReplica
from replica.models import Change
from replica.selectors import customer_states
from replica.services.locks import customers_hold

logger = logging.getLogger(__name__)

BACKOFF_MAX = timedelta(minutes=15)


@dataclass
class DrainResult:
    applied: int = 0  # outbox rows applied
    refused: int = 0  # customers Medusa refused this time
    parked: int = 0  # of those, customers parked for staff
    # Rows left due: the time budget ran out, or another drain held some of
    # their customers (its batch was read before these rows committed).
    more: bool = False


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2**attempts), BACKOFF_MAX)


def drain(replica: MedusaReplica, *, seconds: float, batch_size: int) -> DrainResult:
    """Apply batches until the outbox has nothing due or `seconds` pass."""
    result = DrainResult()
    deadline = time.monotonic() + seconds
    while True:
        taken = _batch_apply(replica, batch_size, result)
        if taken < batch_size:
            return result
        if result.more or time.monotonic() > deadline:
            result.more = True
            return result


def standalone_forget(*, older_than: datetime) -> int:
    """Standalone (no MEDUSA_DATABASE_URL), the triggers still record:
    forget what is older than `older_than`, loudly."""
    deleted, _ = Change.objects.filter(created_at__lt=older_than).delete()
    if deleted:
        logger.warning("replica_outbox_forgotten", extra={"changes": deleted})
    return deleted


def _batch_apply(replica: MedusaReplica, batch_size: int, result: DrainResult) -> int:
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Change.objects.select_for_update(skip_locked=True)
            .filter(parked_at__isnull=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
            .values_list("id", "customer_id", "attempts", "created_at")[:batch_size]
        )
        if not rows:
            return 0
        taken = len(rows)
        customers = {customer_id for _, customer_id, _, _ in rows}
        held = customers_hold(customers)
        result.more = result.more or held != customers
        rows = [row for row in rows if row[1] in held]
        refused = replica.write(customer_states(held)) if held else {}
        applied = [row for row in rows if row[1] not in refused]
        written = {row[1] for row in applied}
        # The state just written also supersedes these customers' parked
        # changes and those waiting out a backoff: all were tried before, so
        # committed before this batch's read. A fresh row (never tried) that
        # was not in the batch may hold a change the read did not see: it
        # stays.
        Change.objects.filter(
            Q(id__in=[row[0] for row in applied])
            | Q(customer_id__in=written)
            & (Q(parked_at__isnull=False) | Q(next_attempt_at__gt=now))
        ).delete()
        result.applied += len(applied)
        replica_changes_applied.inc(len(applied))
        _lag_observe(applied, timezone.now())
        for customer_id, reason in refused.items():
            _refusal_record(
                [row for row in rows if row[1] == customer_id], reason, now, result
            )
    return taken


def _lag_observe(rows: list[tuple[int, str, int, datetime]], now: datetime) -> None:
    """Per customer, from its oldest change to Medusa's commit."""
    oldest: dict[str, datetime] = {}
    for _, customer_id, _, created_at in rows:
        oldest[customer_id] = min(created_at, oldest.get(customer_id, created_at))
    for created_at in oldest.values():
        replica_lag.observe((now - created_at).total_seconds())


def _refusal_record(
    rows: list[tuple[int, str, int, datetime]],
    reason: str,
    now: datetime,
    result: DrainResult,
) -> None:
    attempts = max(row[2] for row in rows) + 1
    parked = attempts >= settings.REPLICA_MAX_ATTEMPTS
    Change.objects.filter(id__in=[row[0] for row in rows]).update(
        attempts=attempts,
        last_error=reason,
        next_attempt_at=now + backoff(attempts),
        parked_at=now if parked else None,
    )
    result.refused += 1
    replica_customers_refused.inc()
    logger.warning(
        "replica_customer_refused",
        extra={
            "customer_id": rows[0][1],
            "reason": reason,
            "attempts": attempts,
            "parked": parked,
        },
    )
    if parked:
        result.parked += 1
        replica_changes_parked.inc(len(rows))
