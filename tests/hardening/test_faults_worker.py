"""A Celery worker killed mid-task: the interrupted messages come back and
every mail is delivered, once.

These run on the live stack ./dev test starts (docs/reliability.md)."""

import hashlib
import os
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from psycopg import sql

from accounts.models import (
    PasswordResetToken,
)
from accounts.tokens import reset_token_decode
from tests.factories import identities_bulk_create
from tests.hardening.faults import (
    NEW_PASSWORD,
    LogTail,
    figures_record,
    mail_wait,
    pool_children,
    processes_alive,
    reset_token_in,
)
from tests.hardening.traffic import CallFailed, Traffic
from tests.waiting import wait_for

MAILS_PER_KIND = 120


LOST = "Task handler raised error: WorkerLostError"


ENOUGH_LOST = 3


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
