"""The sweep: every sweepable orphan older than a cut-off, batch by batch,
on one or more database connections, with a run row that counts progress
and survives an interruption."""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import AuthIdentity
from orphans import selectors
from orphans.models import (
    OrphanDeletion,
    SweepRun,
)
from orphans.services.deletion import Deleter, orphans_delete_batch
from orphans.services.events import error_summary

logger = logging.getLogger("orphans")


@dataclass(frozen=True)
class SweepPreview:
    cutoff: datetime
    sweepable: int
    held: int
    sample: list[AuthIdentity]


def orphans_sweep_preview(
    *, older_than: timedelta, now: datetime, sample: int = 20
) -> SweepPreview:
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
    staff_user: User | None = None,
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
