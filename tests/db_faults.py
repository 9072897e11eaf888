"""Real database failures for tests: a trigger that makes PostgreSQL itself
refuse a write (SQLSTATE P0001, 'injected failure')."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def refusing_trigger(
    *,
    table: str,
    event: str,
    when: str = "true",
    times: int | None = None,
    disconnect: bool = False,
):
    """Refuse `event` (e.g. "INSERT", "UPDATE OF customer_id") on `table`
    for the rows matching `when` (an expression over NEW), until exit; with
    `times`, only the first that many (a failure that passes: a sequence
    counts them, which a refused statement's rollback does not undo). With
    `disconnect`, the refusal is the connection's end, as a PgBouncer
    restart or a failover ends it (the backend terminates itself: the
    client gets an OperationalError)."""
    fail = (
        "PERFORM pg_terminate_backend(pg_backend_pid());"
        if disconnect
        else "RAISE EXCEPTION 'injected failure';"
    )
    refuse = (
        fail
        if times is None
        else f"""IF nextval('test_refusals') <= {times} THEN
                   {fail}
                 END IF;
                 IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                 RETURN NEW;"""
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE SEQUENCE test_refusals;
            CREATE FUNCTION test_refuse_row() RETURNS trigger AS $$
            BEGIN {refuse} END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_refuse_row BEFORE {event} ON {table}
            FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION test_refuse_row();
            """
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DROP TRIGGER test_refuse_row ON {table};"
                "DROP FUNCTION test_refuse_row(); DROP SEQUENCE test_refusals;"
            )
