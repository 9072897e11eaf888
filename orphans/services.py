"""Orphans: auth identities whose customer profile was never created.

Detect them at the source (the seed-000 event), count them, pause signups
when they pile up, and delete them after ORPHAN_MAX_AGE in short batches
that can never take a profile completed meanwhile: each batch locks its rows
(`FOR UPDATE SKIP LOCKED`, so parallel sweeps and a completing signup never
wait on or collide with each other) and re-checks "no customer" in the
DELETE itself. Every deletion leaves an audit row with the email as an HMAC.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import AuthIdentity
from accounts.selectors import auth_identity_email
from core import metrics
from core.emails import email_hash, email_hashes
from core.errors import ApiError, Unavailable
from orphans import selectors
from orphans.models import (
    OrphanDeletion,
    OrphanEvent,
    OrphanHold,
    SignupGate,
    SignupGateChange,
    SweepRun,
    Trigger,
)

logger = logging.getLogger("orphans")

PROFILE_FAILURE_EVENT = "Customer profile creation failed after auth registration"
SIGNUPS_PAUSED_MESSAGE = (
    "New signups are paused while we fix a problem; please try again later"
)


def error_summary(error: Exception) -> str:
    """What failed, without the values: a database message may quote the
    email (`Key (lower(email))=(…) already exists`), so only its kind and
    constraint are kept."""
    if isinstance(error, ApiError):
        return f"{type(error).__name__}: {error.type}"
    if isinstance(error, DatabaseError):
        cause = error.__cause__
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
        sqlstate = getattr(cause, "sqlstate", None)
        return f"{type(error).__name__} (sqlstate {sqlstate}, constraint {constraint})"
    return type(error).__name__


def orphan_profile_failure_record(
    *, auth_identity_id: str, error: Exception, now: datetime
) -> None:
    """Seed 000's log pattern: one structured error event per failed step 2,
    with the email as HMAC-SHA256 only. Counted (metric, dashboard) once per
    identity; only failures of ours count toward the circuit breaker, so
    clients sending bad profiles cannot pause everyone's signups."""
    try:
        if not AuthIdentity.objects.filter(
            pk=auth_identity_id, customer__isnull=True
        ).exists():
            return  # linked by now (a double submit): not an orphan
        email = auth_identity_email(auth_identity_id=auth_identity_id)
    except DatabaseError:
        email = None
    summary = error_summary(error)
    user_id = email_hash(email) if email else None
    logger.error(
        PROFILE_FAILURE_EVENT,
        extra={
            "event": "orphan_profile_failure",
            "userId": user_id,
            "authIdentityId": auth_identity_id,
            "error": summary,
            "timestamp": now.isoformat(),
        },
    )
    ours = not metrics.input_rejected(error)
    try:
        event, first = OrphanEvent.objects.get_or_create(
            auth_identity_id=auth_identity_id,
            defaults={
                "email_hash": user_id or "",
                "error": summary[:200],
                "rejected": not ours,
                "created_at": now,
            },
        )
    except DatabaseError:
        # The database is what failed: the log line above is the record.
        metrics.orphans_created.inc()
        return
    if first:
        metrics.orphans_created.inc()
    if not ours:
        return
    # Refused input first, our failure on a retry: from now on it is ours.
    if first or _event_made_ours(event):
        _signups_pause_if_flooded(now=now)


def _event_made_ours(event: OrphanEvent) -> bool:
    try:
        return bool(
            OrphanEvent.objects.filter(pk=event.pk, rejected=True).update(
                rejected=False
            )
        )
    except DatabaseError:
        return False


def _signups_pause_if_flooded(*, now: datetime) -> None:
    threshold = settings.SIGNUPS_PAUSE_THRESHOLD
    events = selectors.orphan_failures_since(since=now - timedelta(hours=1))
    if events >= threshold:
        signups_pause(
            staff_user=None,
            reason=(
                f"{events} failed profile creations in the last hour "
                f"(threshold {threshold})"
            ),
            now=now,
        )


@transaction.atomic
def signups_pause(*, staff_user, reason: str, now: datetime) -> bool:
    """Pause new signups; False if they already were (one audit row per
    pause even when many requests cross the threshold at once)."""
    SignupGate.objects.get_or_create(pk=1)
    changed = SignupGate.objects.filter(pk=1, paused_at__isnull=True).update(
        paused_at=now, reason=reason[:200]
    )
    if changed:
        SignupGateChange.objects.create(
            action=SignupGateChange.Action.PAUSE,
            at=now,
            staff_user=staff_user,
            automatic=staff_user is None,
            reason=reason[:200],
        )
        logger.error(
            "Signups paused", extra={"reason": reason, "automatic": staff_user is None}
        )
    return bool(changed)


