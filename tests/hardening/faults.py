"""What the fault tests share. Faults are injected into the real components
of the ./dev test stack (the PostgreSQL server stopped under load, Redis
stopped, a Celery pool process killed while it delivers mail); each test
checks the answers during the fault and the rows after it, and leaves every
service running (the stop is undone in a `finally`), as the tests after it
need. Here: the stack's processes (stopped and started through
tests/stack.py), the web log, the figures recorded in
var/artifacts/faults.json, and checks that nothing acknowledged was lost."""

import json
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db.models import F
from django.utils import timezone

from accounts.models import (
    AuthIdentity,
    Customer,
    ProviderIdentity,
)
from otp.services import otp_send
from tests.factories import identities_bulk_create
from tests.hardening.integrity import rows_missing_their_parts
from tests.mailbox import texts_by_recipient
from tests.otp.conftest import mailed_code
from tests.stack import ACTIONS as STACK_ACTIONS

NEW_PASSWORD = "a brand new passphrase"


UNAVAILABLE = 503


# connect_timeout is 5 s (DB) and 2 s (broker); an answer slower than this
# during a fault is a hang.
SLOWEST_ANSWER = 8.0


JSON = {"Accept": "application/json"}


def stack_path(*parts: str) -> Path:
    stack = os.environ.get("TEST_STACK_DIR")
    if not stack:
        pytest.fail("TEST_STACK_DIR is not set: run the suite with ./dev test")
    return Path(stack, *parts)


def stack_script(name: str) -> None:
    """{pg,redis}-{stop,start} (tests/stack.py): each waits until done."""
    STACK_ACTIONS[name]()


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stack_pid(name: str) -> int:
    return int(stack_path(f"{name}.pid").read_text().split()[0])


def pool_children() -> list[int]:
    found = subprocess.run(  # noqa: S603
        ["pgrep", "-P", str(stack_pid("worker"))],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return [int(pid) for pid in found.stdout.split()]


def processes_alive() -> None:
    for name in ("web", "worker", "beat", "redis"):
        assert pid_alive(stack_pid(name)), f"{name} is not running"


@contextmanager
def stopped(service: str):
    """`service` (pg or redis) is down inside the block, up again after
    (also when the stop itself failed half-way)."""
    try:
        stack_script(f"{service}-stop")
        yield
    finally:
        stack_script(f"{service}-start")


class LogTail:
    """What a service log gained since this object was made."""

    def __init__(self, name: str):
        self.path = stack_path("logs", name)
        self.offset = self.path.stat().st_size

    def new(self) -> str:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")


ARTIFACT = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "faults.json"


# The web server's access line (devstack/stack.py, web_argv's format).
ACCESS_LINE = re.compile(r'^\S+ - \[[^]]+\] "[A-Z]+ [^"]*" (\d{3}) ', re.MULTILINE)


def figures_record(test: str, web_log: "LogTail", **figures) -> None:
    """What the web server answered during the test (its access log) and
    what the test checked, into var/artifacts/faults.json (one key a test)."""
    statuses = Counter(ACCESS_LINE.findall(web_log.new()))
    assert statuses, "no access line read: has the web server's format changed?"
    figures = {
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "5xx": sum(n for status, n in statuses.items() if status.startswith("5")),
        "500": statuses.get("500", 0),
        **figures,
    }
    recorded = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    recorded[test] = figures
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    print(f"\n{test}: {json.dumps(figures)}")  # noqa: T201


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < SLOWEST_ANSWER, f"{args}: answered after {elapsed:.1f} s"
    return response


def assert_unavailable(response) -> None:
    assert response.status_code == UNAVAILABLE, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["type"] == "unavailable", response.text


def mail_wait(mail_dir: str, recipients: set[str], timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        texts = texts_by_recipient(mail_dir)
        missing = recipients - texts.keys()
        if not missing or time.monotonic() > deadline:
            return texts, missing
        time.sleep(0.3)


def code_for(email: str) -> str:
    """A challenge opened in this process (its mail task runs eagerly)."""
    otp_send(email=email, ip="198.51.100.7", now=timezone.now())
    return mailed_code(email)


def reset_token_in(text: str) -> str:
    return re.search(r"token=([\w.\-]+)", text).group(1)


def worker_delivers(live, mail_dir: str) -> None:
    """The worker runs a queued task (reading PostgreSQL, writing mail): a
    reset for an existing account arrives and its link works."""
    prefix = f"recovered.{uuid.uuid4().hex[:10]}"
    identities_bulk_create(1, prefix=prefix)
    email = f"{prefix}.0@example.com"  # the factory's naming
    reset = live.post(
        "/auth/customer/emailpass/reset-password", json={"identifier": email}
    )
    assert (reset.status_code, reset.text) == (201, "Created")
    texts, missing = mail_wait(mail_dir, {email})
    assert not missing, "the worker did not deliver the reset mail within 60 s"
    updated = live.post(
        "/auth/customer/emailpass/update",
        token=reset_token_in(texts[email][-1]),
        json={"password": NEW_PASSWORD},
    )
    assert updated.json() == {"success": True}


def no_partial_rows() -> dict[str, int]:
    """Whole tables: every customer has its identity, every identity has a
    provider identity, every customer's email is its identity's."""
    mismatched = (
        Customer.objects.filter(has_account=True)
        .exclude(auth_identity__provider_identities__entity_id=F("email"))
        .count()
    )
    assert (*rows_missing_their_parts(), mismatched) == (0, 0, 0)
    return {
        "customers": Customer.objects.count(),
        "auth_identities": AuthIdentity.objects.count(),
        "provider_identities": ProviderIdentity.objects.count(),
    }
