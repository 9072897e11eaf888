"""No plain one-time code, reset token or email in Redis: the mail tasks
cross the broker sealed (core/seal.py).

The live tests hold the stack's worker off its queue while the web server
queues the mails, then search every key and value of every Redis database,
and every command any client sent Redis until the mails were delivered and
used (MONITOR: the queue, the worker's `unacked` hash, requeues), with the
base64 layers of Celery's messages opened.
"""

import base64
import binascii
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from core.emails import email_hash
from tests.factories import customer_create
from tests.mailbox import delivered_text, texts_by_recipient
from tests.waiting import wait_for

SEND = "/store/auth/otp/send"
VERIFY = "/store/auth/otp/verify"
RESET = "/auth/customer/emailpass/reset-password"
UPDATE = "/auth/customer/emailpass/update"
QUEUE = "celery"  # the queue the stack's worker consumes
NEW_PASSWORD = "a brand new passphrase"
DROPPED = "Task arguments could not be opened; message dropped"


# ------------------------------------------------------------ Redis


def redis_port() -> str:
    port = os.environ.get("TEST_REDIS_PORT")
    if not port:
        pytest.fail("TEST_REDIS_PORT is not set: run the suite with ./dev test")
    return port


def redis_client(db: int = 0) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=int(redis_port()), db=db)


def redis_contents() -> list[bytes]:
    """Every key and every value in every database of the stack's Redis."""
    found: list[bytes] = []
    config = redis_client().config_get("databases")  # {"databases": "16"}
    databases = int(config["databases"])
    for db in range(databases):
        client = redis_client(db)
        for key in client.scan_iter(count=1000):
            found.append(key)
            kind = client.type(key)
            if kind == b"string":
                found.append(client.get(key) or b"")
            elif kind == b"list":
                found += client.lrange(key, 0, -1)
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    found += [field, value]
            elif kind == b"set":
                found += client.smembers(key)
            elif kind == b"zset":
                found += client.zrange(key, 0, -1)
            elif kind == b"stream":
                for _, fields in client.xrange(key):
                    for field, value in fields.items():
                        found += [field, value]
            elif kind != b"none":  # b"none": removed since the scan saw it
                found.append(client.dump(key) or b"")
    return found


MONITOR_PREFIX = re.compile(rb"^\d+\.\d+ \[[^]]*\] ")


@contextmanager
def redis_monitor():
    """Every command any client sends Redis inside the block (MONITOR), in
    the list it yields once the block has ended."""
    seen: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "monitor")
        with path.open("ab") as out:
            monitor = subprocess.Popen(  # noqa: S603
                ["redis-cli", "-h", "127.0.0.1", "-p", redis_port(), "monitor"],  # noqa: S607
                stdout=out,
                stderr=subprocess.DEVNULL,
            )

        def wait_for_marker(marker: str) -> None:
            deadline = time.monotonic() + 10
            while True:
                redis_client().echo(marker)
                if marker.encode() in path.read_bytes():
                    return
                assert time.monotonic() < deadline, "MONITOR shows nothing"
                time.sleep(0.1)

        try:
            wait_for_marker(f"monitor-start-{uuid.uuid4().hex}")
            yield seen
            wait_for_marker(f"monitor-end-{uuid.uuid4().hex}")
        finally:
            monitor.terminate()
            monitor.wait(timeout=10)
        # The line's clock prefix has a 6-digit fraction: not part of what
        # was sent.
        lines = path.read_bytes().splitlines()
        seen += [MONITOR_PREFIX.sub(b"", line) for line in lines]


@contextmanager
def worker_not_consuming():
    """The live worker stays up but takes nothing from its queue inside the
    block (Celery's remote control); it consumes again after it."""
    from config.celery import app

    stopped = app.control.cancel_consumer(QUEUE, reply=True, timeout=10)
    assert stopped, "the live worker did not answer"
    try:
        # A fetch in flight at the cancel (it blocks for 1 s) ends, and
        # what it took goes back to the queue.
        time.sleep(2)
        yield
    finally:
        resumed = app.control.add_consumer(QUEUE, reply=True, timeout=10)
        assert resumed, "the live worker did not answer"


def queued_messages() -> list[bytes]:
    return redis_client().lrange(QUEUE, 0, -1)


# ------------------------------------------------------------ searching

BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")


