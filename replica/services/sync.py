"""`medusa_sync` (replica/management/commands/medusa_sync.py): the backfill
that pushes every customer to Medusa, and the verify that compares both
sides and, with repair, writes our state over what differs. This server
owns the customer profile and the address book: an edit made in Medusa's
admin to a replicated customer is drift, and a repair overwrites it.

Both walk our customers in keyset batches by id, so memory stays flat and
each batch costs a constant number of queries on each side. Every write
goes through the drain's writer (MedusaReplica.write) under the drain's
per-customer locks (replica/services/locks.py), taken before our state is
read: a batch never overwrites a newer copy a drain has just written. What
Medusa refuses goes to the outbox (one Change per customer), where the
drain retries it with backoff, parks it, and staff see it in admin."""

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from core.emails import email_hash
from core.metrics import replica_customers_refused, replica_drift_repaired
from core.progress import Progress
from replica.medusa import (
    ADDRESS_COLUMNS,
    CUSTOMER_COLUMNS,
    CustomerState,
    MedusaReplica,
    Row,
)
from replica.models import Change, SyncCursor
from replica.selectors import (
    customer_ids_after,
    customer_states,
    customer_states_after,
    customers_count,
    customers_existing,
    customers_queued,
)
from replica.services.drain import backoff
from replica.services.locks import customers_lock

logger = logging.getLogger(__name__)

BACKFILL = "backfill"  # the SyncCursor the backfill moves

# The kinds of drift, in the order a report lists them.
CUSTOMER_MISSING = "customer_missing"
CUSTOMER_DIFFERS = "customer_differs"
ADDRESS_MISSING = "address_missing"
ADDRESS_EXTRA = "address_extra"
ADDRESS_DIFFERS = "address_differs"
ACCOUNT_NOT_HERE = "account_not_here"
DRIFT_KINDS = {
    CUSTOMER_MISSING: "customer here, missing in Medusa",
    CUSTOMER_DIFFERS: "customer differs in Medusa",
    ADDRESS_MISSING: "address here, missing in Medusa",
    ADDRESS_EXTRA: "address in Medusa, not in the book here",
    ADDRESS_DIFFERS: "address differs in Medusa",
    ACCOUNT_NOT_HERE: (
        "registered customer in Medusa unknown here; reported, never touched"
    ),
}


@dataclass(frozen=True)
class Drift:
    kind: str
    customer_id: str
    # HMAC of the email (core.emails.email_hash): ours, or Medusa's for a
    # customer unknown here. Output never carries the email itself.
    email_hash: str | None
    address_id: str | None = None
    columns: tuple[str, ...] = ()


class SyncReport(Protocol):
    """Where a run says what it finds as it finds it (the command prints,
    the daily task logs), so that nothing piles up in memory."""

    def drift(self, drift: Drift) -> None: ...

    def refused(self, customer_id: str, reason: str) -> None: ...

    def unrepaired(self, drift: Drift) -> None: ...


class TargetChanged(Exception):
    """An unfinished backfill wrote another Medusa database."""

    def __init__(self, before: str, now: str):
        super().__init__(
            f"the unfinished backfill was writing {before}, this run would "
            f"write {now}: run with --restart to start over for {now}"
        )


@dataclass
class BackfillResult:
    total: int = 0  # customers to do (at the end: those done)
    done: int = 0  # customers done, counting an interrupted run's
    resumed_after: str = ""  # the last customer id of the run resumed
    written: int = 0  # customers this run sent to Medusa
    refused: int = 0  # of them, refused by Medusa (now in the outbox)


@dataclass
class VerifyResult:
    customers: int = 0  # ours, compared with Medusa's rows
    accounts: int = 0  # Medusa's live registered customers, looked up here
    drift: Counter[str] = field(default_factory=Counter)  # entries per kind
    drifted: int = 0  # customers with drift
    queued: int = 0  # customers that differ with a change in the outbox
    repaired: int = 0  # drifted customers written and now equal
    refused: int = 0  # drifted customers Medusa refused (now in the outbox)
    remaining: int = 0  # drifted customers left differing


