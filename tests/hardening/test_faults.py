"""Faults injected into the real components of the ./dev test stack: the
PostgreSQL server stopped under load, Redis (cache and broker) stopped, a
Celery pool process killed while it delivers mail. Each test checks the
answers during the fault and the rows after it, and leaves every service
running (the stop is undone in a `finally`), as the tests after it need.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone
from psycopg import sql

from accounts.models import (
    AuthIdentity,
    Customer,
    PasswordResetToken,
    Provider,
    ProviderIdentity,
)
from accounts.tokens import reset_token_decode
from otp.models import OtpChallenge
from otp.services import otp_send
from tests.factories import PASSWORD, customer_create, identities_bulk_create, token_for
from tests.hardening.integrity import rows_missing_their_parts
from tests.hardening.traffic import CallFailed, Traffic
from tests.mailbox import texts_by_recipient
from tests.otp.conftest import mailed_code, wrong
from tests.stack import ACTIONS as STACK_ACTIONS

NEW_PASSWORD = "a brand new passphrase"
UNAVAILABLE = 503
# connect_timeout is 5 s (DB) and 2 s (broker); an answer slower than this
# during a fault is a hang.
SLOWEST_ANSWER = 8.0
JSON = {"Accept": "application/json"}


# ------------------------------------------------------------ the stack


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
ACCESS_LINE = re.compile(r'^\S+ - - \[[^]]+\] "[A-Z]+ [^"]*" (\d{3}) ', re.MULTILINE)


def figures_record(test: str, web_log: "LogTail", **figures) -> None:
    """What the web server answered during the test (its access log) and
    what the test checked, into var/artifacts/faults.json (one key a test)."""
    statuses = Counter(ACCESS_LINE.findall(web_log.new()))
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


# ------------------------------------------------------------ PostgreSQL


def test_postgres_stopped_and_restarted_under_load(live, email, mail_dir):
    customers = [customer_create(email=f"reader{n}.{email}") for n in range(4)]
    tokens = [token_for(customer) for customer in customers]
    web_log, worker_log = LogTail("web.log"), LogTail("worker.log")
    traffic = Traffic(live.url, live.publishable_key, timeout=30, keep_calls=True)
    either = (200, UNAVAILABLE)
    one_step: dict[str, int] = {}  # email -> status of the signup
    two_step: dict[str, tuple[str, int]] = {}  # email -> (token, status of step 2)
    stop = threading.Event()

    def user(n: int) -> None:
        for i in range(10_000):
            if stop.is_set():
                return
            try:
                step(n, i)
            except CallFailed:
                pass  # counted in traffic.unexpected

    def step(n: int, i: int) -> None:
        address = f"pg.{n}.{i}.{email}"
        if i % 4 == 0:
            traffic.call(
                "GET", "/store/customers/me", token=tokens[n % 4], expect=either
            )
        elif i % 4 == 1:
            signed = traffic.call(
                "POST",
                "/store/auth/signup",
                json={"email": address, "password": PASSWORD},
                expect=either,
            )
            one_step[address] = signed.status_code
        elif i % 4 == 2:
            registered = traffic.call(
                "POST",
                "/auth/customer/emailpass/register",
                json={"email": address, "password": PASSWORD},
                expect=either,
            )
            if registered.status_code == 200:
                token = registered.json()["token"]
                two_step[address] = (token, 0)
                created = traffic.call(
                    "POST",
                    "/store/customers",
                    token=token,
                    json={"email": address},
                    expect=either,
                )
                two_step[address] = (token, created.status_code)
        else:
            traffic.call("GET", "/health", headers=JSON, expect=either)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        users = [pool.submit(user, n) for n in range(8)]
        try:
            time.sleep(3)
            stopping = time.monotonic()
            with stopped("pg"):
                down = time.monotonic()
                # Answers while the database is down: quick 503 JSON.
                health = timed(live.get, "/health", headers=JSON)
                assert health.status_code == UNAVAILABLE
                assert health.json()["database"] == "unavailable"
                assert_unavailable(
                    timed(live.get, "/store/customers/me", token=tokens[0])
                )
                # The counters still, without the gauges read from PostgreSQL.
                scrape = timed(live.get, "/metrics")
                assert scrape.status_code == 200, scrape.text
                assert "# TYPE signup_attempts_total counter" in scrape.text
                assert "# TYPE orphaned_auth_identities gauge" not in scrape.text
                assert_unavailable(
                    timed(
                        live.post,
                        "/auth/customer/emailpass",
                        json={"email": customers[0].email, "password": PASSWORD},
                    )
                )
                assert_unavailable(
                    timed(
                        live.post,
                        "/store/auth/otp/send",
                        json={"email": f"pg.otp.{email}"},
                    )
                )
                # The broker is up: the reset is queued, and the worker must
                # not lose it although it cannot read the database yet.
                reset = timed(
                    live.post,
                    "/auth/customer/emailpass/reset-password",
                    json={"identifier": customers[1].email},
                )
                assert (reset.status_code, reset.text) == (201, "Created")
                time.sleep(max(0.0, down + 5 - time.monotonic()))
            up = time.monotonic()
            while live.get("/health").status_code != 200:
                assert time.monotonic() < up + 30, "/health did not recover in 30 s"
                time.sleep(0.2)
            recovered = time.monotonic()
            time.sleep(4)
        finally:
            stop.set()
            for future in users:
                future.result()
    connection.close()  # the pytest process's connection died with the server

    during = [c for c in traffic.calls if stopping <= c.started < up]
    after = [c for c in traffic.calls if c.started >= recovered + 1]
    load_figures = {
        "load_requests": traffic.sent,
        "load_statuses": {
            str(k): v for k, v in Counter(c.status for c in traffic.calls).items()
        },
        "load_requests_during_outage": len(during),
        "load_requests_after_recovery": len(after),
        "slowest_answer_seconds": round(max(c.elapsed for c in traffic.calls), 2),
        "stop_seconds": round(down - stopping, 1),
        "down_seconds": round(up - down, 1),
        "recovery_seconds": round(recovered - up, 1),
        "test_seconds": round(time.monotonic() - started, 1),
    }
    assert not [c for c in traffic.calls if c.status not in either], traffic.unexpected
    for call in traffic.server_errors:
        assert call.status == UNAVAILABLE
        assert '"unavailable"' in call.body, call
    assert max(c.elapsed for c in traffic.calls) < SLOWEST_ANSWER
    assert any(c.status == UNAVAILABLE for c in during), "the fault was not seen"
    assert after, "no traffic after recovery"
    assert all(c.status == 200 for c in after), Counter(c.status for c in after)
    log = web_log.new()
    assert "Internal Server Error" not in log
    assert "Traceback" not in log

    # State after: acknowledged signups have all their rows; a refused
    # one-step signup has all or none; nothing is half-made.
    rows = no_partial_rows()
    identities = dict(
        ProviderIdentity.objects.filter(
            entity_id__in=[*one_step, *two_step], provider=Provider.EMAILPASS
        ).values_list("entity_id", "auth_identity__customer_id")
    )
    for address, status in one_step.items():
        if status == 200:
            assert identities.get(address), address
        else:
            assert address not in identities or identities[address], address
    for address, (_, status) in two_step.items():
        assert address in identities, address
        if status == 200:
            assert identities[address], address

    # Full recovery: a step 2 refused during the outage succeeds when retried.
    retried = [a for a, (_, s) in two_step.items() if s != 200][:10]
    for address in retried:
        created = live.post(
            "/store/customers", token=two_step[address][0], json={"email": address}
        )
        assert created.status_code == 200, created.text
    no_partial_rows()
    processes_alive()
    texts, missing = mail_wait(mail_dir, {customers[1].email}, timeout=90)
    assert not missing, "the reset asked for during the outage was never mailed"
    assert "Retry in" in worker_log.new()  # it was retried, not lucky
    assert customers[1].email not in worker_log.new()  # masked in the retry too
    updated = live.post(
        "/auth/customer/emailpass/update",
        token=reset_token_in(texts[customers[1].email][-1]),
        json={"password": NEW_PASSWORD},
    )
    assert updated.json() == {"success": True}
    worker_delivers(live, mail_dir)
    figures_record(
        "postgres_stopped_under_load",
        web_log,
        **load_figures,
        rows_checked=rows,
        signups_checked={"one_step": len(one_step), "two_step": len(two_step)},
        step_2_retried_after_recovery=len(retried),
    )


# ------------------------------------------------------------ Redis


def test_redis_stopped_logins_signups_and_otp_attempt_limits_keep_working(
    live, email, mail_dir
):
    customer = customer_create(email=f"login.{email}")
    otp_email = f"otp.{email}"
    code = code_for(otp_email)
    web_log = LogTail("web.log")

    with stopped("redis"):
        login = timed(
            live.post,
            "/auth/customer/emailpass",
            json={"email": customer.email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        me = timed(live.get, "/store/customers/me", token=login.json()["token"])
        assert me.json()["customer"]["id"] == customer.id
        refreshed = timed(live.post, "/auth/token/refresh", token=login.json()["token"])
        assert refreshed.status_code == 200

        signup = timed(
            live.post,
            "/store/auth/signup",
            json={"email": f"one.{email}", "password": PASSWORD},
        )
        assert signup.status_code == 200, signup.text
        registered = timed(
            live.post,
            "/auth/customer/emailpass/register",
            json={"email": f"two.{email}", "password": PASSWORD},
        )
        assert registered.status_code == 200, registered.text
        created = timed(
            live.post,
            "/store/customers",
            token=registered.json()["token"],
            json={"email": f"two.{email}"},
        )
        assert created.status_code == 200, created.text

        # The attempt limit lives in PostgreSQL: the 5th wrong code locks,
        # and then even the right code is refused.
        answers = [
            timed(
                live.post,
                "/store/auth/otp/verify",
                json={"email": otp_email, "code": wrong(code)},
            ).json()["code"]
            for _ in range(5)
        ]
        assert answers == ["otp_invalid"] * 4 + ["otp_locked"]
        right = timed(
            live.post,
            "/store/auth/otp/verify",
            json={"email": otp_email, "code": code},
        )
        assert (right.status_code, right.json()["code"]) == (400, "otp_locked")

        health = timed(live.get, "/health", headers=JSON)
        assert (health.status_code, health.json()["redis"]) == (200, "unavailable")

    challenge = OtpChallenge.objects.get(email=otp_email)
    assert challenge.attempts == 5
    assert challenge.locked_at is not None
    log = web_log.new()
    assert "Rate limit store unavailable; limit not applied" in log
    assert "Internal Server Error" not in log
    rows = no_partial_rows()
    processes_alive()
    worker_delivers(live, mail_dir)
    figures_record(
        "redis_stopped",
        web_log,
        rows_checked=rows,
        otp_attempts_counted=challenge.attempts,
        rate_limit_warnings=log.count("Rate limit store unavailable"),
    )


def test_broker_unreachable_otp_send_is_503_and_reset_is_201(live, email, mail_dir):
    customer = customer_create(email=email)
    otp_email = f"otp.{email}"
    web_log = LogTail("web.log")

    with stopped("redis"):
        sent = timed(live.post, "/store/auth/otp/send", json={"email": otp_email})
        assert_unavailable(sent)
        reset = timed(
            live.post,
            "/auth/customer/emailpass/reset-password",
            json={"identifier": email},
        )
        assert (reset.status_code, reset.text) == (201, "Created")

    # No challenge is left that nobody can use, no reset token was made.
    assert not OtpChallenge.objects.filter(email=otp_email).exists()
    assert not PasswordResetToken.objects.filter(
        provider_identity__auth_identity__customer=customer
    ).exists()
    log = web_log.new()
    assert "Password reset e-mail could not be queued" in log
    assert "OTP e-mail could not be queued" in log
    assert email not in log  # the hashed userId only
    assert "Internal Server Error" not in log
    processes_alive()

    # Redis is back: both are queued and delivered, and they work.
    assert live.post("/store/auth/otp/send", json={"email": otp_email}).json() == {
        "success": True,
        "expiresIn": 600,
    }
    reset = live.post(
        "/auth/customer/emailpass/reset-password", json={"identifier": email}
    )
    assert reset.status_code == 201
    texts, missing = mail_wait(mail_dir, {otp_email, email})
    assert not missing, "the worker did not recover within 60 s"
    code = re.search(r"code is (\d+)", texts[otp_email][-1]).group(1)
    verified = live.post(
        "/store/auth/otp/verify", json={"email": otp_email, "code": code}
    )
    assert verified.status_code == 200, verified.text
    updated = live.post(
        "/auth/customer/emailpass/update",
        token=reset_token_in(texts[email][-1]),
        json={"password": NEW_PASSWORD},
    )
    assert updated.json() == {"success": True}
    figures_record(
        "broker_unreachable",
        web_log,
        live_challenges_left=0,
        reset_tokens_left=0,
        queue_failures_logged=log.count("could not be queued"),
    )


# ------------------------------------------------------------ Celery worker

MAILS_PER_KIND = 120
LOST = "Task handler raised error: WorkerLostError"
ENOUGH_LOST = 3
# A kill is bound to hit a running task when each reset task waits, inside
# its transaction, for the token table that the test holds locked.
WAIT_FOR_TASK = 60.0


@contextmanager
def writes_blocked(model):
    """Another connection holds `model`'s table in SHARE mode inside the
    block: reads go on, a write waits until the block ends."""
    locker = connection.get_new_connection(connection.get_connection_params())
    try:
        locker.execute(
            sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
                sql.Identifier(model._meta.db_table)
            )
        )
        yield model._meta.db_table
        locker.commit()
    finally:
        locker.close()


def tasks_waiting_to_write(table: str) -> set[int]:
    """Pool processes running a task that waits for a lock on `table`: a
    waiting server session whose client socket a live pool process holds.
    (A killed process's session waits on, and one whose query was in
    flight at the kill starts waiting only later: neither counts.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_port, inet_server_port() FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE %s",
            [f"%{table}%"],
        )
        rows = cursor.fetchall()
    waiting = {client for client, _ in rows}
    assert all(client > 0 for client in waiting), "the worker must use TCP"
    if not waiting:
        return set()
    to_server = tcp_sockets_to(rows[0][1])  # inode -> local port
    return {
        pid
        for pid in pool_children()
        if {to_server[inode] for inode in sockets_of(pid) if inode in to_server}
        & waiting
    }


