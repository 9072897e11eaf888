"""A mail task's message delivered more than once sends one mail, and a
mail task that meets a database error is retried and sends one mail.

On the live stack ./dev test starts: the messages are published from this
process to its Redis, its Celery worker (2 pool processes) runs them and
writes the mail to MAIL_DIR; the database error is a real one (the
worker's connection terminated by PostgreSQL while its query waits).
core/delivery.py has the record these exercise; docs/deploy.md, "Mail
delivered once"."""

import os
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection

from accounts.models import Customer
from core import delivery
from core.emails import email_hash
from tests.hardening.faults import LogTail
from tests.mailbox import texts_by_recipient
from tests.waiting import wait_for

CODE = "482913"


@pytest.fixture
def real_broker():
    """Publish from this process to the stack's Redis (not eagerly)."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield redis.Redis.from_url(settings.CELERY_BROKER_URL, decode_responses=True)
    app.conf.task_always_eager = saved


def _secret_mail(address: str, *, task_id: str, language: str | None = "en") -> None:
    from accounts.tasks import email_changed_email_send_task

    # A mail with a secret in it (the undo link's token), as accounts'
    # services publish it (sealed, masked), with the task id given: what
    # the broker does when it hands a message out again.
    email_changed_email_send_task.apply_async(
        kwargs={
            "email": address,
            "changed_at": "2026-12-06T10:00:00+00:00",
            "token": CODE,
            "language": language,
        },
        kwargsrepr=repr({"email": email_hash(address), "token": "******"}),
        expires=600,
        task_id=task_id,
    )


def _mails_to(mail_dir: str, address: str) -> list[str]:
    return texts_by_recipient(mail_dir).get(address, [])


def test_a_message_delivered_three_times_sends_one_mail(email, mail_dir, real_broker):
    worker_log = LogTail("worker.log")
    task_id = str(uuid.uuid4())

    for _ in range(3):
        _secret_mail(email, task_id=task_id)

    wait_for("the mail", lambda: _mails_to(mail_dir, email))
    # The copies after the first: acknowledged without a mail, or (while
    # the first ran) retried within 10 s and then acknowledged.
    wait_for(
        "the copies to run",
        lambda: (
            len(_mails_to(mail_dir, email)) > 1
            or sum(
                "Mail already sent; message acknowledged" in line and task_id in line
                for line in worker_log.new().splitlines()
            )
            >= 2
        ),
        timeout=30,
    )
    time.sleep(1)
    assert len(_mails_to(mail_dir, email)) == 1
    assert CODE in _mails_to(mail_dir, email)[0]
    assert real_broker.get(delivery.PREFIX + task_id) == delivery.DONE
    assert real_broker.ttl(delivery.PREFIX + task_id) > 24 * 3600
    assert email not in worker_log.new()


def test_a_claim_of_a_dead_worker_process_is_taken_over_at_once(
    email, mail_dir, real_broker
):
    task_id = str(uuid.uuid4())
    # A pool process of this machine died holding the claim (killed before
    # its send): no process has this PID.
    dead = int(open("/proc/sys/kernel/pid_max").read()) - 1  # noqa: PTH123, SIM115
    assert not delivery._pid_alive(dead)
    real_broker.set(
        delivery.PREFIX + task_id, f"claim {delivery._machine()} {dead} 00", ex=3600
    )

    started = time.monotonic()
    _secret_mail(email, task_id=task_id)

    wait_for("the mail", lambda: _mails_to(mail_dir, email), timeout=15)
    assert time.monotonic() - started < 10  # not the claim's hour
    time.sleep(1)
    assert len(_mails_to(mail_dir, email)) == 1


def test_a_claim_of_a_live_process_holds_the_mail_until_it_expires(
    email, mail_dir, real_broker
):
    worker_log = LogTail("worker.log")
    task_id = str(uuid.uuid4())
    # A live process holds the claim (this one, standing for a worker that
    # is sending): no mail while it holds it; once the claim expires (the
    # holder died on another machine), the message is sent.
    real_broker.set(
        delivery.PREFIX + task_id,
        f"claim {delivery._machine()} {os.getpid()} 00",
        ex=4,
    )

    _secret_mail(email, task_id=task_id)

    wait_for("the retry", lambda: "Mail claimed by another worker" in worker_log.new())
    assert _mails_to(mail_dir, email) == []
    wait_for("the mail", lambda: _mails_to(mail_dir, email), timeout=30)
    time.sleep(1)
    assert len(_mails_to(mail_dir, email)) == 1


def _waiting_on(table: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND query LIKE %s"
            " AND pid <> pg_backend_pid()",
            [f"%{table}%"],
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_a_database_error_in_a_mail_task_is_retried_and_mails_once(
    live, email, mail_dir, real_broker
):
    """A mail task (the e-mail change's notice): the worker's
    query for the mail's language waits on a locked table, and PostgreSQL
    terminates its connection (as a PgBouncer restart or a failover does);
    the task is retried 5 s later and the mail arrives, once."""
    worker_log = LogTail("worker.log")
    table = Customer._meta.db_table
    task_id = str(uuid.uuid4())
    locker = connection.get_new_connection(connection.get_connection_params())
    try:
        locker.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        _secret_mail(email, task_id=task_id, language=None)
        waiting = wait_for("the worker's query to wait", lambda: _waiting_on(table))
        with connection.cursor() as cursor:
            for pid in waiting:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_for("the retry", lambda: f"[{task_id}] retry" in worker_log.new())
    finally:
        locker.rollback()
        locker.close()

    wait_for("the mail", lambda: _mails_to(mail_dir, email), timeout=30)
    time.sleep(2)
    mails = _mails_to(mail_dir, email)
    assert len(mails) == 1
    assert CODE in mails[0]
    assert real_broker.get(delivery.PREFIX + task_id) == delivery.DONE
    assert email not in worker_log.new()