@transaction.atomic
def signups_resume(*, staff_user, reason: str, now: datetime) -> bool:
    changed = SignupGate.objects.filter(pk=1, paused_at__isnull=False).update(
        paused_at=None, reason=""
    )
    if changed:
        SignupGateChange.objects.create(
            action=SignupGateChange.Action.RESUME,
            at=now,
            staff_user=staff_user,
            reason=reason[:200],
        )
        logger.warning(
            "Signups resumed", extra={"staffUser": staff_user.get_username()}
        )
    return bool(changed)


def signups_open_check() -> None:
    if selectors.signups_paused():
        raise Unavailable(SIGNUPS_PAUSED_MESSAGE, code="signups_paused")


def orphan_hold(
    *, auth_identity_id: str, staff_user, reason: str, now: datetime
) -> bool:
    """Keep an orphan from the sweep; False if it was held already, or is
    gone (a sweep deleted it a moment ago)."""
    try:
        with transaction.atomic():
            _, created = OrphanHold.objects.get_or_create(
                auth_identity_id=auth_identity_id,
                defaults={
                    "held_by": staff_user,
                    "held_at": now,
                    "reason": reason[:200],
                },
            )
    except IntegrityError:
        return False
    return created


def orphan_release(*, auth_identity_id: str) -> bool:
    deleted, _ = OrphanHold.objects.filter(auth_identity_id=auth_identity_id).delete()
    return bool(deleted)


# Lock a batch of the oldest sweepable orphans, skipping rows another
# transaction holds (a completing signup, a parallel sweep), and read the
# email the audit hashes. Served by authid_orphan_created_idx; each email is
# read through the index on auth_identity_id, never by joining all provider
# identities (a hash join did, and its cost grew with the table: see
# docs/performance.md).
LOCK_BATCH_SQL = """
SELECT ai.id,
       (SELECT min(pi.entity_id) FROM accounts_provideridentity pi
        WHERE pi.auth_identity_id = ai.id)
FROM (
    SELECT a.id, a.created_at
    FROM accounts_authidentity a
    WHERE a.customer_id IS NULL AND a.created_at < %(cutoff)s
      AND a.updated_at < %(cutoff)s
      AND (%(ids)s::text[] IS NULL OR a.id = ANY(%(ids)s))
      AND NOT EXISTS (
          SELECT 1 FROM orphans_orphanhold h WHERE h.auth_identity_id = a.id)
    ORDER BY a.created_at
    LIMIT %(limit)s
    FOR UPDATE OF a SKIP LOCKED
) ai
"""
# One statement deletes the locked identities, re-checking "no customer" and
# "no hold" (the last guards), their reset tokens and provider identities,
# and writes one audit row for each identity it deleted, with the providers
# it deleted.
# It leaves the sweep run's row alone: parallel workers would queue on its
# lock (the sweep writes the count itself, see _Sweeper).
# Foreign keys are deferred, so dependents may go after their identity. The
# email HMAC is made in Python (the key stays out of SQL and its logs). The
# lists come as JSON text: psycopg quotes a Python list element by element
# on the client, which cost more CPU than the deletes themselves.
_DELETE_AND_AUDIT = """
WITH doomed AS (
    SELECT * FROM ROWS FROM (jsonb_array_elements_text(%(ids)s::jsonb),
                             jsonb_array_elements_text(%(email_hashes)s::jsonb))
        AS d(id, email_hash)
), deleted AS (
    -- ANY(ARRAY(...)): one primary-key probe per id (a join with the list
    -- may be planned as a scan of every orphan instead).
    DELETE FROM accounts_authidentity a
    WHERE a.id = ANY(ARRAY(SELECT id FROM doomed)) AND a.customer_id IS NULL
      -- A hold that committed after the batch was locked (that statement's
      -- snapshot could not see it), or the cascade would delete it too.
      AND NOT EXISTS (
          SELECT 1 FROM orphans_orphanhold h WHERE h.auth_identity_id = a.id)
    RETURNING a.id, a.created_at
), providers AS (
    DELETE FROM accounts_provideridentity p USING deleted
    WHERE p.auth_identity_id = deleted.id
    RETURNING p.id, p.auth_identity_id, p.provider
), tokens AS (
    DELETE FROM accounts_passwordresettoken t
    WHERE t.provider_identity_id = ANY(ARRAY(SELECT id FROM providers))
), audit AS (
    INSERT INTO orphans_orphandeletion
        (auth_identity_id, email_hash, providers, identity_created_at,
         deleted_at, trigger, staff_user_id, staff_username, sweep_run_id)
    SELECT deleted.id, doomed.email_hash, coalesce(pr.providers, '[]'),
           deleted.created_at, %(deleted_at)s, %(trigger)s, %(staff_user_id)s,
           %(staff_username)s, %(sweep_run_id)s
    FROM deleted
    JOIN doomed ON doomed.id = deleted.id
    LEFT JOIN (
        SELECT auth_identity_id, jsonb_agg(provider ORDER BY provider) AS providers
        FROM providers GROUP BY auth_identity_id
    ) pr ON pr.auth_identity_id = deleted.id
    -- An id deleted once already (an orphan a Medusa import brought back)
    -- keeps its first audit row; the deletion itself still happens.
    ON CONFLICT (auth_identity_id) DO NOTHING
)
SELECT id FROM deleted
"""


