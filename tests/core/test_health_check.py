"""The database health check (core/postgresql/base.py): a kept connection is
checked before each request without a statement (after an error, with
Django's `SELECT 1`), and one the server ended is replaced before the
request uses it. In a process of its own: Django's
test client and pytest-django's transactions both step around the check."""

from tests.settings_process import django_process

REQUESTS = """
import os, time
import django; django.setup()
import psycopg
from django.db import close_old_connections, connection

def request(sql):
    close_old_connections()  # request_started: the last request is over
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]

observer = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
def last_statement(pid):
    row = observer.execute(
        "SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]
    ).fetchone()
    return row[0] if row else None

pid = request("SELECT pg_backend_pid()")
request("SELECT 'the first request'")
print(request("SELECT pg_backend_pid()") == pid)
request("SELECT 'the last statement'")
close_old_connections()
connection.close_if_health_check_failed()  # the next request's check
print(last_statement(pid))
connection.errors_occurred = True  # after an error: Django's own check
print(connection.is_usable(), last_statement(pid))
connection.errors_occurred = False

observer.execute("SELECT pg_terminate_backend(%s)", [pid])
deadline = time.monotonic() + 10
while last_statement(pid) is not None and time.monotonic() < deadline:
    time.sleep(0.01)
replaced = request("SELECT pg_backend_pid()")
print(replaced != pid)
"""


def test_a_kept_connection_is_checked_without_a_statement_and_replaced_once_ended():
    proc = django_process({"DB_HEALTH_CHECKS": "1", "DB_CONN_MAX_AGE": "60"}, REQUESTS)

    assert proc.returncode == 0, proc.stderr
    kept, last_statement, after_an_error, replaced = proc.stdout.splitlines()
    assert kept == "True"  # one connection served the requests
    # Django's own check would have sent `SELECT 1`.
    assert last_statement == "SELECT 'the last statement'"
    assert after_an_error == "True SELECT 1"
    assert replaced == "True"  # no error: a new connection served it
