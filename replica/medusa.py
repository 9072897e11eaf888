"""Writing the replica into Medusa 2.x's `customer` and `customer_address`
tables, as Medusa's own ORM would leave them (docs/replication.md, "What
a direct write skips"): same ids, `updated_at` set by us (Medusa has no
trigger), a default flag cleared before another address takes it.

A write is a whole state: every customer given is made equal to ours
(upserted, or anonymized and soft-deleted when gone here) and its address
book is made equal to ours. Writing the same state twice changes nothing,
so a change applied again after a crash is harmless."""

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from core.database_urls import url_masked

logger = logging.getLogger(__name__)

CUSTOMER_COLUMNS = {
    "id": "text",
    "email": "text",
    "company_name": "text",
    "first_name": "text",
    "last_name": "text",
    "phone": "text",
    "has_account": "boolean",
    "metadata": "jsonb",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "deleted_at": "timestamptz",
}
ADDRESS_COLUMNS = {
    "id": "text",
    "customer_id": "text",
    "address_name": "text",
    "is_default_shipping": "boolean",
    "is_default_billing": "boolean",
    "company": "text",
    "first_name": "text",
    "last_name": "text",
    "address_1": "text",
    "address_2": "text",
    "city": "text",
    "country_code": "text",
    "province": "text",
    "postal_code": "text",
    "phone": "text",
    "metadata": "jsonb",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "deleted_at": "timestamptz",
}
# information_schema's names for the types above.
_SQL_TYPE_NAMES = {
    "text": "text",
    "boolean": "boolean",
    "jsonb": "jsonb",
    "timestamptz": "timestamp with time zone",
}
TABLES = {"customer": CUSTOMER_COLUMNS, "customer_address": ADDRESS_COLUMNS}

Row = dict[str, Any]


@dataclass
class CustomerState:
    """A customer as it is here now: its row (None once deleted here) and
    its addresses."""

    customer: Row | None
    addresses: list[Row] = field(default_factory=list)


class MedusaUnavailable(Exception):
    """Medusa's database cannot be reached: nothing was written, try later."""


class ShapeError(Exception):
    """Medusa's tables are not the shape this writer was built for."""


def _upsert_sql(table: str, columns: Mapping[str, str]) -> str:
    names = ", ".join(columns)
    record = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    changed = [name for name in columns if name not in ("id", "created_at")]
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in changed)
    current = ", ".join(f"{table}.{name}" for name in changed)
    new = ", ".join(f"EXCLUDED.{name}" for name in changed)
    return (
        f"INSERT INTO {table} ({names}) "  # noqa: S608  (constant names)
        f"SELECT {names} FROM jsonb_to_recordset(%s) AS r({record}) "
        f"ON CONFLICT (id) DO UPDATE SET {assignments} "
        f"WHERE ({current}) IS DISTINCT FROM ({new})"
    )


CUSTOMERS_UPSERT = _upsert_sql("customer", CUSTOMER_COLUMNS)
ADDRESSES_UPSERT = _upsert_sql("customer_address", ADDRESS_COLUMNS)
# Addresses of these customers that are not in their book here.
ADDRESSES_DELETE = """
DELETE FROM customer_address
WHERE customer_id = ANY(%s) AND NOT (id = ANY(%s))
"""
# Medusa allows one default of each kind per customer (a partial unique
# index, checked row by row): drop the flags ours no longer has first, so
# an upsert that moves a default never meets the old one.
DEFAULTS_CLEAR = """
UPDATE customer_address a
SET is_default_shipping = a.is_default_shipping AND r.is_default_shipping,
    is_default_billing = a.is_default_billing AND r.is_default_billing
FROM jsonb_to_recordset(%s) AS r(id text, is_default_shipping boolean,
                                 is_default_billing boolean)
WHERE a.id = r.id
  AND ((a.is_default_shipping AND NOT r.is_default_shipping)
       OR (a.is_default_billing AND NOT r.is_default_billing))
"""
# A customer deleted here: Medusa keeps the row, so orders and carts keep
# their customer id, but not the person.
CUSTOMERS_ERASE = """
UPDATE customer
SET email = NULL, first_name = NULL, last_name = NULL, phone = NULL,
    company_name = NULL, metadata = NULL,
    deleted_at = coalesce(deleted_at, now()), updated_at = now()
WHERE id = ANY(%s)
  AND (deleted_at IS NULL
       OR num_nonnulls(email, first_name, last_name, phone, company_name,
                       metadata) > 0)
"""