@dataclass(frozen=True)
class Deleter:
    trigger: str
    staff_user: object = None
    sweep_run: SweepRun | None = None


def orphans_delete_batch(
    *,
    cutoff: datetime,
    limit: int,
    deleter: Deleter,
    only_ids: list[str] | None = None,
) -> list[str]:
    """Delete up to `limit` orphans in one short transaction; return their ids."""
    params = {"cutoff": cutoff, "limit": limit, "ids": only_ids}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_BATCH_SQL, params)
        locked = cursor.fetchall()
        if not locked:
            return []
        staff = deleter.staff_user
        # An identity without a provider identity has no email: hash "".
        emails = [email or "" for _, email in locked]
        hashes = [
            digest if email else ""
            for digest, email in zip(email_hashes(emails), emails, strict=True)
        ]
        cursor.execute(
            _DELETE_AND_AUDIT,
            {
                "ids": json.dumps([identity_id for identity_id, _ in locked]),
                "email_hashes": json.dumps(hashes),
                "deleted_at": timezone.now(),
                "trigger": deleter.trigger,
                "staff_user_id": staff.pk if staff else None,
                "staff_username": staff.get_username() if staff else "",
                "sweep_run_id": deleter.sweep_run.pk if deleter.sweep_run else None,
            },
        )
        deleted = [row[0] for row in cursor.fetchall()]
    metrics.orphans_cleaned.inc(len(deleted))
    return deleted


@dataclass(frozen=True)
class SweepPreview:
    cutoff: datetime
    sweepable: int
    held: int
    sample: list


def orphans_sweep_preview(*, older_than: timedelta, now: datetime, sample: int = 20):
    cutoff = now - older_than
    sweepable = selectors.orphans_older_than(cutoff=cutoff, include_held=False)
    everything = selectors.orphans_older_than(cutoff=cutoff)
    return SweepPreview(
        cutoff=cutoff,
        sweepable=sweepable.count(),
        held=everything.count() - sweepable.count(),
        sample=list(sweepable.order_by("created_at")[:sample]),
    )


def orphans_sweep(
    *,
    older_than: timedelta,
    batch_size: int,
    trigger: str,
    now: datetime,
    dry_run: bool = False,
    staff_user=None,
    workers: int = 1,
    progress: Callable[[SweepRun], None] | None = None,
) -> SweepRun:
    """Delete every sweepable orphan older than `older_than`, batch by batch,
    on `workers` database connections at once (SKIP LOCKED gives each its
    own rows; one backend deletes 15-18k orphans/s, see
    docs/performance.md). Idempotent: a second run, or one after an
    interrupted run, deletes what is left."""
    preview = orphans_sweep_preview(older_than=older_than, now=now, sample=0)
    _interrupted_runs_close(before=now - timedelta(hours=6))
    run = SweepRun.objects.create(
        trigger=trigger,
        dry_run=dry_run,
        cutoff=preview.cutoff,
        batch_size=batch_size,
        started_at=now,
        found=preview.sweepable,
        staff_user=staff_user,
    )
    sweeper = _Sweeper(sweep_run=run, batch_size=batch_size, progress=progress)
    # Helpers only see committed rows: inside a transaction, sweep alone.
    if connection.in_atomic_block:
        workers = 1
    try:
        if not dry_run:
            sweeper.run(workers=workers)
    except BaseException as exc:  # a database error, Ctrl-C, a time limit
        SweepRun.objects.filter(pk=run.pk).update(
            status=SweepRun.Status.FAILED,
            finished_at=timezone.now(),
            error=type(exc).__name__,
            # The batches that committed: Ctrl-C may land between a batch's
            # commit and its count, which its audit rows still show.
            deleted=Greatest(Value(run.deleted), _audited_count()),
        )
        raise
    run.status = SweepRun.Status.FINISHED
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", "deleted"])
    logger.info(
        "Orphan sweep finished",
        extra={
            "trigger": trigger,
            "dryRun": dry_run,
            "found": run.found,
            "deleted": run.deleted,
            "workers": workers,
        },
    )
    return run


