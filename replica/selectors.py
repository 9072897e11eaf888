from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from accounts.models import Customer, CustomerAddress
from replica.medusa import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, CustomerState
from replica.models import Change, SyncCursor


def customer_states(customer_ids: Iterable[str]) -> dict[str, CustomerState]:
    """Each customer as it is now, with its addresses (two queries)."""
    states = {customer_id: CustomerState(None) for customer_id in customer_ids}
    for row in Customer.objects.filter(id__in=states).values(*CUSTOMER_COLUMNS):
        states[row["id"]].customer = row
    return _addresses_add(states)


def customer_states_after(after: str, limit: int) -> dict[str, CustomerState]:
    """The next `limit` customers in id order after `after`, with their
    addresses (two queries: the primary key's range, the addresses'
    customer index)."""
    rows = Customer.objects.filter(id__gt=after).order_by("id")[:limit]
    states = {row["id"]: CustomerState(row) for row in rows.values(*CUSTOMER_COLUMNS)}
    return _addresses_add(states)


def _addresses_add(states: dict[str, CustomerState]) -> dict[str, CustomerState]:
    addresses = CustomerAddress.objects.filter(customer_id__in=states).order_by("id")
    for row in addresses.values(*ADDRESS_COLUMNS):
        states[row["customer_id"]].addresses.append(row)
    return states


def customer_ids_after(after: str, limit: int) -> list[str]:
    """The next `limit` customer ids after `after` (the primary key alone)."""
    rows = Customer.objects.filter(id__gt=after).order_by("id")[:limit]
    return list(rows.values_list("id", flat=True))


def customers_count(*, upto: str | None = None) -> int:
    """Customers, or those whose id is `upto` or before it."""
    customers = Customer.objects.all()
    if upto is not None:
        customers = customers.filter(id__lte=upto)
    return customers.count()


def customers_existing(customer_ids: Iterable[str]) -> set[str]:
    rows = Customer.objects.filter(id__in=list(customer_ids))
    return set(rows.values_list("id", flat=True))


def customers_queued(customer_ids: Iterable[str]) -> set[str]:
    """Those of these customers with a change in the outbox, pending or
    parked: the drain's to write, not drift."""
    rows = Change.objects.filter(customer_id__in=list(customer_ids))
    return set(rows.values_list("customer_id", flat=True).distinct())


def sync_cursor(name: str) -> SyncCursor | None:
    return SyncCursor.objects.filter(name=name).first()


@dataclass(frozen=True)
class Backlog:
    pending: int
    parked: int
    oldest_pending_at: datetime | None


def backlog() -> Backlog:
    """One query over the outbox (small: applied rows are deleted)."""
    row = Change.objects.aggregate(
        pending=Count("id", filter=Q(parked_at__isnull=True)),
        parked=Count("id", filter=Q(parked_at__isnull=False)),
        oldest_pending_at=Min("created_at", filter=Q(parked_at__isnull=True)),
    )
    return Backlog(**row)


@dataclass(frozen=True)
class ReplicaState:
    enabled: bool  # MEDUSA_DATABASE_URL is set
    pending: int
    parked: int
    oldest_pending_seconds: float | None


def replica_state() -> ReplicaState:
    """The admin dashboard's line about the replica."""
    now = backlog()
    oldest = now.oldest_pending_at
    return ReplicaState(
        enabled=bool(settings.MEDUSA_DATABASE_URL),
        pending=now.pending,
        parked=now.parked,
        oldest_pending_seconds=(
            (timezone.now() - oldest).total_seconds() if oldest else None
        ),
    )