def tcp_sockets_to(server_port: int) -> dict[str, int]:
    """Socket inode -> local port, for this host's TCP connections to
    `server_port` (from /proc/net)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():  # a host without IPv6
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
            if remote == server_port:
                found[fields[9]] = local
    return found


def sockets_of(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open."""
    try:
        return {
            target[len("socket:[") : -1]
            for fd in os.scandir(f"/proc/{pid}/fd")
            if (target := os.readlink(fd.path)).startswith("socket:[")
        }
    except FileNotFoundError:  # it exited meanwhile
        return set()


def wait_for(what: str, check, timeout: float = WAIT_FOR_TASK):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.1)
    return found


def test_a_worker_killed_mid_mail_task_still_delivers_every_mail(live, mail_dir):
    """Pool processes are SIGKILLed while they run mail tasks: acks_late +
    reject_on_worker_lost put the interrupted message back and the worker's
    main process forks new pool processes that redo it. The reset-token
    table is locked against writes meanwhile, so every kill lands while a
    reset task runs (it waits in its transaction), not by chance."""
    run = uuid.uuid4().hex[:8]
    resets = [
        f"killed.{run}.{n}@example.com"
        for n in range(
            len(identities_bulk_create(MAILS_PER_KIND, prefix=f"killed.{run}"))
        )
    ]
    otps = [f"killed.{run}.otp.{n}@example.com" for n in range(MAILS_PER_KIND)]
    web_log, worker_log = LogTail("web.log"), LogTail("worker.log")
    traffic = Traffic(live.url, live.publishable_key)
    kills = 0
    lost = 0

    def ask(address: str) -> None:
        try:
            if address in otps:
                traffic.call("POST", "/store/auth/otp/send", json={"email": address})
            else:
                traffic.call(
                    "POST",
                    "/auth/customer/emailpass/reset-password",
                    json={"identifier": address},
                    expect=(201,),
                )
        except CallFailed:
            pass  # counted in traffic.unexpected

    # The requests go out from 8 threads while the pool is killed: each
    # time a pool process is seen running a reset task (waiting for the
    # locked table), every pool process is killed, until the worker has
    # logged WorkerLostError a few times.
    with (
        writes_blocked(PasswordResetToken) as table,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        asked = [pool.submit(ask, address) for address in otps + resets]
        while lost < ENOUGH_LOST:
            wait_for("no reset task ran", lambda: tasks_waiting_to_write(table))
            for pid in pool_children():
                os.kill(pid, signal.SIGKILL)
                kills += 1
            wait_for(
                "the worker did not log the lost task",
                lambda before=lost: worker_log.new().count(LOST) > before,
            )
            lost = worker_log.new().count(LOST)
        for answered in asked:
            answered.result()

    texts, missing = mail_wait(mail_dir, set(otps + resets), timeout=120)
    lost = worker_log.new().count(LOST)
    assert not traffic.unexpected, traffic.unexpected[:5]
    assert lost, "no kill hit a running task; nothing was tested"
    assert not missing, f"{len(missing)} mails never arrived"

    # Never half-applied: each address has exactly one reset token and it
    # is one a mail carries; every mailed code is the live challenge's.
    tokens = dict(
        PasswordResetToken.objects.filter(
            provider_identity__entity_id__in=resets
        ).values_list("provider_identity__entity_id", "token_hash")
    )
    assert (
        len(tokens)
        == PasswordResetToken.objects.filter(
            provider_identity__entity_id__in=resets
        ).count()
    )
    for address in resets:
        mailed = {
            hashlib.sha256(
                reset_token_decode(reset_token_in(text)).jti.encode()
            ).hexdigest()
            for text in texts[address]
        }
        assert tokens[address] in mailed, address
    for address in resets[:5]:
        updated = live.post(
            "/auth/customer/emailpass/update",
            token=reset_token_in(texts[address][-1]),
            json={"password": NEW_PASSWORD},
        )
        assert updated.json() == {"success": True}
    for address in otps:
        codes = {re.search(r"code is (\d+)", text).group(1) for text in texts[address]}
        assert len(codes) == 1, address
        verified = live.post(
            "/store/auth/otp/verify", json={"email": address, "code": codes.pop()}
        )
        assert verified.status_code == 200, (address, verified.text)

    # The worker is whole again: its main process and a full pool.
    deadline = time.monotonic() + 30
    while len(pool_children()) < 2:
        assert time.monotonic() < deadline, "the pool was not refilled"
        time.sleep(0.2)
    processes_alive()
    figures_record(
        "worker_killed_mid_mail",
        web_log,
        pool_processes_killed=kills,
        tasks_interrupted=lost,
        addresses=len(otps) + len(resets),
        mails_delivered=sum(len(texts[a]) for a in otps + resets),
        rows_checked={"reset_tokens": len(tokens), "otp_challenges": len(otps)},
    )