# What `states` reads back: every replicated column, addresses in id order
# as customer_states reads ours.
CUSTOMERS_READ = (
    f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM customer WHERE id = ANY(%s)"  # noqa: S608
)
ADDRESSES_READ = (
    f"SELECT {', '.join(ADDRESS_COLUMNS)} FROM customer_address "  # noqa: S608
    "WHERE customer_id = ANY(%s) ORDER BY id"
)
# Registered customers who can sign in at Medusa: medusa_sync --verify
# looks for the ones that are not ours. (A customer deleted here is
# erased but kept there, deleted_at set: not live.)
ACCOUNTS_PAGE = """
SELECT id, email FROM customer
WHERE id > %s AND has_account AND deleted_at IS NULL
ORDER BY id LIMIT %s
"""
ACCOUNTS_COUNT = (
    "SELECT count(*) FROM customer WHERE has_account AND deleted_at IS NULL"
)


def _json_default(value: object) -> str:
    # Full microseconds: DjangoJSONEncoder keeps milliseconds only, and a
    # copy must compare equal to its source (medusa_sync --verify).
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


_json = partial(Jsonb, dumps=partial(json.dumps, default=_json_default))
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
# What one customer can make Medusa refuse: its data (a unique email, a
# check), or a row Medusa holds locked past lock_timeout (an admin's open
# transaction), a deadlock, a statement past statement_timeout. That
# customer is retried later with backoff; the others are written.
DATA_ERRORS = (
    psycopg.IntegrityError,
    psycopg.DataError,
    psycopg.errors.LockNotAvailable,
    psycopg.errors.QueryCanceled,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
)


def error_describe(exc: psycopg.Error) -> str:
    """The failure without its detail, which can hold an email."""
    constraint = getattr(exc.diag, "constraint_name", None)
    return f"{type(exc).__name__} {exc.sqlstate or ''} {constraint or ''}".strip()


