"""A Medusa database (Medusa 2.21's customer tables, tests/imports/
medusa_schema.sql) next to ours, for the replica to write into."""

import uuid

import psycopg
import pytest
from psycopg.rows import dict_row

from bench.medusa_import import SCHEMA_SQL, database_create, database_drop
from replica.medusa import MedusaReplica


@pytest.fixture(scope="session")
def medusa_url(django_db_blocker):
    with django_db_blocker.unblock():
        url = database_create(f"medusa_replica_{uuid.uuid4().hex[:8]}")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA_SQL.read_text())
        yield url
        database_drop(url)


@pytest.fixture
def medusa_db(medusa_url):
    """Medusa's side, read from outside; emptied after each test."""
    with psycopg.connect(medusa_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn
        conn.execute("TRUNCATE customer, customer_address")


@pytest.fixture
def replica(medusa_url, settings):
    settings.MEDUSA_DATABASE_URL = medusa_url
    writer = MedusaReplica(medusa_url)
    yield writer
    writer.close()


@pytest.fixture(autouse=True)
def _no_drain_queued():
    """Each test queues its own drain: the key a drain left behind (or the
    live stack's, in the same Redis) would make a kick here a no-op."""
    from replica.queued import DRAIN

    DRAIN.forget()
