"""Orphans against the live stack: races with real concurrency, a real
Celery worker killed mid-sweep, beat firing the sweep, /metrics moving."""

import os
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from config.celery import app as celery_app
from ops.schedule import beat_schedule_install
from orphans import services
from orphans.models import OrphanDeletion, OrphanHold, SweepRun, Trigger
from tests.db_faults import refusing_trigger
from tests.factories import customer_create, token_for
from tests.orphans.conftest import DAY, OLD, orphan_create, orphans_bulk_create


def sweep_in_thread(**kwargs) -> SweepRun:
    try:
        return services.orphans_sweep(
            older_than=DAY, trigger=Trigger.COMMAND, now=timezone.now(), **kwargs
        )
    finally:
        connection.close()  # each thread has its own connection


def test_profile_completion_racing_the_sweep_never_loses_a_customer(live, email):
    outcomes = []
    for round_ in range(15):
        orphans = [
            orphan_create(email=f"r{round_}.{n}.{email}", age=OLD) for n in range(3)
        ]
        tokens = [(o, token_for(o)) for o in orphans]
        with ThreadPoolExecutor(max_workers=4) as pool:
            sweeping = pool.submit(sweep_in_thread, batch_size=1)
            posts = [
                pool.submit(
                    live.post,
                    "/store/customers",
                    token=token,
                    json={"email": orphan.provider_identities.get().entity_id},
                )
                for orphan, token in tokens
            ]
            responses = [p.result() for p in posts]
            sweeping.result()
        outcomes += [r.status_code for r in responses]
        assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
        for (orphan, _), response in zip(tokens, responses, strict=True):
            exists = AuthIdentity.objects.filter(pk=orphan.pk).exists()
            if response.status_code == 200:
                assert exists, "a created customer lost its identity"
            else:
                assert response.status_code in (401, 404)
                assert not exists
    # Every customer has its identity, whatever won each race.
    assert not Customer.objects.filter(auth_identity__isnull=True).exists()
    assert 200 in outcomes or OrphanDeletion.objects.count() == 45


def test_two_sweeps_in_parallel_delete_each_orphan_once(live):
    ids = orphans_bulk_create(2_000, age=OLD, prefix="parallel")

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: sweep_in_thread(batch_size=50), range(2)))

    assert sum(run.deleted for run in runs) == 2_000
    assert not AuthIdentity.objects.filter(id__in=ids).exists()
    assert OrphanDeletion.objects.filter(auth_identity_id__in=ids).count() == 2_000
    assert not ProviderIdentity.objects.filter(auth_identity_id__in=ids).exists()


def test_a_sweep_on_three_connections_deletes_each_orphan_once(live, monkeypatch):
    ids = orphans_bulk_create(3_000, age=OLD, prefix="workers")
    OrphanHold.objects.create(auth_identity_id=ids[7])
    customer = customer_create(email="kept.customer@example.com")
    AuthIdentity.objects.filter(customer=customer).update(
        created_at=timezone.now() - OLD, updated_at=timezone.now() - OLD
    )
    # Each worker's first batch waits for the other two: run one after
    # another, they would break the barrier and fail the sweep.
    together = threading.Barrier(3, timeout=30)
    deleting_threads = set()
    batch = services.orphans_delete_batch

    def recorded_batch(**kwargs):
        if threading.get_ident() not in deleting_threads:
            together.wait()
        deleted = batch(**kwargs)
        if deleted:
            deleting_threads.add(threading.get_ident())
        return deleted

    monkeypatch.setattr(services.sweep, "orphans_delete_batch", recorded_batch)
    out = StringIO()

    call_command(
        "sweep_orphans", "--execute", "--workers", "3", "--batch-size", "40", stdout=out
    )

    assert len(deleting_threads) == 3  # the calling thread and two helpers
    run = SweepRun.objects.get(trigger=Trigger.COMMAND)
    assert (run.status, run.found, run.deleted) == (
        SweepRun.Status.FINISHED,
        2_999,
        2_999,
    )
    assert f"Deleted 2999 orphans (sweep run {run.pk})" in out.getvalue()
    audited = OrphanDeletion.objects.filter(sweep_run_id=run.pk)
    assert audited.count() == 2_999
    kept = AuthIdentity.objects.filter(id__in=ids).values_list("id", flat=True)
    assert list(kept) == [ids[7]]
    assert set(audited.values_list("auth_identity_id", flat=True)) == set(ids) - set(
        kept
    )
    assert AuthIdentity.objects.filter(customer=customer).exists()