def readable_forms(blob: bytes, depth: int = 3) -> Iterator[bytes]:
    """`blob`, and what its base64 runs decode to, down to `depth` layers
    (a Celery message's body is base64 JSON inside the message's JSON)."""
    yield blob
    if depth == 0:
        return
    for run in BASE64_RUN.findall(blob):
        padded = run + b"=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(padded)
            except (binascii.Error, ValueError):
                continue
            yield from readable_forms(decoded, depth - 1)


def found_in(blobs: Iterable[bytes], needles: dict[str, re.Pattern]) -> list[str]:
    return sorted(
        {
            f"{name} in {blob[:120]!r}"
            for blob in blobs
            for form in readable_forms(blob)
            for name, needle in needles.items()
            if needle.search(form)
        }
    )


def plain(text: str) -> re.Pattern:
    return re.compile(re.escape(text.encode()), re.IGNORECASE)


def digits(code: str) -> re.Pattern:
    return re.compile(rb"(?<!\d)" + code.encode() + rb"(?!\d)")


def test_the_search_finds_a_secret_in_a_celery_message():
    body = base64.b64encode(b'[[], {"email": "a.b@example.com", "code": "123456"}]')
    message = b'{"body": "' + body + b'", "content-type": "application/json"}'
    monitor_line = b'"LPUSH" "celery" "{\\"body\\": \\"' + body + b'\\"}"'

    for blob in (message, monitor_line):
        assert found_in([blob], {"code": digits("123456")}) == [
            f"code in {blob[:120]!r}"
        ]
        assert found_in([blob], {"email": plain("a.b@example.com")})
    assert not found_in([message], {"code": digits("23456")})


# ------------------------------------------------------------ live


CHANGED_AT = "2026-12-06T10:00:00+00:00"


def reset_token_in(text: str) -> str:
    return re.search(r"token=([\w.\-]+)", text).group(1)


def test_queued_codes_and_emails_are_sealed_in_redis(live, email, mail_dir):
    customer_create(email=email)  # the reset mails an existing account only
    otp_email = f"otp.{email}"
    # The reset's message carries the address's keyed hash in its kwargsrepr
    # (what the worker logs): it is found by it. The code's mail is a sealed
    # row in PostgreSQL (otp/mail.py): only a drain's message, with no
    # argument, crosses Redis.
    hashes = {email_hash(email).encode()}

    with redis_monitor() as commands:
        with worker_not_consuming():
            sent = live.post(SEND, json={"email": otp_email})
            reset = live.post(RESET, json={"identifier": email})
            assert sent.json() == {"success": True, "expiresIn": 600}
            assert (reset.status_code, reset.text) == (201, "Created")
            wait_for(
                "the reset's message in the queue",
                lambda: all(
                    any(h in message for message in queued_messages()) for h in hashes
                ),
            )
            stored = redis_contents()
            assert not texts_by_recipient(mail_dir).keys() & {otp_email, email}

        # The worker consumes again: both mails arrive and work.
        code = re.search(
            r"code is (\d+)",
            delivered_text(mail_dir, to=otp_email, subject="sign-in code"),
        ).group(1)
        token = reset_token_in(
            delivered_text(mail_dir, to=email, subject="Reset your password")
        )
        verified = live.post(VERIFY, json={"email": otp_email, "code": code})
        assert verified.status_code == 200, verified.text
        updated = live.post(UPDATE, token=token, json={"password": NEW_PASSWORD})
        assert updated.json() == {"success": True}

    secrets = {
        "code": digits(code),
        "otp email": plain(otp_email),
        "reset email": plain(email),
        "email's local part": plain(email.split("@")[0]),
        "reset token": plain(token),
    }
    # The search saw the queued messages, and later the worker taking them
    # (the `unacked` hash of late acknowledgement)...
    assert all(any(h in blob for blob in stored) for h in hashes)
    assert all(any(b"unacked" in c and h in c for c in commands) for h in hashes)
    # ...and nothing in Redis, at rest or in transit, holds a secret.
    assert not found_in(stored, secrets)
    assert not found_in(commands, secrets)


class LogTail:
    def __init__(self, name: str):
        log_dir = os.environ.get("TEST_LOG_DIR")
        if not log_dir:
            pytest.fail("TEST_LOG_DIR is not set: run the suite with ./dev test")
        self.path = Path(log_dir, name)
        self.offset = self.path.stat().st_size

    def new(self) -> str:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")


