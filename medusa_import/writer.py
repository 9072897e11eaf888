"""Writing planned units: one set-based upsert per table and batch.

A row already here (same id) is updated only when Medusa's `updated_at` is
newer than ours: last writer wins, so a second pass brings what changed in
Medusa since the first (a new password, a finished sign-up) without undoing
what customers have since done here. An identity's customer link is only
ever added, never moved or removed.

The unique indexes decide collisions: a batch that breaks one is written
again unit by unit, each in a savepoint, and the units that still break one
are reported with the row that holds the key.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from core.emails import email_hash
from medusa_import.address_plan import AddressRow
from medusa_import.plan import (
    CustomerRow,
    IdentityRow,
    ProviderRow,
    Unit,
    login_email,
)
from medusa_import.problems import Problem


@dataclass(frozen=True)
class Upsert:
    model: type[Model]
    types: dict[str, str]  # column -> PostgreSQL type, in the row's field order
    update: str  # the SET list applied to a row Medusa changed since

    def sql(self) -> str:
        # The batch travels as one JSON document: psycopg would adapt array
        # parameters element by element in Python, which cost more CPU than
        # the inserts (docs/performance.md; measured with client-side
        # binding).
        table = self.model._meta.db_table
        columns = ", ".join(self.types)
        record = ", ".join(f"{name} {kind}" for name, kind in self.types.items())
        return f"""
            INSERT INTO {table} AS t ({columns})
            SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS u({record})
            ON CONFLICT (id) DO UPDATE SET {self.update},
                updated_at = EXCLUDED.updated_at
            WHERE t.updated_at < EXCLUDED.updated_at
            RETURNING (xmax = 0) AS inserted
        """  # noqa: S608  (model metadata and constants, no input)


CUSTOMERS = Upsert(
    Customer,
    {
        "id": "text", "email": "text", "company_name": "text", "first_name": "text",
        "last_name": "text", "phone": "text", "has_account": "boolean",
        "metadata": "jsonb", "created_at": "timestamptz", "updated_at": "timestamptz",
    },
    "email = EXCLUDED.email, company_name = EXCLUDED.company_name, "
    "first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, "
    "phone = EXCLUDED.phone, has_account = EXCLUDED.has_account, "
    "metadata = EXCLUDED.metadata",
)  # fmt: skip
IDENTITIES = Upsert(
    AuthIdentity,
    {
        "id": "text", "customer_id": "text", "app_metadata": "jsonb",
        "created_at": "timestamptz", "updated_at": "timestamptz",
    },
    "customer_id = COALESCE(t.customer_id, EXCLUDED.customer_id), "
    "app_metadata = EXCLUDED.app_metadata",
)  # fmt: skip
PROVIDERS = Upsert(
    ProviderIdentity,
    {
        "id": "text", "auth_identity_id": "text", "provider": "text",
        "entity_id": "text", "password_hash": "text", "provider_metadata": "jsonb",
        "user_metadata": "jsonb", "created_at": "timestamptz",
        "updated_at": "timestamptz",
    },
    "password_hash = EXCLUDED.password_hash, "
    "provider_metadata = EXCLUDED.provider_metadata, "
    "user_metadata = EXCLUDED.user_metadata",
)  # fmt: skip


TABLES = ("customer", "auth_identity", "provider_identity", "customer_address")


@dataclass
class Outcome:
    inserted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    written: list[Unit] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)

    def add(self, counts: dict[str, tuple[int, int]], units: Sequence[Unit]) -> None:
        for table, (inserted, updated) in counts.items():
            self.inserted[table] += inserted
            self.updated[table] += updated
        self.written += units


@contextmanager
def import_atomic() -> Iterator[None]:
    """A transaction (a savepoint inside a dry run's) for imported rows."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Triggers record every customer and address change in an
            # outbox that replicates it to Medusa, unless this is 'off':
            # imported rows are Medusa's already. LOCAL lasts until the
            # transaction ends (a rolled-back savepoint undoes it).
            cursor.execute("SET LOCAL storefront.replica = 'off'")
        yield


def units_write(units: Sequence[Unit]) -> Outcome:
    """Write the units: all at once, or one by one if a key collides."""
    outcome = Outcome()
    try:
        with import_atomic():
            counts = _upsert_all(units)
        outcome.add(counts, units)
        return outcome
    except IntegrityError:
        pass
    for unit in units:
        try:
            with import_atomic():
                counts = _upsert_all([unit])
            outcome.add(counts, [unit])
        except IntegrityError as exc:
            problem = _collision_problem(unit, exc)
            refused = unit.rejection(problem)
            if problem.reason == "customer_already_linked":
                # The customer is here, with the identity that came first.
                refused = [p for p in refused if p.table != "customer"]
            outcome.refused += refused
    return outcome


def _upsert_all(units: Sequence[Unit]) -> dict[str, tuple[int, int]]:
    # Logins first: a collision is reported on the email someone logs in
    # with. The foreign keys are deferred; they are checked before the
    # savepoint ends, so a broken reference fails this unit, not the commit.
    _identities_lock([u.identity.id for u in units if u.identity])
    # Two identities may name one customer: the one that logs in decides
    # its row (its email is the login's).
    customers: dict[str, CustomerRow] = {}
    for unit in sorted(units, key=lambda u: u.identity is None):
        if unit.customer:
            customers.setdefault(unit.customer.id, unit.customer)
    counts = {
        "provider_identity": rows_upsert(
            PROVIDERS, [p for u in units for p in u.providers]
        ),
        "auth_identity": rows_upsert(
            IDENTITIES, [u.identity for u in units if u.identity]
        ),
        "customer": rows_upsert(CUSTOMERS, list(customers.values())),
    }
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return counts


def _identities_lock(ids: list[str]) -> None:
    """Lock the identities already here before their logins, in the order
    the orphan sweep locks them (identity, then its providers): a pass that
    runs next to a sweep waits for it instead of deadlocking with it, and
    the sweep skips (SKIP LOCKED) what the pass holds."""
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM accounts_authidentity WHERE id = ANY(%s) "
                "ORDER BY id FOR UPDATE",
                [ids],
            )