def test_a_failing_worker_stops_every_worker_and_fails_the_run(live):
    ids = set(orphans_bulk_create(2_000, age=OLD, prefix="workers"))
    poisoned = orphans_bulk_create(1, age=OLD, prefix="poisoned")[0]
    AuthIdentity.objects.filter(pk=poisoned).update(
        created_at=timezone.now() - OLD - timedelta(minutes=1)  # the first batch
    )
    # Refused once only (a sequence ignores rollbacks): a worker that went on
    # after the failure would delete the poisoned identity and all the rest.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE test_refuse_once")
    refusing_its_audit_once = refusing_trigger(
        table="orphans_orphandeletion",
        event="INSERT",
        when=f"""CASE WHEN NEW.auth_identity_id = '{poisoned}'
                 THEN nextval('test_refuse_once') = 1 ELSE false END""",
    )

    try:
        with (
            refusing_its_audit_once,
            pytest.raises(DatabaseError, match="injected failure"),
        ):
            services.orphans_sweep(
                older_than=DAY,
                batch_size=20,
                trigger=Trigger.COMMAND,
                now=timezone.now(),
                workers=2,
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP SEQUENCE test_refuse_once")

    run = SweepRun.objects.get(trigger=Trigger.COMMAND)
    # RAISE EXCEPTION's SQLSTATE P0001 reaches Django as a ProgrammingError.
    assert (run.status, run.error) == (SweepRun.Status.FAILED, "ProgrammingError")
    remaining, audited, provider_identities = snapshot(sorted(ids | {poisoned}))
    assert remaining | audited == ids | {poisoned}
    assert not remaining & audited
    assert provider_identities == len(remaining)
    # The other worker stopped after its batch in progress, not at the end.
    assert len(audited) < 1_000
    assert run.deleted == len(audited)


def worker_children() -> list[int]:
    stack = os.environ.get("TEST_STACK_DIR")
    if not stack:
        pytest.fail("TEST_STACK_DIR is not set: run the suite with ./dev test")
    main = int(Path(stack, "worker.pid").read_text().split()[0])
    found = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True)  # noqa: S603, S607
    return [int(pid) for pid in found.stdout.split()]