PROGRESS_SAVE_SECONDS = 1.0  # how stale a running sweep's saved count may be


def _interrupted_runs_close(*, before: datetime) -> None:
    """Runs still "running" long after they started died with their worker:
    mark them failed, with the count of their audit rows (the count they
    saved last may be a second old)."""
    SweepRun.objects.filter(
        status=SweepRun.Status.RUNNING, started_at__lt=before
    ).update(
        status=SweepRun.Status.FAILED, error="interrupted", deleted=_audited_count()
    )


def _audited_count() -> Coalesce:
    """The number of audit rows of the sweep run being updated (an identity
    deleted a second time keeps its first audit row, so it can be lower than
    what the run deleted)."""
    audited = (
        OrphanDeletion.objects.filter(sweep_run_id=OuterRef("pk"))
        .order_by()
        .values("sweep_run_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(audited), 0)


@dataclass
class _Sweeper:
    """Batches until none is left: in this thread, plus `workers - 1`
    helper threads with a connection each. The first error stops them all.
    The run's count is saved at most once a second while it runs (the
    batches never touch the run's row: the workers would queue on its lock)."""

    sweep_run: SweepRun
    batch_size: int
    progress: Callable[[SweepRun], None] | None
    deleter: Deleter = field(init=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _stop: threading.Event = field(
        default_factory=threading.Event, init=False, repr=False, compare=False
    )
    _saved_at: float = field(
        default_factory=time.monotonic, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        run = self.sweep_run
        self.deleter = Deleter(
            trigger=run.trigger, staff_user=run.staff_user, sweep_run=run
        )

    def run(self, *, workers: int) -> None:
        helpers = []
        try:
            with ThreadPoolExecutor(max_workers=max(workers - 1, 1)) as pool:
                helpers = [pool.submit(self._helper) for _ in range(workers - 1)]
                self._loop()
        finally:
            self._stop.set()  # also when this thread is interrupted while waiting
            wait(helpers)  # each finishes, and counts, the batch it is in
        for helper in helpers:
            helper.result()  # re-raises a helper's error

    def _helper(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            # Logged here: the caller re-raises only the first error.
            logger.error(
                "Orphan sweep worker failed", extra={"error": error_summary(exc)}
            )
            raise
        finally:
            connection.close()  # the helper thread's own connection

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                deleted = orphans_delete_batch(
                    cutoff=self.sweep_run.cutoff,
                    limit=self.batch_size,
                    deleter=self.deleter,
                )
                if not deleted:
                    return
                self._count(len(deleted))
        except BaseException:
            self._stop.set()
            raise

    def _count(self, deleted: int) -> None:
        with self._lock:  # one writer at a time: the saved count only grows
            run = self.sweep_run
            run.deleted += deleted
            if time.monotonic() - self._saved_at >= PROGRESS_SAVE_SECONDS:
                SweepRun.objects.filter(pk=run.pk).update(deleted=run.deleted)
                self._saved_at = time.monotonic()
            if self.progress is not None:
                self.progress(run)


def orphans_delete_selected(
    *, auth_identity_ids: list[str], staff_user, now: datetime
) -> tuple[list[str], list[str]]:
    """Staff's explicit delete: only identities that are still orphans and not
    on hold go; the rest are refused and returned as such."""
    deleted = orphans_delete_batch(
        cutoff=now,
        limit=len(auth_identity_ids),
        deleter=Deleter(trigger=Trigger.ADMIN, staff_user=staff_user),
        only_ids=list(auth_identity_ids),
    )
    refused = [i for i in auth_identity_ids if i not in set(deleted)]
    return deleted, refused
