"""Shared fixtures. Tests run against the real PostgreSQL and Redis that
./dev test starts; live tests also reach its gunicorn, worker and beat."""

import logging
import os
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from django.core.management import call_command
from django.db import OperationalError
from rest_framework.test import APIClient

from tests.factories import PASSWORD


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    # ./dev test has migrated this throw-away database, and the live server
    # uses the same one, so tests see each other's rows: no test_ copy.
    with django_db_blocker.unblock():
        call_command("migrate", verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def _flush_retried_on_deadlock():
    """The flush after a live test truncates every table while the live
    worker or beat may be mid-transaction (beat's hourly jobs follow the wall
    clock). PostgreSQL may then abort the TRUNCATE as a deadlock victim, with
    nothing changed: try again, as any client of a deadlock should."""
    from django.db.backends.postgresql.operations import DatabaseOperations
    from psycopg.errors import DeadlockDetected

    flush = DatabaseOperations.execute_sql_flush

    def flush_retrying(self, sql_list):
        for attempt in range(5):
            try:
                flush(self, sql_list)
                return
            except OperationalError as error:
                if attempt == 4 or not isinstance(error.__cause__, DeadlockDetected):
                    raise
                time.sleep(0.2)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", flush_retrying)
        yield


class _LogCollector(logging.Handler):
    """Every log line the test process writes, formatted as in production
    (JSON with the extras), for tests/security/test_logs.py to scan."""

    lines: list[str] = []

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        from pythonjsonlogger.json import JsonFormatter

        self.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001
            self.lines.append(record.getMessage())


@pytest.fixture(scope="session", autouse=True)
def _collect_logs():
    handler = _LogCollector()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def pytest_collection_modifyitems(items):
    """The log scan runs after every other test, to see all they logged."""
    scans = [item for item in items if "test_logs.py" in item.nodeid]
    for item in scans:
        items.remove(item)
        items.append(item)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch):
    """Every test starts with empty request limits (all tests share one IP),
    counted in-process on a stopped clock: the fixed windows cannot roll
    over between a test's requests."""
    from django.core.cache import cache

    from core import ratelimit

    stopped = time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: stopped))
    client = cache._cache.get_client()
    keys = list(client.scan_iter(match="*ratelimit:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def broker_down():
    """Publish for real (not eagerly) to a port where no broker listens."""
    from config.celery import app

    def reset_pools() -> None:
        # Celery keeps its producer pool; drop it so the new URL is used.
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    reset_pools()
    yield
    app.conf.task_always_eager, app.conf.broker_url = saved
    reset_pools()


@pytest.fixture
def publishable_key(db):
    from accounts.models import PublishableApiKey

    token = f"pk_{uuid.uuid4().hex}"
    PublishableApiKey.objects.create(token=token, title="tests")
    return token


@pytest.fixture
def api(publishable_key):
    """In-process client for /store/* and /auth/* with the publishable key."""
    return APIClient(HTTP_X_PUBLISHABLE_API_KEY=publishable_key)


@pytest.fixture
def email():
    return f"shopper.{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def password():
    return PASSWORD


class LiveServer:
    def __init__(self, base_url: str, publishable_key: str):
        self.url = base_url.rstrip("/")
        self.publishable_key = publishable_key
        self.session = requests.Session()

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if path.startswith("/store/"):
            headers.setdefault("x-publishable-api-key", self.publishable_key)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(
            method, self.url + path, headers=headers, timeout=30, **kwargs
        )

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)


@pytest.fixture
def live_server_url():
    url = os.environ.get("LIVE_SERVER_URL")
    if not url:
        pytest.fail("LIVE_SERVER_URL is not set: run the suite with ./dev test")
    return url


@pytest.fixture
def live(transactional_db, live_server_url):
    """HTTP client for the gunicorn started by ./dev test. Rows are committed
    (transactional_db), so the server sees them; tables are flushed after."""
    from accounts.models import PublishableApiKey

    token = f"pk_{uuid.uuid4().hex}"
    PublishableApiKey.objects.create(token=token, title="live tests")
    return LiveServer(live_server_url, token)


@pytest.fixture
def mail_dir():
    path = os.environ.get("MAIL_DIR")
    if not path:
        pytest.fail("MAIL_DIR is not set: run the suite with ./dev test")
    return path
