"""The replica when its parts fail, on the live stack with the real Medusa.
Medusa's PostgreSQL is a cluster of its own (tests/stack.py's
medusa-pg-stop and medusa-pg-start): while it is down this server signs
customers up as usual and the outbox grows; once it is back every change
arrives, the last state of each customer. A worker killed while it writes
to Medusa loses nothing: its message is delivered again and the outbox
rows it had not deleted are applied."""

import os
import signal
import uuid

import psycopg
import pytest

from replica.models import Change
from tests.e2e.medusa_server import signup_here
from tests.hardening.faults import LogTail, pool_children
from tests.stack import ACTIONS
from tests.waiting import wait_for

pytestmark = pytest.mark.medusa

LOST = "WorkerLostError"


def test_signups_while_medusas_database_is_down_all_arrive_once_back(
    live, medusa, password
):
    run = uuid.uuid4().hex[:8]
    ACTIONS["medusa-pg-stop"]()
    try:
        health = live.get("/health")
        shoppers = [
            signup_here(live, f"down.{run}.{n}@example.com", password) for n in range(5)
        ]
        # Edited twice while down: Medusa must end with the last edit.
        for name in ("First", "Last"):
            edited = live.post(
                "/store/customers/me",
                token=shoppers[0].token,
                json={"first_name": name},
            )
            assert edited.status_code == 200, edited.text
        waiting = Change.objects.filter(customer_id__in=[s.id for s in shoppers])
        backlog = waiting.count()
    finally:
        ACTIONS["medusa-pg-start"]()

    assert (health.status_code, health.text) == (200, "OK")  # ours is up
    assert backlog >= 7  # five sign-ups and two edits, none applied
    for shopper in shoppers:
        row = medusa.customer_wait(shopper.id, timeout=90)
        assert (row["email"], row["has_account"]) == (shopper.email, True)
    wait_for(
        "Medusa did not get the last edit",
        lambda: medusa.customer_wait(shoppers[0].id)["first_name"] == "Last",
    )
    wait_for("the outbox did not drain", lambda: not waiting.exists())
    me = medusa.store("GET", "/store/customers/me", token=shoppers[0].token)
    assert me.status_code == 200, me.text
    assert me.json()["customer"]["first_name"] == "Last"


def test_a_worker_killed_while_it_writes_to_medusa_loses_nothing(
    live, medusa, password
):
    """Medusa's customer table is locked against writes, so the drain waits
    inside its Medusa transaction; every pool process is killed then. The
    drain's message comes back (acks_late, reject_on_worker_lost) and a new
    pool process applies the outbox once the lock is gone."""
    run = uuid.uuid4().hex[:8]
    worker_log = LogTail("worker.log")
    with psycopg.connect(os.environ["MEDUSA_DATABASE_URL"]) as blocker:
        blocker.execute("LOCK TABLE customer IN SHARE ROW EXCLUSIVE MODE")
        shoppers = [
            signup_here(live, f"killed.{run}.{n}@example.com", password)
            for n in range(5)
        ]
        wait_for("no drain waited on Medusa's lock", lambda: _drain_waiting(medusa))
        for pid in pool_children():
            os.kill(pid, signal.SIGKILL)
        wait_for(
            "the worker did not log the lost task", lambda: LOST in worker_log.new()
        )
        assert Change.objects.filter(customer_id__in=[s.id for s in shoppers]).exists()
        blocker.rollback()  # the lock goes

    for shopper in shoppers:
        row = medusa.customer_wait(shopper.id, timeout=90)
        assert row["email"] == shopper.email
    wait_for(
        "the outbox did not drain",
        lambda: (
            not Change.objects.filter(customer_id__in=[s.id for s in shoppers]).exists()
        ),
    )


def _drain_waiting(medusa) -> bool:
    return bool(
        medusa.db.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO customer %%'"
        ).fetchone()
    )