def backfill(
    replica: MedusaReplica,
    *,
    batch_size: int,
    report: SyncReport,
    restart: bool = False,
    progress: Progress | None = None,
) -> BackfillResult:
    """Push every customer (guests, soft-deleted ones as they are) with its
    addresses to Medusa, in id order, recording the last id of each batch
    in SyncCursor `backfill`: a rerun resumes after it, unless `restart` or
    the last run finished. Per batch: the ids (the primary key), the locks,
    the customers and their addresses here (two queries), one write to
    Medusa, the cursor."""
    target = replica.target()  # connects and checks the shape first
    cursor = _cursor_open(BACKFILL, target, restart=restart)
    result = BackfillResult(resumed_after=cursor.position)
    result.total = customers_count()
    if cursor.position:
        result.done = customers_count(upto=cursor.position)
    if progress is not None:
        progress.start(result.done)
    position = cursor.position
    while True:
        with transaction.atomic():
            ids = customer_ids_after(position, batch_size)
            if not ids:
                break
            customers_lock(ids)
            states = customer_states(ids, id_range=(ids[0], ids[-1]))
            refused = replica.write(states)
            _refusals_enqueue(refused, report)
            position = ids[-1]
            SyncCursor.objects.filter(name=BACKFILL).update(
                position=position, updated_at=timezone.now()
            )
        result.written += len(ids)
        result.refused += len(refused)
        result.done += len(ids)
        result.total = max(result.total, result.done)
        if progress is not None:
            progress("backfill", result.done, result.total)
    SyncCursor.objects.filter(name=BACKFILL).update(
        finished_at=timezone.now(), updated_at=timezone.now()
    )
    result.total = result.done
    if progress is not None:
        progress.end()
    return result


def _cursor_open(name: str, target: str, *, restart: bool) -> SyncCursor:
    """The cursor to go on from: from the start when asked, when the last
    run finished or when none ran; refused when an unfinished run wrote
    another database."""
    cursor, _ = SyncCursor.objects.get_or_create(name=name)
    fresh = restart or cursor.finished_at is not None or not cursor.position
    if not fresh and cursor.target != target:
        raise TargetChanged(cursor.target, target)
    if fresh:
        cursor.position = ""
        cursor.finished_at = None
    cursor.target = target
    cursor.save()
    return cursor


def verify(
    replica: MedusaReplica,
    *,
    batch_size: int,
    report: SyncReport,
    repair: bool = False,
    progress: Progress | None = None,
) -> VerifyResult:
    """Compare both sides by id: each of our customers (every replicated
    column, timestamps exactly) and its address book with Medusa's rows,
    then each registered, live customer of Medusa's with ours. A customer
    found different is looked at again under its lock, both sides read
    anew: one with a change in the outbox is the drain's (counted as
    queued); the rest is drift, reported, and with `repair` written and
    compared once more. A Medusa customer unknown here is never touched.

    Cost, per batch of ours: two queries here, two in Medusa (primary key,
    address customer index); per batch of Medusa's accounts: one query
    there, one here. Nothing else unless something differs. See
    docs/replication.md for measured figures."""
    result = VerifyResult()
    total = customers_count()
    if progress is not None:
        progress.start()
    after = ""
    while ours := customer_states_after(after, batch_size):
        theirs = replica.states(list(ours))
        differing = [
            customer_id
            for customer_id, state in ours.items()
            if _differences(state, theirs.get(customer_id))
        ]
        if differing:
            _settle(replica, differing, repair=repair, report=report, result=result)
        after = next(reversed(ours))
        result.customers += len(ours)
        if progress is not None:
            progress("verify, customers here", result.customers, total)
    if progress is not None:
        progress.end()

    total = replica.accounts_count()
    if progress is not None:
        progress.start()
    after = ""
    while page := replica.accounts_after(after, batch_size):
        ids = [customer_id for customer_id, _ in page]
        known = customers_existing(ids)
        unknown = [customer_id for customer_id in ids if customer_id not in known]
        if unknown:
            _settle(replica, unknown, repair=repair, report=report, result=result)
        after = ids[-1]
        result.accounts += len(ids)
        if progress is not None:
            progress("verify, Medusa's accounts", result.accounts, total)
    if progress is not None:
        progress.end()
    return result


