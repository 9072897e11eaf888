"""Reading a Medusa 2.x database: one consistent, read-only snapshot,
streamed through server-side cursors so memory stays flat in the row count.

Schema: docs/medusa-contract.md, "Medusa's tables". The identity ↔ customer link is only
`auth_identity.app_metadata ->> 'customer_id'` (no foreign key).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

from core.database_urls import url_masked

REQUIRED_COLUMNS = {
    "customer": {
        "id", "email", "company_name", "first_name", "last_name", "phone",
        "has_account", "metadata", "created_at", "updated_at", "deleted_at",
    },
    "auth_identity": {"id", "app_metadata", "created_at", "updated_at", "deleted_at"},
    "provider_identity": {
        "id", "entity_id", "provider", "auth_identity_id", "user_metadata",
        "provider_metadata", "created_at", "updated_at", "deleted_at",
    },
    "customer_address": {
        "id", "customer_id", "address_name", "is_default_shipping",
        "is_default_billing", "company", "first_name", "last_name", "address_1",
        "address_2", "city", "country_code", "province", "postal_code", "phone",
        "metadata", "created_at", "updated_at", "deleted_at",
    },
}  # fmt: skip

# Identities whose customer can be imported come first, those with a login
# this server runs before those without, then the oldest: on an email
# collision the row imported first is kept, and a customer named by two
# identities takes its email from the one that logs in
# (docs/migrate-from-medusa.md).
IDENTITIES_SQL = """
SELECT ai.id, ai.app_metadata, ai.created_at, ai.updated_at, ai.deleted_at,
       ai.app_metadata ->> 'customer_id' AS linked_customer_id,
       to_jsonb(c) - 'metadata' AS customer, c.metadata AS customer_metadata
FROM auth_identity ai
LEFT JOIN customer c ON c.id = ai.app_metadata ->> 'customer_id'
ORDER BY (c.id IS NULL OR c.deleted_at IS NOT NULL),
         NOT EXISTS (
             SELECT 1 FROM provider_identity p
             WHERE p.auth_identity_id = ai.id AND p.deleted_at IS NULL
               AND p.provider IN ('emailpass', 'email-otp', 'google', 'github')),
         ai.created_at, ai.id
"""

PROVIDERS_SQL = """
SELECT id, auth_identity_id, provider, entity_id, provider_metadata,
       user_metadata, created_at, updated_at, deleted_at
FROM provider_identity
WHERE auth_identity_id = ANY(%s)
ORDER BY created_at, id
"""

# Customers no live identity points at: guests, and registered customers
# whose identity is gone. Linked ones come with their identity.
LONE_CUSTOMERS_WHERE = """
NOT EXISTS (
    SELECT 1 FROM auth_identity ai
    WHERE ai.deleted_at IS NULL AND ai.app_metadata ->> 'customer_id' = c.id
)
"""
LONE_CUSTOMERS_SQL = f"""
SELECT id, email, company_name, first_name, last_name, phone, has_account,
       metadata, created_at, updated_at, deleted_at
FROM customer c WHERE {LONE_CUSTOMERS_WHERE}
ORDER BY c.created_at, c.id
"""  # noqa: S608  (constants)
# A customer's addresses in the order they claim its room under the bound
# (ADDRESSES_PER_CUSTOMER_MAX): its defaults, then the newest.
ADDRESSES_SQL = """
SELECT id, customer_id, address_name, is_default_shipping, is_default_billing,
       company, first_name, last_name, address_1, address_2, city, country_code,
       province, postal_code, phone, metadata, created_at, updated_at, deleted_at
FROM customer_address
ORDER BY customer_id, (is_default_shipping OR is_default_billing) DESC,
         created_at DESC, id DESC
"""
COUNTS_SQL = f"""
SELECT (SELECT count(*) FROM auth_identity) AS auth_identities,
       (SELECT count(*) FROM customer c WHERE {LONE_CUSTOMERS_WHERE}) AS lone_customers,
       (SELECT count(*) FROM customer_address) AS addresses