class MedusaReplica:
    """One connection to Medusa's database, opened on first use, checked
    for shape once, and reopened after a failure."""

    def __init__(self, url: str, *, lock_timeout: str = "10s"):
        self.url = url
        self.lock_timeout = lock_timeout
        self._conn: psycopg.Connection[Any] | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            # A restart of Medusa's server leaves a dead connection here: one
            # round trip finds out, and the write gets a new one instead of
            # failing once more.
            try:
                self._conn.execute("SELECT 1")
                return self._conn
            except CONNECTION_ERRORS:
                self.close()
        try:
            conn = psycopg.connect(self.url, connect_timeout=5, autocommit=True)
            # A write waits for Medusa's own locks at most this long.
            conn.execute("SET statement_timeout = '30s'")
            conn.execute(
                sql.SQL("SET lock_timeout = {}").format(sql.Literal(self.lock_timeout))
            )
        except CONNECTION_ERRORS as exc:
            raise MedusaUnavailable(
                f"cannot connect to {url_masked(self.url)}: {type(exc).__name__}"
            ) from None
        try:
            shape_check(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @contextmanager
    def _reached(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection; a failure of it closes it and becomes
        MedusaUnavailable."""
        try:
            yield self.connection()
        except CONNECTION_ERRORS as exc:
            self.close()
            raise MedusaUnavailable(type(exc).__name__) from None

    def target(self) -> str:
        """host:port/dbname of the database reached, whatever the URL's
        spelling (medusa_sync's cursor remembers it)."""
        with self._reached() as conn:
            info = conn.info
            return f"{info.host}:{info.port}/{info.dbname}"

    def write(self, states: Mapping[str, CustomerState]) -> dict[str, str]:
        """Make Medusa's rows equal `states`. Returns the customers Medusa
        refused, each with the reason; the others are written. Raises
        MedusaUnavailable when nothing could be written."""
        with self._reached() as conn:
            return _write(conn, states)

    def states(self, customer_ids: Sequence[str]) -> dict[str, CustomerState]:
        """Medusa's rows of these customers with their addresses, as
        `write` leaves them (two queries through the primary key and the
        address's customer index); a customer Medusa lacks is left out."""
        with self._reached() as conn, conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(CUSTOMERS_READ, [list(customer_ids)])
            states = {row["id"]: CustomerState(row) for row in cursor.fetchall()}
            cursor.execute(ADDRESSES_READ, [list(customer_ids)])
            for row in cursor.fetchall():
                state = states.setdefault(row["customer_id"], CustomerState(None))
                state.addresses.append(row)
        return states

    def accounts_after(self, after: str, limit: int) -> list[tuple[str, str | None]]:
        """Medusa's live registered customers (has_account, not deleted) in
        its id order after `after`, `limit` of them: (id, email)."""
        with self._reached() as conn:
            rows = conn.execute(ACCOUNTS_PAGE, [after, limit]).fetchall()
        return [(row[0], row[1]) for row in rows]

    def accounts_count(self) -> int:
        with self._reached() as conn:
            row = conn.execute(ACCOUNTS_COUNT).fetchone()
        return int(row[0]) if row else 0


def _write(
    conn: psycopg.Connection[Any], states: Mapping[str, CustomerState]
) -> dict[str, str]:
    try:
        with conn.transaction():
            _states_write(conn, states)
        return {}
    except DATA_ERRORS:
        pass
    # One customer spoiled the batch: write each on its own, twice, since
    # one may wait on another (an email that moves between two customers
    # in one batch frees up only once the first is written).
    refused: dict[str, str] = {}
    pending = list(states)
    for _ in range(2):
        refused = {}
        for customer_id in pending:
            try:
                with conn.transaction():
                    _states_write(conn, {customer_id: states[customer_id]})
            except DATA_ERRORS as exc:
                refused[customer_id] = error_describe(exc)
        pending = list(refused)
    return refused


def _states_write(
    conn: psycopg.Connection[Any], states: Mapping[str, CustomerState]
) -> None:
    present = [state.customer for state in states.values() if state.customer]
    gone = [customer_id for customer_id, state in states.items() if not state.customer]
    addresses = [address for state in states.values() for address in state.addresses]
    conn.execute(ADDRESSES_DELETE, [list(states), [a["id"] for a in addresses]])
    # Erased first: a deleted customer's email may be a new customer's now.
    if gone:
        conn.execute(CUSTOMERS_ERASE, [gone])
    if present:
        conn.execute(CUSTOMERS_UPSERT, [_json(present)])
    if addresses:
        flags = [
            {key: a[key] for key in ("id", "is_default_shipping", "is_default_billing")}
            for a in addresses
        ]
        conn.execute(DEFAULTS_CLEAR, [_json(flags)])
        conn.execute(ADDRESSES_UPSERT, [_json(addresses)])


def shape_check(conn: psycopg.Connection[Any]) -> None:
    """Refuse to write into tables that are not Medusa 2.x's: a column
    missing or of another type names itself in the message."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        [list(TABLES)],
    ).fetchall()
    found = {(table, column): kind for table, column, kind in rows}
    problems = [
        f"{table}.{column} {_problem(found.get((table, column)), kind)}"
        for table, columns in TABLES.items()
        for column, kind in columns.items()
        if found.get((table, column)) != _SQL_TYPE_NAMES[kind]
    ]
    if problems:
        raise ShapeError(
            "Medusa's database does not have the tables this server writes "
            "(a Medusa 2.x `customer` and `customer_address`): "
            + "; ".join(problems[:8])
        )


def _problem(found: str | None, expected: str) -> str:
    if found is None:
        return "is missing"
    return f"is {found}, expected {_SQL_TYPE_NAMES[expected]}"
