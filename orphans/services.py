"""Orphans: auth identities whose customer profile was never created."""

import logging
from datetime import datetime

from django.db import DatabaseError

from accounts.emails import email_hash
from accounts.selectors import auth_identity_email
from config.errors import ApiError

logger = logging.getLogger("orphans")

PROFILE_FAILURE_EVENT = "Customer profile creation failed after auth registration"


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
    with the email as HMAC-SHA256 only."""
    try:
        email = auth_identity_email(auth_identity_id=auth_identity_id)
    except DatabaseError:
        email = None
    logger.error(
        PROFILE_FAILURE_EVENT,
        extra={
            "event": "orphan_profile_failure",
            "userId": email_hash(email) if email else None,
            "authIdentityId": auth_identity_id,
            "error": error_summary(error),
            "timestamp": now.isoformat(),
        },
    )