def rows_upsert(
    upsert: Upsert,
    rows: Sequence[CustomerRow | IdentityRow | ProviderRow | AddressRow],
) -> tuple[int, int]:
    """Insert the rows, or update those Medusa changed since: (inserted,
    updated)."""
    if not rows:
        return 0, 0
    names = [f.name for f in fields(rows[0])]
    assert names == list(upsert.types), names  # noqa: S101  (a programming error)
    batch = json.dumps([row.__dict__ for row in rows], default=datetime.isoformat)
    with connection.cursor() as cursor:
        cursor.execute(upsert.sql(), [batch])
        results = cursor.fetchall()
    inserted = sum(1 for (was_inserted,) in results if was_inserted)
    return inserted, len(results) - inserted


# Which row holds the key a refused unit wanted, by the constraint it broke:
# (refused row's table and id, the holder's id, the email to hash).
def _email_holder(unit: Unit) -> tuple[str, str, str | None, str | None]:
    for row in unit.providers:
        holder = (
            ProviderIdentity.objects.filter(
                entity_id=row.entity_id, provider=row.provider
            )
            .exclude(auth_identity_id=row.auth_identity_id)
            .values_list("auth_identity_id", flat=True)
            .first()
        )
        if holder:
            return "provider_identity", row.id, holder, login_email(row)
    if unit.identity is None:
        return _no_holder(unit)
    return "auth_identity", unit.identity.id, None, None


def _customer_email_holder(unit: Unit) -> tuple[str, str, str | None, str | None]:
    if unit.customer is None or unit.customer.email is None:
        return _no_holder(unit)
    email = unit.customer.email
    holder = (
        Customer.objects.registered_with_email(email.lower())
        .exclude(id=unit.customer.id)
        .values_list("id", flat=True)
        .first()
    )
    return "customer", unit.customer.id, holder, email


def _customer_holder(unit: Unit) -> tuple[str, str, str | None, str | None]:
    if unit.customer is None or unit.identity is None:
        return _no_holder(unit)
    holder = (
        AuthIdentity.objects.filter(customer_id=unit.customer.id)
        .exclude(id=unit.identity.id)
        .values_list("id", flat=True)
        .first()
    )
    return "auth_identity", unit.identity.id, holder, None


def _no_holder(unit: Unit) -> tuple[str, str, str | None, str | None]:
    table, row_id = unit.parts()[0]
    return table, row_id, None, None


# What a unit that broke a constraint collided with: (table, row id, the row
# holding the value, the email to hash).
Holder = Callable[[Unit], tuple[str, str, str | None, str | None]]

COLLISIONS: dict[str, tuple[str, Holder]] = {
    "provid_provider_entity_uniq": ("email_collision", _email_holder),
    "customer_registered_email_uniq": (
        "customer_email_collision",
        _customer_email_holder,
    ),
    "accounts_authidentity_customer_id_key": (
        "customer_already_linked",
        _customer_holder,
    ),
    "provid_identity_provider_uniq": ("two_logins_one_provider", _no_holder),
}


def _collision_problem(unit: Unit, exc: IntegrityError) -> Problem:
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    reason, holder = COLLISIONS.get(constraint or "", ("constraint", _no_holder))
    table, row_id, holder_id, email = holder(unit)
    return Problem(
        table=table,
        id=row_id,
        reason=reason,
        email_hash=email_hash(email) if email else None,
        conflicts_with=holder_id,
        detail=(constraint or "") if reason == "constraint" else "",
    )
