"""Orphans: auth identities whose customer profile was never created.

Detect them at the source (the seed-000 event), count them, pause signups
when they pile up, and delete them after ORPHAN_MAX_AGE in short batches
that can never take a profile completed meanwhile: each batch locks its rows
(`FOR UPDATE SKIP LOCKED`, so parallel sweeps and a completing signup never
wait on or collide with each other) and re-checks "no customer" in the
DELETE itself. Every deletion leaves an audit row with the email as an HMAC.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts.emails import email_hash
from accounts.models import AuthIdentity
from accounts.selectors import auth_identity_email
from config.errors import ApiError, Unavailable
from orphans import metrics, selectors
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
    with the email as HMAC-SHA256 only. Counted (metric, dashboard, circuit
    breaker) once per identity, so one client retrying bad input cannot
    pause everyone's signups."""
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
    try:
        _, first = OrphanEvent.objects.get_or_create(
            auth_identity_id=auth_identity_id,
            defaults={
                "email_hash": user_id or "",
                "error": summary[:200],
                "created_at": now,
            },
        )
    except DatabaseError:
        # The database is what failed: the log line above is the record.
        metrics.orphans_created.inc()
        return
    if first:
        metrics.orphans_created.inc()
        _signups_pause_if_flooded(now=now)


def _signups_pause_if_flooded(*, now: datetime) -> None:
    threshold = settings.SIGNUPS_PAUSE_THRESHOLD
    events = selectors.orphan_events_since(since=now - timedelta(hours=1))
    if events >= threshold:
        signups_pause(
            staff_user=None,
            reason=f"{events} orphan events in the last hour (threshold {threshold})",
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
# transaction holds (a completing signup, a parallel sweep), and read what the
# audit needs before they go. Served by authid_orphan_created_idx.
LOCK_BATCH_SQL = """
SELECT ai.id, ai.created_at,
       coalesce(array_agg(pi.provider ORDER BY pi.provider)
                FILTER (WHERE pi.id IS NOT NULL), '{}'),
       min(pi.entity_id)
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
LEFT JOIN accounts_provideridentity pi ON pi.auth_identity_id = ai.id
GROUP BY ai.id, ai.created_at
"""
# The re-check of "no customer" in the DELETE itself is the last guard.
_DELETE_IDENTITIES = """
DELETE FROM accounts_authidentity
WHERE id = ANY(%s) AND customer_id IS NULL
RETURNING id
"""
# Foreign keys are deferred, so dependents may go after their identity.
_DELETE_DEPENDENTS = (
    """DELETE FROM accounts_passwordresettoken t USING accounts_provideridentity p
    WHERE t.provider_identity_id = p.id AND p.auth_identity_id = ANY(%s)""",
    "DELETE FROM accounts_provideridentity WHERE auth_identity_id = ANY(%s)",
)


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
        locked = {row[0]: row for row in cursor.fetchall()}
        if not locked:
            return []
        cursor.execute(_DELETE_IDENTITIES, [list(locked)])
        deleted = [row[0] for row in cursor.fetchall()]
        if not deleted:
            return []
        for statement in _DELETE_DEPENDENTS:
            cursor.execute(statement, [deleted])
        deleted_at = timezone.now()
        username = deleter.staff_user.get_username() if deleter.staff_user else ""
        OrphanDeletion.objects.bulk_create(
            OrphanDeletion(
                auth_identity_id=identity_id,
                email_hash=email_hash(locked[identity_id][3])
                if locked[identity_id][3]
                else "",
                providers=list(locked[identity_id][2]),
                identity_created_at=locked[identity_id][1],
                deleted_at=deleted_at,
                trigger=deleter.trigger,
                staff_user=deleter.staff_user,
                staff_username=username,
                sweep_run=deleter.sweep_run,
            )
            for identity_id in deleted
        )
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
    progress: Callable[[SweepRun], None] | None = None,
) -> SweepRun:
    """Delete every sweepable orphan older than `older_than`, batch by batch.
    Idempotent: a second run, or one after an interrupted run, deletes what
    is left."""
    preview = orphans_sweep_preview(older_than=older_than, now=now, sample=0)
    SweepRun.objects.filter(
        status=SweepRun.Status.RUNNING, started_at__lt=now - timedelta(hours=6)
    ).update(status=SweepRun.Status.FAILED, error="interrupted")
    run = SweepRun.objects.create(
        trigger=trigger,
        dry_run=dry_run,
        cutoff=preview.cutoff,
        batch_size=batch_size,
        started_at=now,
        found=preview.sweepable,
        staff_user=staff_user,
    )
    deleter = Deleter(trigger=trigger, staff_user=staff_user, sweep_run=run)
    try:
        while not dry_run:
            deleted = orphans_delete_batch(
                cutoff=preview.cutoff, limit=batch_size, deleter=deleter
            )
            if not deleted:
                break
            run.deleted += len(deleted)
            SweepRun.objects.filter(pk=run.pk).update(deleted=run.deleted)
            if progress is not None:
                progress(run)
    except DatabaseError as exc:
        SweepRun.objects.filter(pk=run.pk).update(
            status=SweepRun.Status.FAILED,
            finished_at=timezone.now(),
            error=type(exc).__name__,
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
        },
    )
    return run


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
