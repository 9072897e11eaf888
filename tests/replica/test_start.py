"""At the worker's start: the shape check, said once and clearly."""

import logging

import psycopg

from replica.tasks import medusa_check_at_start


def test_the_worker_says_the_replica_is_ready(db, replica, caplog, settings):
    settings.MEDUSA_DATABASE_URL = replica.url
    with caplog.at_level(logging.INFO, logger="replica"):
        medusa_check_at_start()

    assert "replica_ready" in caplog.text


def test_wrong_tables_refuse_the_replica_by_name(db, medusa_url, caplog, settings):
    settings.MEDUSA_DATABASE_URL = medusa_url
    with psycopg.connect(medusa_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE customer ALTER COLUMN has_account TYPE text")
        try:
            with caplog.at_level(logging.INFO, logger="replica"):
                medusa_check_at_start()
        finally:
            conn.execute(
                "ALTER TABLE customer ALTER COLUMN has_account TYPE boolean "
                "USING has_account::boolean"
            )

    refused = [r for r in caplog.records if r.getMessage() == "replica_refused"]
    assert len(refused) == 1
    assert refused[0].levelno == logging.CRITICAL
    assert "customer.has_account is text, expected boolean" in refused[0].error


def test_an_unreachable_medusa_is_a_warning(db, caplog, settings):
    settings.MEDUSA_DATABASE_URL = "postgres://nobody@127.0.0.1:1/medusa"
    with caplog.at_level(logging.INFO, logger="replica"):
        medusa_check_at_start()

    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == "replica_medusa_unavailable"
    assert "host=127.0.0.1 port=1" in warning.error
