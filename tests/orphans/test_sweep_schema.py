"""What the sweep's speed rests on in the schema (docs/performance.md): the
foreign keys to the rows it deletes cascade in the database, and no
varchar_pattern_ops (`_like`) index taxes the writes. A later migration that
alters one of these fields re-creates Django's defaults; this notices."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

CASCADING = [
    ("accounts_provideridentity", "auth_identity_id"),
    ("accounts_passwordresettoken", "provider_identity_id"),
    ("orphans_orphanhold", "auth_identity_id"),
    # The sweep deletes no session itself: the cascade is its only way.
    ("accounts_loginsession", "auth_identity_id"),
]


@pytest.mark.parametrize(("table", "column"), CASCADING)
def test_foreign_keys_to_swept_rows_cascade_in_the_database(table, column):
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.confdeltype, c.condeferrable, c.condeferred, c.convalidated
            FROM pg_constraint c
            JOIN pg_attribute a
              ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
            WHERE c.contype = 'f' AND c.conrelid = %s::regclass
              AND a.attname = %s""",
            [table, column],
        )
        rows = cursor.fetchall()

    assert rows == [("c", True, True, True)]


def test_no_pattern_ops_indexes_on_the_apps_tables():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT indexname FROM pg_indexes
            WHERE schemaname = current_schema()
              AND indexdef LIKE '%%varchar_pattern_ops%%'
              AND (tablename LIKE 'accounts\\_%%' OR tablename LIKE 'otp\\_%%'
                   OR tablename LIKE 'orphans\\_%%')"""
        )
        found = [row[0] for row in cursor.fetchall()]

    assert found == []


def test_an_audit_row_costs_three_index_entries_and_no_key_check():
    """The sweep writes an audit row per orphan: a foreign-key check per row
    cost 15 % of its PostgreSQL CPU, a surrogate key and an index of empty
    staff ids another tenth. Keyed by the identity id; the run and the staff
    user are plain ids, the staff user indexed only where set."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM pg_constraint
            WHERE contype = 'f'
              AND conrelid = 'orphans_orphandeletion'::regclass"""
        )
        foreign_keys = cursor.fetchone()[0]
        cursor.execute(
            """SELECT regexp_replace(indexdef, '^.* USING btree ', '')
            FROM pg_indexes WHERE tablename = 'orphans_orphandeletion'
            ORDER BY 1"""
        )
        indexes = [row[0] for row in cursor.fetchall()]

    assert foreign_keys == 0
    assert indexes == [
        "(auth_identity_id)",
        "(deleted_at)",
        "(staff_user_id) WHERE (staff_user_id IS NOT NULL)",
        "(sweep_run_id)",
    ]