def _settle(
    replica: MedusaReplica,
    customer_ids: Sequence[str],
    *,
    repair: bool,
    report: SyncReport,
    result: VerifyResult,
) -> None:
    """Customers found different, looked at again with no drain writing
    them; reported, and repaired when asked."""
    with transaction.atomic():
        customers_lock(customer_ids)
        ours = customer_states(customer_ids)
        theirs = replica.states(customer_ids)
        # Read after our state: a change committed since is queued too.
        queued = customers_queued(customer_ids)
        result.queued += len(queued)
        ids = [customer_id for customer_id in customer_ids if customer_id not in queued]
        fixable: dict[str, CustomerState] = {}
        for customer_id in ids:
            drifts = _drifts(customer_id, ours[customer_id], theirs.get(customer_id))
            if not drifts:
                continue  # settled meanwhile
            result.drifted += 1
            for drift in drifts:
                result.drift[drift.kind] += 1
                report.drift(drift)
            if ours[customer_id].customer is None:
                result.remaining += 1  # Medusa's own account: never touched
            else:
                fixable[customer_id] = ours[customer_id]
        if not repair or not fixable:
            result.remaining += len(fixable)
            return
        refused = replica.write(fixable)
        _refusals_enqueue(refused, report)
        result.refused += len(refused)
        written = [customer_id for customer_id in fixable if customer_id not in refused]
        after = replica.states(written)
        repaired = 0
        for customer_id in written:
            left = _drifts(customer_id, fixable[customer_id], after.get(customer_id))
            for drift in left:
                report.unrepaired(drift)
            if not left:
                repaired += 1
        result.repaired += repaired
        result.remaining += len(fixable) - repaired
        replica_drift_repaired.inc(repaired)


def _drifts(
    customer_id: str, ours: CustomerState, theirs: CustomerState | None
) -> list[Drift]:
    differences = _differences(ours, theirs)
    if not differences:
        return []
    row = ours.customer or (theirs.customer if theirs else None) or {}
    email = row.get("email")
    hashed = email_hash(email) if email else None
    return [
        Drift(kind, customer_id, hashed, address_id, columns)
        for kind, address_id, columns in differences
    ]


def _differences(
    ours: CustomerState, theirs: CustomerState | None
) -> list[tuple[str, str | None, tuple[str, ...]]]:
    """What Medusa's copy lacks or has otherwise: (kind, address id,
    columns). Ours gone: only a live registered customer of Medusa's is
    drift (one deleted here is erased there and kept, deleted_at set)."""
    there = theirs.customer if theirs else None
    if ours.customer is None:
        if there and there["has_account"] and there["deleted_at"] is None:
            return [(ACCOUNT_NOT_HERE, None, ())]
        return []
    if there is None:
        return [(CUSTOMER_MISSING, None, ())]
    found: list[tuple[str, str | None, tuple[str, ...]]] = []
    columns = _columns_differing(ours.customer, there, CUSTOMER_COLUMNS)
    if columns:
        found.append((CUSTOMER_DIFFERS, None, columns))
    mine = {address["id"]: address for address in ours.addresses}
    medusa = {address["id"]: address for address in theirs.addresses} if theirs else {}
    for address_id in sorted(mine.keys() | medusa.keys()):
        if address_id not in medusa:
            found.append((ADDRESS_MISSING, address_id, ()))
        elif address_id not in mine:
            found.append((ADDRESS_EXTRA, address_id, ()))
        elif columns := _columns_differing(
            mine[address_id], medusa[address_id], ADDRESS_COLUMNS
        ):
            found.append((ADDRESS_DIFFERS, address_id, columns))
    return found


def _columns_differing(
    ours: Row, theirs: Row, columns: Mapping[str, Any]
) -> tuple[str, ...]:
    # Exact: timestamps to the microsecond (aware datetimes compare as
    # instants), JSON as parsed values.
    return tuple(column for column in columns if ours[column] != theirs[column])


def _refusals_enqueue(refused: Mapping[str, str], report: SyncReport) -> None:
    """A change per refused customer, as the drain leaves one after a first
    refusal: retried with backoff, parked after REPLICA_MAX_ATTEMPTS, shown
    in admin. The reason names a constraint, never a value."""
    if not refused:
        return
    now = timezone.now()
    Change.objects.bulk_create(
        Change(
            customer_id=customer_id,
            attempts=1,
            last_error=reason,
            next_attempt_at=now + backoff(1),
        )
        for customer_id, reason in refused.items()
    )
    for customer_id, reason in refused.items():
        replica_customers_refused.inc()
        logger.warning(
            "replica_customer_refused",
            extra={"customer_id": customer_id, "reason": reason, "by": "medusa_sync"},
        )
        report.refused(customer_id, reason)
