"""One writer per customer at a time: a transaction-scoped advisory lock per
customer id, held from reading the customer's state here until Medusa's
commit. The drain tries (a customer held elsewhere is left for its next
batch); medusa_sync waits. Either way the state a writer copies is the one
it read under the lock, so an older read never overwrites a newer copy."""

from collections.abc import Iterable

from django.db import connection

# hashtextextended's seed: keeps these advisory locks apart from any other.
LOCK_SEED = 7305


def customers_hold(customer_ids: Iterable[str]) -> set[str]:
    """The customers no other writer holds, each now held until this
    transaction ends; the others are skipped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c FROM unnest(%s::text[]) AS c "
            "WHERE pg_try_advisory_xact_lock(hashtextextended(c, %s))",
            [sorted(customer_ids), LOCK_SEED],
        )
        return {row[0] for row in cursor.fetchall()}


def customers_lock(customer_ids: Iterable[str]) -> None:
    """Hold every one of these customers until this transaction ends,
    waiting for a writer that holds one (taken in id order, so two waiting
    writers cannot deadlock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(c, %s))) "
            "FROM unnest(%s::text[]) AS c",
            [LOCK_SEED, sorted(customer_ids)],
        )
