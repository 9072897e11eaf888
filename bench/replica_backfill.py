"""The replica's backfill: `medusa_sync --backfill` of N customers (the
loader's, bench/load_data.py, no orphans), each with one address and every
second one with two, into an empty Medusa 2.21 database
(tests/imports/medusa_schema.sql); then `medusa_sync --verify` of the
same, both sides equal: what the daily verify costs with nothing to repair.

Each runs as its own process, as an operator runs it: wall seconds and its
peak memory (the same at 10^4 and 10^5 customers means it streams).

    python -m bench.replica_backfill --sizes 100000
"""

import psycopg

from bench import load_data
from bench.common import load_note, manage_timed, say, sizes_main, table
from bench.medusa_import import SCHEMA_SQL, database_create, database_drop

TARGET_SECONDS = 60  # for 10^5 customers (docs/performance.md, Targets)
# The printed table: header -> key of a run.
COLUMNS = {
    "customers": "customers",
    "addresses": "addresses",
    "backfill s": "backfill_s",
    "customers/s": "customers_per_s",
    "peak RSS MiB": "backfill_peak_rss_mib",
    "verify s (clean)": "verify_s",
    "verify peak RSS MiB": "verify_peak_rss_mib",
}

# One address per loaded customer, a second for every other one; the first
# is the default shipping address, the second the default billing one.
ADDRESSES_SQL = f"""
INSERT INTO accounts_customeraddress
    (id, customer_id, address_name, is_default_shipping, is_default_billing,
     company, first_name, last_name, address_1, address_2, city, country_code,
     province, postal_code, phone, metadata, created_at, updated_at, deleted_at)
SELECT 'cuaddr_{load_data.ID_TAG}' || k || substr(c.id, 12), c.id,
       CASE k WHEN 1 THEN 'Home' ELSE 'Work' END, k = 1, k = 2, NULL,
       c.first_name, c.last_name, k || ' Bench Street', NULL, 'Oslo', 'no',
       NULL, '0150', NULL,
       CASE k WHEN 2 THEN '{{"floor": 3}}'::jsonb END,
       c.created_at, c.updated_at, NULL
FROM accounts_customer c
CROSS JOIN generate_series(1, 2) AS k
WHERE c.id LIKE 'cus_{load_data.ID_TAG}%'
  AND (k = 1 OR right(c.id, 1)::int % 2 = 0)
"""  # noqa: S608  (constants, no input)


def shop_load(n: int) -> int:
    """N customers with their addresses here, an empty outbox; the number
    of addresses."""
    from django.db import connection, transaction

    load_data.ensure(n, orphan_share=0.0)
    with transaction.atomic(), connection.cursor() as cursor:
        # The loader's customers are Medusa's already in this story: no
        # change to record for them (the importer does the same).
        cursor.execute("SET LOCAL storefront.replica = 'off'")
        cursor.execute("DELETE FROM accounts_customeraddress")
        cursor.execute(ADDRESSES_SQL)
        addresses = cursor.rowcount
        cursor.execute("TRUNCATE replica_change, replica_synccursor")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) accounts_customeraddress")
        cursor.execute("CHECKPOINT")
    return addresses


def medusa_create(n: int) -> str:
    url = database_create(f"bench_replica_{n}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text())
    return url


def medusa_rows(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        customers = conn.execute("SELECT count(*) FROM customer").fetchone()[0]
        addresses = conn.execute("SELECT count(*) FROM customer_address").fetchone()[0]
    return customers, addresses


def run(*, sizes: list[int]) -> dict:
    results = []
    for n in sizes:
        addresses = shop_load(n)
        url = medusa_create(n)
        try:
            load = load_note()
            backfill = manage_timed(
                "medusa_sync", "--backfill", "--restart", "--database-url", url
            )
            customers_there, addresses_there = medusa_rows(url)
            verify = manage_timed("medusa_sync", "--verify", "--database-url", url)
        finally:
            database_drop(url)
        if (customers_there, addresses_there) != (n, addresses):
            raise RuntimeError(
                f"Medusa holds {customers_there} customers and {addresses_there} "
                f"addresses, expected {n} and {addresses}"
            )
        results.append({
            "customers": n,
            "addresses": addresses,
            "backfill_s": backfill["seconds"],
            "customers_per_s": round(n / backfill["seconds"]),
            "backfill_peak_rss_mib": backfill["peak_rss_mib"],
            "verify_s": verify["seconds"],
            "verify_peak_rss_mib": verify["peak_rss_mib"],
            "load_before": load,
            "backfill_output": backfill["output"],
            "verify_output": verify["output"],
        })  # fmt: skip
    say(table(list(COLUMNS), [[r[key] for key in COLUMNS.values()] for r in results]))
    return {"runs": results}


if __name__ == "__main__":
    sizes_main(__doc__, name="replica-backfill", run=run, default_sizes="100000")
