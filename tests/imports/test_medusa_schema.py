"""medusa_schema.sql (the fast suite's Medusa) is what Medusa 2.21's own
migrations create: same columns, indexes and constraints."""

import psycopg
import pytest

from bench.medusa_import import database_drop
from tests.imports.conftest import medusa_database_create

TABLES = ["customer", "customer_address", "auth_identity", "provider_identity"]

CATALOG_SQL = """
SELECT 'column', table_name, column_name,
       concat_ws(' ', data_type, is_nullable, column_default)
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = ANY(%(tables)s)
UNION ALL
SELECT 'index', tablename, indexname, indexdef
FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%(tables)s)
UNION ALL
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE conrelid::regclass::text = ANY(%(tables)s)
ORDER BY 1, 2, 3
"""


def catalog(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(CATALOG_SQL, {"tables": TABLES}).fetchall()


@pytest.mark.slow
def test_the_ddl_matches_what_medusas_migrations_create():
    urls = [medusa_database_create(kind) for kind in ("ddl", "migrations")]
    try:
        from_ddl, from_migrations = (catalog(url) for url in urls)
    finally:
        for url in urls:
            database_drop(url)
    assert len(from_migrations) > 30
    assert from_ddl == from_migrations
