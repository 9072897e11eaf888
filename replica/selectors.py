from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from accounts.models import Customer, CustomerAddress
from replica.medusa import ADDRESS_COLUMNS, CUSTOMER_COLUMNS, CustomerState
from replica.models import Change, SyncCursor


def customer_states(
    customer_ids: Iterable[str], *, id_range: tuple[str, str] | None = None
) -> dict[str, CustomerState]:
    """Each customer as it is now, with its addresses (two queries). Ids
    that are a run of consecutive customers (a keyset batch) can give
    their first and last as `id_range`: both tables are then read by a
    range of the primary key and of the address's customer index, which
    PostgreSQL walks in a few milliseconds, where its plan for a list of a
    thousand ids can be a scan of every address."""
    states = {customer_id: CustomerState(None) for customer_id in customer_ids}
    customers = Customer.objects.all()
    if id_range is None:
        customers = customers.filter(id__in=states)
    else:
        customers = customers.filter(id__gte=id_range[0], id__lte=id_range[1])
    for row in customers.values(*CUSTOMER_COLUMNS):
        if row["id"] in states:  # not one that came into the range meanwhile
            states[row["id"]].customer = row
    return _addresses_add(states, id_range)


def customer_states_after(after: str, limit: int) -> dict[str, CustomerState]:
    """The next `limit` customers in id order after `after`, with their
    addresses (two queries, each a range of an index)."""
    rows = Customer.objects.filter(id__gt=after).order_by("id")[:limit]
    states = {row["id"]: CustomerState(row) for row in rows.values(*CUSTOMER_COLUMNS)}
    if not states:
        return states
    return _addresses_add(states, (next(iter(states)), next(reversed(states))))


def _addresses_add(
    states: dict[str, CustomerState], id_range: tuple[str, str] | None
) -> dict[str, CustomerState]:
    addresses = CustomerAddress.objects.all()
    if id_range is None:
        addresses = addresses.filter(customer_id__in=states)
    else:
        addresses = addresses.filter(
            customer_id__gte=id_range[0], customer_id__lte=id_range[1]
        )
    # The index's order (cuaddr_customer_id_idx): by customer, and
    # each customer's addresses by id.
    for row in addresses.order_by("customer_id", "id").values(*ADDRESS_COLUMNS):
        state = states.get(row["customer_id"])
        if state is not None:
            state.addresses.append(row)
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
    oldest_pending_at: datetime | None  # of the changes not yet tried


def backlog() -> Backlog:
    """One query over the outbox (small: applied rows are deleted)."""
    row = Change.objects.aggregate(
        pending=Count("id", filter=Q(parked_at__isnull=True)),
        parked=Count("id", filter=Q(parked_at__isnull=False)),
        # Not yet tried: a change Medusa refused waits out its backoff (then
        # is parked, ReplicaChangesParked) and is no sign the drain is stuck.
        oldest_pending_at=Min(
            "created_at", filter=Q(parked_at__isnull=True, attempts=0)
        ),
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