def snapshot(ids: list[str]) -> tuple[set, set, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT
                 (SELECT coalesce(array_agg(id), '{}') FROM accounts_authidentity
                  WHERE id = ANY(%(ids)s)),
                 (SELECT coalesce(array_agg(auth_identity_id), '{}')
                  FROM orphans_orphandeletion WHERE auth_identity_id = ANY(%(ids)s)),
                 (SELECT count(*) FROM accounts_provideridentity
                  WHERE auth_identity_id = ANY(%(ids)s))""",
            {"ids": ids},
        )
        remaining, audited, count = cursor.fetchone()
    return set(remaining), set(audited), count


def test_a_worker_killed_mid_sweep_leaves_no_partial_batch(live):
    ids = set(orphans_bulk_create(20_000, age=OLD, prefix="killed"))

    celery_app.send_task(
        "orphans.tasks.orphans_sweep_task",
        kwargs={"trigger": "command", "batch_size": 20},
    )
    deadline = time.monotonic() + 60
    while not OrphanDeletion.objects.filter(auth_identity_id__in=ids).exists():
        assert time.monotonic() < deadline, "the worker never started the sweep"
        time.sleep(0.05)
    for pid in worker_children():
        os.kill(pid, signal.SIGKILL)

    # Whatever was interrupted: every deleted identity has exactly its audit
    # row, and every remaining one still has its provider identity (read in
    # one statement, so one snapshot, while the redelivered task may run).
    remaining, audited, provider_identities = snapshot(sorted(ids))
    assert remaining | audited == ids
    assert not remaining & audited
    assert provider_identities == len(remaining)

    # The redelivered task (acks_late) or the next run finishes the job.
    deadline = time.monotonic() + 120
    while (
        AuthIdentity.objects.filter(id__in=ids).exists() and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    services.orphans_sweep(
        older_than=DAY, batch_size=1000, trigger=Trigger.COMMAND, now=timezone.now()
    )
    assert not AuthIdentity.objects.filter(id__in=ids).exists()
    assert OrphanDeletion.objects.filter(auth_identity_id__in=ids).count() == len(ids)


def metric(live, name: str) -> float:
    text = live.get("/metrics").text
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_move_as_orphans_are_created_and_swept(live, email, password):
    created = metric(live, "orphaned_auth_identities_created_total")
    cleaned = metric(live, "orphaned_auth_identities_cleaned_total")
    failures = metric(live, 'signup_attempts_total{flow="two_step",outcome="rejected"}')
    orphans_bulk_create(3, age=OLD, prefix="gauge")
    token = live.post(
        "/auth/customer/emailpass/register", json={"email": email, "password": password}
    ).json()["token"]

    live.post("/store/customers", token=token, json={"email": email, "first_name": 5})

    assert metric(live, "orphaned_auth_identities_created_total") == created + 1
    assert metric(
        live, 'signup_attempts_total{flow="two_step",outcome="rejected"}'
    ) == (failures + 1)
    assert metric(live, "orphaned_auth_identities") == 3
    celery_app.send_task(
        "orphans.tasks.orphans_sweep_task", kwargs={"trigger": "command"}
    )
    deadline = time.monotonic() + 30
    while metric(live, "orphaned_auth_identities_cleaned_total") < cleaned + 3:
        assert time.monotonic() < deadline, (
            "the worker's sweep did not show in /metrics"
        )
        time.sleep(0.3)
    assert metric(live, "orphaned_auth_identities") == 0


# Last in this file: beat keeps its 1-second schedule in memory until it
# notices a change, and the flush after a test is not one it notices; the
# test stops it before it ends.
def test_beat_fires_the_sweep_on_its_schedule(live, email):
    from django_celery_beat.models import (
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        PeriodicTasks,
    )

    beat_schedule_install(PeriodicTask, CrontabSchedule)
    orphan = orphan_create(email=email, age=OLD)
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    task = PeriodicTask.objects.get(name="sweep-orphans")
    task.crontab = None
    task.interval = every_second
    task.enabled = True  # ./dev test disables the schedule it migrates
    task.save()

    try:
        deadline = time.monotonic() + 60
        while AuthIdentity.objects.filter(pk=orphan.pk).exists():
            assert time.monotonic() < deadline, "beat did not fire the sweep in 60 s"
            # The flush between tests deleted beat's change marker; its
            # scheduler then ignores the first change it sees
            # (django-celery-beat compares with the previous marker), so keep
            # marking the schedule changed.
            PeriodicTasks.update_changed()
            time.sleep(1)
    finally:
        task.enabled = False
        task.save()
        beat_sweeps_wait_stopped(PeriodicTasks)

    assert OrphanDeletion.objects.get(auth_identity_id=orphan.id).trigger == "beat"


def beat_sweeps_wait_stopped(periodic_tasks, quiet_seconds: float = 3.0) -> None:
    """Wait until beat has reloaded the disabled schedule: no new beat sweep
    for a few seconds. Left firing every second, its sweeps would race the
    flush after this and later live tests (a TRUNCATE deadlock in CI)."""
    newest = None
    quiet_since = time.monotonic()
    deadline = quiet_since + 60
    while time.monotonic() - quiet_since < quiet_seconds:
        assert time.monotonic() < deadline, "beat kept firing the sweep"
        periodic_tasks.update_changed()  # see the comment in the loop above
        time.sleep(0.5)
        latest = SweepRun.objects.filter(trigger=Trigger.BEAT).order_by("-pk").first()
        if latest is not None and latest.pk != newest:
            newest, quiet_since = latest.pk, time.monotonic()
