"""Shared fixtures. Tests run against the real PostgreSQL and Redis that
./dev test starts (or plain pytest, through devstack.pytest_plugin); live
tests also reach its web server, worker and beat."""

import logging
import os
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from django.core.management import call_command

from tests.api_client import CommittingAPIClient
from tests.factories import PASSWORD


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    # ./dev test has migrated this throw-away database, and the live server
    # uses the same one, so tests see each other's rows: no test_ copy.
    with django_db_blocker.unblock():
        call_command("migrate", verbosity=0)


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
    return CommittingAPIClient(HTTP_X_PUBLISHABLE_API_KEY=publishable_key)


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


@pytest.fixture(scope="session")
def oidc():
    """The OpenID Connect provider that ./dev test starts, configured on
    the live stack (and in this process) as `google`
    (tests/e2e/oidc_provider.py)."""
    from tests.e2e.oidc_provider import oidc_provider_from_env

    return oidc_provider_from_env()


@pytest.fixture
def live_server_url():
    url = os.environ.get("LIVE_SERVER_URL")
    if not url:
        pytest.fail("LIVE_SERVER_URL is not set: run the suite with ./dev test")
    return url


@pytest.fixture
def live(transactional_db, live_server_url):
    """HTTP client for the web server started by ./dev test. Rows are committed
    (transactional_db), so the server sees them; tables are flushed after
    (TRUNCATE), once the live worker is done with this test's tasks."""
    from accounts.models import PublishableApiKey

    token = f"pk_{uuid.uuid4().hex}"
    PublishableApiKey.objects.create(token=token, title="live tests")
    yield LiveServer(live_server_url, token)
    _before_flush()


QUIET_WORKER_SECONDS = 10.0


def _before_flush() -> None:
    """Makes the flush after a live test safe beside the live worker and
    beat (docs/development.md, "The flush after live tests").

    1. Wait (at most QUIET_WORKER_SECONDS) until the broker holds no task:
       none queued, none delivered and unacknowledged. Tasks are acked late
       (CELERY_TASK_ACKS_LATE), so an empty `unacked` hash means no task of
       this test is still running its transaction, nor will commit rows
       into the next test. Beat's wall-clock jobs are disabled on the test
       stack (devstack.prepare); a test that enables one waits for it.
    2. Raise this session's deadlock_timeout above the servers' (1 s): if a
       background transaction still deadlocks with the TRUNCATE, the other
       side detects the deadlock first and is the one aborted; the flush
       goes on.
    """
    import redis
    from django.conf import settings
    from django.db import Error, connection

    try:
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
        deadline = time.monotonic() + QUIET_WORKER_SECONDS
        while time.monotonic() < deadline:
            queued = sum(
                broker.llen(key)
                for key in broker.scan_iter(match="celery*", _type="list")
            )
            if not queued and not broker.hlen("unacked"):
                break
            time.sleep(0.05)
    except redis.RedisError:
        pass  # a fault test left the broker down: nothing runs then
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '10s'")
    except Error:
        pass  # not a superuser (your own DATABASE_URL), or PostgreSQL is down


@pytest.fixture
def mail_dir():
    path = os.environ.get("MAIL_DIR")
    if not path:
        pytest.fail("MAIL_DIR is not set: run the suite with ./dev test")
    return path


@pytest.fixture(scope="session")
def github():
    """The GitHub stand-in that ./dev test starts, configured on the live
    stack (and in this process) as `github` (tests/e2e/github_provider.py)."""
    from tests.e2e.github_provider import github_from_env

    return github_from_env()


@pytest.fixture(scope="session")
def github_wrong_secret():
    """The same GitHub client as `github-wrong-secret`: a wrong secret."""
    from tests.e2e.github_provider import github_from_env

    return github_from_env(wrong_secret=True)


@pytest.fixture(scope="session")
def oidc_generic():
    """The same provider as the live stack's `acme-id`: any OpenID Connect
    provider, configured by its issuer URL alone."""
    from tests.e2e.oidc_provider import generic_provider_from_env

    return generic_provider_from_env()


@pytest.fixture(scope="session")
def oidc_apple():
    """The same provider as the live stack's `apple`: Sign in with Apple's
    form_post, signed client secret and first-login `user` field."""
    from tests.e2e.oidc_provider import apple_provider_from_env

    return apple_provider_from_env()