"""  # noqa: S608  (constants)


class SourceError(Exception):
    """The source cannot be read: unreachable, or not a Medusa 2.x schema."""


# A row as psycopg's dict_row gives it: column -> value, JSON decoded.
Row = dict[str, Any]


class JsonTooDeep:
    """Stands in for a JSON value nested past Python's recursion limit
    (PostgreSQL's jsonb has none): decoding it raises RecursionError, which
    would stop the run. plan.py refuses the row (`too_deeply_nested`)."""

    def __repr__(self) -> str:
        return "<JSON nested too deep>"


JSON_TOO_DEEP = JsonTooDeep()


def _json_loads(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        return JSON_TOO_DEEP


@dataclass(frozen=True)
class SourceCounts:
    auth_identities: int
    lone_customers: int
    addresses: int


class MedusaSource:
    def __init__(self, url: str):
        try:
            self._conn = psycopg.connect(url, row_factory=dict_row, connect_timeout=10)
        except psycopg.Error as exc:
            raise SourceError(
                f"cannot connect to {url_masked(url)}: {str(exc).strip()}"
            ) from None
        # One snapshot for every query: the counts, identities and customers
        # agree even while Medusa keeps taking sign-ups.
        self._conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self._conn.read_only = True
        # Each JSON value is decoded on its own, so a value too deep for
        # Python refuses its row only (a customer's metadata is a column of
        # its own for this reason: inside to_jsonb(c) it would take the id).
        set_json_loads(_json_loads, self._conn)
        self._schema_check()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "MedusaSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _schema_check(self) -> None:
        rows = self._conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
            [list(REQUIRED_COLUMNS)],
        ).fetchall()
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["table_name"], set()).add(row["column_name"])
        missing = [
            f"{table}.{column}"
            for table, columns in REQUIRED_COLUMNS.items()
            for column in sorted(columns - found.get(table, set()))
        ]
        if missing:
            raise SourceError(
                "not a Medusa 2.x database (missing " + ", ".join(missing[:6]) + ")"
            )

    def counts(self) -> SourceCounts:
        row = self._conn.execute(COUNTS_SQL).fetchone()
        if row is None:  # an aggregate query always returns its one row
            raise SourceError("the counts query returned no row")
        return SourceCounts(**row)

    def identity_batches(self, batch_size: int) -> Iterator[list[Row]]:
        """Identities with their customer (`customer`, a dict or None) and
        their provider identities (`providers`), `batch_size` at a time."""
        for batch in self._batches(IDENTITIES_SQL, batch_size):
            providers: dict[str, list[Row]] = {row["id"]: [] for row in batch}
            for row in self._conn.execute(PROVIDERS_SQL, [list(providers)]):
                providers[row["auth_identity_id"]].append(row)
            for row in batch:
                row["providers"] = providers[row["id"]]
            yield batch

    def lone_customer_batches(self, batch_size: int) -> Iterator[list[Row]]:
        yield from self._batches(LONE_CUSTOMERS_SQL, batch_size)

    def address_batches(self, batch_size: int) -> Iterator[list[Row]]:
        """Addresses, `batch_size` at a time or a little more: a batch holds
        each of its customers' addresses whole, so one batch decides a
        customer's bound and defaults."""
        batch: list[Row] = []
        for rows in self._batches(ADDRESSES_SQL, batch_size):
            for row in rows:
                if (
                    len(batch) >= batch_size
                    and row["customer_id"] != batch[-1]["customer_id"]
                ):
                    yield batch
                    batch = []
                batch.append(row)
        if batch:
            yield batch

    def _batches(self, sql: str, batch_size: int) -> Iterator[list[Row]]:
        with self._conn.cursor(name="medusa_import") as cursor:
            cursor.itersize = batch_size
            cursor.execute(sql)
            while batch := cursor.fetchmany(batch_size):
                yield batch
