"""What an orphan is, in one place: an auth identity with no customer,
created before a cut-off. The sweep, the admin, the metrics and the command
all start from `orphans_older_than`, which the partial index
`authid_orphan_created_idx` serves (its cost follows the orphans, not all
identities; see docs/runbook.md for the EXPLAIN)."""

from datetime import date, datetime, timedelta
from typing import TypedDict

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate

from accounts.models import AuthIdentity, Customer
from core.durations import duration_parse
from orphans.models import OrphanDeletion, OrphanEvent, OrphanHold, SignupGate


def orphan_max_age() -> timedelta:
    return duration_parse(settings.ORPHAN_MAX_AGE)


def orphans_older_than(
    *, cutoff: datetime, include_held: bool = True
) -> QuerySet[AuthIdentity]:
    # "Older" means untouched since the cut-off: issuing a registration token
    # touches updated_at (a resumed signup is not swept under its token).
    orphans = AuthIdentity.objects.filter(
        customer__isnull=True, created_at__lt=cutoff, updated_at__lt=cutoff
    )
    if not include_held:
        orphans = orphans.exclude(
            Exists(OrphanHold.objects.filter(auth_identity_id=OuterRef("pk")))
        )
    return orphans


def orphans_count(*, now: datetime) -> int:
    """Current orphans: unlinked identities past the grace period in which a
    signup normally finishes."""
    grace = duration_parse(settings.ORPHAN_GRACE_PERIOD)
    return orphans_older_than(cutoff=now - grace).count()


def signups_paused() -> bool:
    return SignupGate.objects.filter(pk=1, paused_at__isnull=False).exists()


def orphan_failures_since(*, since: datetime) -> int:
    """Orphans our side caused (not the client's refused input): the
    circuit breaker's count."""
    return OrphanEvent.objects.filter(created_at__gte=since, rejected=False).count()


class DayFigures(TypedDict):
    day: date
    created: int
    cleaned: int


class OrphanStats(TypedDict):
    days: list[DayFigures]
    cleaned_within_24h: float | None
    signup_success_rate: float | None
    current_orphans: int
    overdue: int


def orphan_stats(*, now: datetime, days: int = 7) -> OrphanStats:
    """Figures for the admin dashboard (docs/runbook.md defines each)."""
    since = (now - timedelta(days=days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    created = dict(
        OrphanEvent.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("*"))
    )
    cleaned = dict(
        OrphanDeletion.objects.filter(deleted_at__gte=since)
        .annotate(day=TruncDate("deleted_at"))
        .values_list("day")
        .annotate(n=Count("*"))
    )
    day_list = [(since + timedelta(days=i)).date() for i in range(days)]
    max_age = orphan_max_age()
    # "Cleaned within 24h": deleted at most 24h after it became sweepable.
    window = max_age + timedelta(hours=24)
    # Counted in the database: a big sweep leaves a million audit rows.
    recent = OrphanDeletion.objects.filter(
        deleted_at__gte=now - timedelta(days=days)
    ).aggregate(
        deleted=Count("*"),
        on_time=Count(
            "pk", filter=Q(deleted_at__lte=F("identity_created_at") + window)
        ),
    )
    on_time = recent["on_time"]
    overdue = orphans_older_than(cutoff=now - window, include_held=False).count()
    total = recent["deleted"] + overdue
    return {
        "days": [
            {"day": day, "created": created.get(day, 0), "cleaned": cleaned.get(day, 0)}
            for day in day_list
        ],
        "cleaned_within_24h": (on_time / total) if total else None,
        "signup_success_rate": signup_success_rate(now=now, days=days),
        "current_orphans": orphans_count(now=now),
        "overdue": overdue,
    }


def signup_success_rate(*, now: datetime, days: int) -> float | None:
    """Signups of the period that ended with a customer, over all signups of
    the period: finished ones, plus identities still without a customer past
    the grace period (failed or abandoned step 2)."""
    since = now - timedelta(days=days)
    grace = duration_parse(settings.ORPHAN_GRACE_PERIOD)
    finished = Customer.objects.filter(has_account=True, created_at__gte=since).count()
    unfinished = (
        orphans_older_than(cutoff=now - grace).filter(created_at__gte=since).count()
        # Deleted after it was created: deleted_at's index bounds the read.
        + OrphanDeletion.objects.filter(
            deleted_at__gte=since, identity_created_at__gte=since
        ).count()
    )
    total = finished + unfinished
    return finished / total if total else None
