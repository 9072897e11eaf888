"""A Medusa source database next to ours, on the same PostgreSQL server,
with Medusa 2.21's schema (medusa_schema.sql, generated from Medusa's own
migrations; tests/imports/medusa/ builds it from the migrations themselves
for the slow group)."""

import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from psycopg.conninfo import make_conninfo

from tests.imports.medusa_shop import MedusaShop

SCHEMA_SQL = Path(__file__).with_name("medusa_schema.sql")


def database_url(dbname: str) -> str:
    db = settings.DATABASES["default"]
    return make_conninfo(
        host=db["HOST"] or "", port=db["PORT"] or "", user=db["USER"],
        password=db["PASSWORD"] or "", dbname=dbname,
    )  # fmt: skip


@pytest.fixture(scope="session")
def medusa_database():
    """A throw-away database with Medusa's schema; its URL."""
    name = f"medusa_{uuid.uuid4().hex[:10]}"
    admin_url = database_url(settings.DATABASES["default"]["NAME"])
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text())
    yield url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def medusa(medusa_database):
    shop = MedusaShop(medusa_database)
    shop.execute("TRUNCATE provider_identity, auth_identity, customer CASCADE")
    yield shop
    shop.close()