@pytest.fixture
def real_broker():
    """Publish from this process to the stack's Redis (not eagerly)."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = saved


def test_a_message_whose_seal_cannot_be_opened_is_dropped_once_and_logged(
    email, mail_dir, settings, real_broker
):
    from accounts.tasks import email_changed_email_send_task as task
    from core.seal import seal
    from core.tasks import SEALED, publish

    foreign, altered, control = (f"{kind}.{email}" for kind in ("a", "b", "c"))
    worker_log = LogTail("worker.log")

    def arguments(address: str, token: str) -> dict[str, str]:
        return {"email": address, "changed_at": CHANGED_AT, "token": token}

    def send(address: str, token: str) -> None:
        publish(
            task,
            kwargs=arguments(address, token),
            kwargsrepr={"email": email_hash(address), "token": "******"},
            expires=600,
        )

    # Sealed with a key the worker does not have (rotated away).
    keys = settings.TASK_SEAL_KEYS
    settings.TASK_SEAL_KEYS = [f"a key the worker never had {uuid.uuid4().hex}"]
    send(foreign, "314159")
    settings.TASK_SEAL_KEYS = keys
    # Sealed with the worker's key, then altered in transit.
    sealed = seal(
        task=task.name,
        kwargs=arguments(altered, "271828"),
        expires_at=time.time() + 600,
    )
    middle = len(sealed) // 2
    altered_seal = (
        sealed[:middle] + ("B" if sealed[middle] == "A" else "A") + sealed[middle + 1 :]
    )
    altered_task = task.apply_async(
        kwargs={SEALED: altered_seal},
        kwargsrepr=repr({"email": email_hash(altered), "token": "******"}),
        expires=600,
    )
    send(control, "161803")

    delivered_text(mail_dir, to=control, subject="address was changed")
    wait_for("two drops logged", lambda: worker_log.new().count(DROPPED) == 2)
    time.sleep(3)  # a retry or a redelivery would log a third

    dropped = [line for line in worker_log.new().splitlines() if DROPPED in line]
    assert len(dropped) == 2, dropped
    assert sum(f" id={altered_task.id} " in line for line in dropped) == 1, dropped
    for line in dropped:
        assert f"task={task.name} " in line, line
        assert line.endswith("reason=invalid)"), line
        for secret in (foreign, altered, "314159", "271828"):
            assert secret not in line
    assert not texts_by_recipient(mail_dir).keys() & {foreign, altered}
    left = b"".join(redis_contents())
    for address in (foreign, altered):
        assert email_hash(address).encode() not in left, "the message was kept"


# ------------------------------------------------------------ in-process


def test_a_seal_opens_for_its_task_until_its_deadline():
    from core.seal import SealBroken, seal, unseal

    now = time.time()
    sealed = seal(task="t", kwargs={"email": "a@example.com"}, expires_at=now + 60)

    assert "a@example.com" not in sealed
    assert unseal(sealed, task="t", now=now + 60) == {"email": "a@example.com"}
    with pytest.raises(SealBroken, match="expired"):
        unseal(sealed, task="t", now=now + 60.001)
    with pytest.raises(SealBroken, match="another task"):
        unseal(sealed, task="other", now=now)


def test_keys_rotate_without_losing_sealed_messages(settings):
    from core.seal import SealBroken, seal, unseal

    settings.TASK_SEAL_KEYS = ["old secret " * 4]
    before = seal(task="t", kwargs={"n": 1}, expires_at=None)

    settings.TASK_SEAL_KEYS = ["new secret " * 4, "old secret " * 4]
    after = seal(task="t", kwargs={"n": 2}, expires_at=None)
    assert unseal(before, task="t") == {"n": 1}
    assert unseal(after, task="t") == {"n": 2}

    settings.TASK_SEAL_KEYS = ["new secret " * 4]
    assert unseal(after, task="t") == {"n": 2}
    with pytest.raises(SealBroken, match="invalid"):
        unseal(before, task="t")


def test_publish_refuses_masked_arguments_that_would_travel_unsealed():
    from accounts.tasks import email_changed_email_send_task
    from core.tasks import publish
    from orphans.tasks import orphans_sweep_task

    with pytest.raises(TypeError, match="SealedTask"):
        publish(
            email_changed_email_send_task,
            kwargs={"email": "a@example.com", "changed_at": "", "token": "1"},
        )
    with pytest.raises(TypeError, match="SealedTask"):
        publish(orphans_sweep_task, kwargs={}, kwargsrepr={})
