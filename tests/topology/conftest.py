"""The production topology of devstack/topology.py, started once for this
folder on the test stack's PostgreSQL and Redis: nginx (TLS), two web
nodes, PgBouncer in transaction pooling, two Celery workers and one beat.

It has a Redis database of its own (broker and request limits: its
workers, not the test stack's, run its tasks; its limits start empty), a
mail directory of its own, LOGIN_LIMIT_PER_IP=3 so a test can reach
the per-client limit (and no limit on sign-ups and codes per client, which
the fault test's load would reach), and a broker visibility timeout of
VISIBILITY_TIMEOUT seconds. Rows it writes are flushed after each test, as live
tests' are."""

import os
import shutil
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from devstack.postgres import throwaway_root
from devstack.stack import Children
from devstack.topology import NAMES, Topology, nginx_bin, pgbouncer_bin
from devstack.util import DevError, free_ports

LOGIN_LIMIT_PER_IP = 3
# Short, so a killed worker's message is back within seconds (the fault
# test waits for it), and long enough for what the faults cause: retries
# wait up to half of it (10 s: the 5 s and 10 s retries of a mail that met
# the PgBouncer restart), which leaves 10 s for a due message to get a pool
# process and run before the broker would hand it out again. With 10 s, a
# retry could wait 5 s only, with 5 s to spare behind a killed worker's
# backlog (the first CI duplicate, before mails were sent once per task id).
VISIBILITY_TIMEOUT = 20


def _tails(directory: Path) -> str:
    out = []
    for path in sorted(directory.glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()[-30:]
        out.append(f"----- {path.name} -----\n" + "\n".join(lines))
    return "\n".join(out)


@pytest.fixture(scope="package")
def topology():
    for binary in (nginx_bin(), pgbouncer_bin()):
        if not Path(binary).exists():
            pytest.skip(f"{binary} is not installed (./dev test installs it)")
    if "TEST_PG_PORT" not in os.environ:
        pytest.fail("TEST_PG_PORT is not set: run the suite with ./dev test")
    stack_dir = Path(os.environ["TEST_STACK_DIR"])
    log_dir = stack_dir / "topology"
    mail_dir = log_dir / "mail"
    metrics = log_dir / "prometheus"
    for directory in (log_dir, mail_dir, metrics):
        directory.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "TEST_", "LIVE_SERVER"))
    }
    redis_url = f"redis://127.0.0.1:{os.environ['TEST_REDIS_PORT']}/1"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        REDIS_URL=redis_url,
        EMAIL_URL=f"filemail://{mail_dir}",
        PROMETHEUS_MULTIPROC_DIR=str(metrics),
        LOGIN_LIMIT_PER_IP=str(LOGIN_LIMIT_PER_IP),
        # The fault test's load comes from one address (127.0.0.1).
        SIGNUP_LIMIT_PER_IP="100000",
        OTP_SEND_LIMIT_PER_IP="100000",
        OTP_VERIFY_LIMIT_PER_IP="100000",
        # A killed worker's message is back in the queue within seconds,
        # not an hour (test_faults.py; docs/deploy.md, "Faults").
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
    )
    env.pop("CELERY_BROKER_URL", None)
    user = os.environ["TEST_PG_USER"]
    (port,) = free_ports(1)
    prod = Topology(
        env,
        pg_port=int(os.environ["TEST_PG_PORT"]),
        user=user,
        root=throwaway_root(user),
        log_dir=log_dir,
        port=port,
        kind="test",
    )
    children = Children(log_dir)
    try:
        processes = prod.prepare()
        prod.start_pgbouncer(log_dir / "pgbouncer.log")
        for process in processes:
            children.start(
                process.name, process.argv, process.env, log_dir / f"{process.name}.log"
            )
        prod.wait_ready(lambda: children.check_alive(*NAMES))
    except DevError as error:
        tails = _tails(log_dir) + "\n" + _tails(prod.root)
        children.stop(*NAMES)
        prod.stop_pgbouncer()
        shutil.rmtree(prod.root, ignore_errors=True)
        pytest.fail(f"the topology did not start: {error}\n{tails}")
    yield SimpleNamespace(
        prod=prod,
        children=children,
        processes={process.name: process for process in processes},
        url=prod.url,
        cert=str(prod.cert),
        mail_dir=str(mail_dir),
        log_dir=log_dir,
        access_log=prod.root / "nginx-access.log",
        broker=redis.Redis.from_url(redis_url, socket_timeout=2),
    )
    children.stop(*NAMES)
    prod.stop_pgbouncer()
    shutil.rmtree(prod.root, ignore_errors=True)


@pytest.fixture
def through(topology, transactional_db):
    """A client of the topology. Its rows are committed (the servers see
    them) and flushed after the test, once its workers and the test
    stack's are idle (tests/conftest.py, _before_flush)."""
    from accounts.models import PublishableApiKey
    from tests.conftest import LiveServer, _before_flush

    token = f"pk_{uuid.uuid4().hex}"
    PublishableApiKey.objects.create(token=token, title="topology tests")
    client = LiveServer(topology.url, token)
    client.session.verify = topology.cert  # TLS, the certificate pinned
    client.session.trust_env = False  # no REQUESTS_CA_BUNDLE, no proxy
    yield client
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        queued = sum(
            topology.broker.llen(key)
            for key in topology.broker.scan_iter(match="celery*", _type="list")
        )
        if not queued and not topology.broker.hlen("unacked"):
            break
        time.sleep(0.05)
    _before_flush()
