"""The seed-000 event: a failed profile step leaves an orphan, logged with
the email as an HMAC, counted once per identity, and weighed by the signup
circuit breaker when the failure is ours."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError

from accounts.models import AuthIdentity
from accounts.selectors import auth_identity_email
from core import metrics
from core.emails import email_hash
from core.errors import ApiError
from orphans import selectors
from orphans.models import OrphanEvent
from orphans.services.gate import signups_pause

logger = logging.getLogger("orphans")


PROFILE_FAILURE_EVENT = "Customer profile creation failed after auth registration"


def error_summary(error: BaseException) -> str:
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
