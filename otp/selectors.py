from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Min
from django.db.transaction import TransactionManagementError

from core.rows import ModelRows, one_row
from otp.models import OtpChallenge, OtpFailureBudget, OtpMail, Purpose

# Also otp.services' INSERT of a challenge.
CHALLENGE_ROWS = ModelRows(OtpChallenge, "c")
# Written out (core/rows.py): every code check starts here.
_LATEST_FOR_UPDATE_SQL = f"""
SELECT {CHALLENGE_ROWS.columns} FROM otp_otpchallenge c
 WHERE c.email = %s AND c.purpose = %s
 ORDER BY c.created_at DESC LIMIT 1 FOR UPDATE
"""  # noqa: S608  (the column names come from the model)


def challenge_latest_for_update(
    *, email: str, purpose: str = Purpose.LOGIN
) -> OtpChallenge | None:
    """The newest challenge of an email for a purpose, row-locked
    (otp_email_purpose_created_idx) until the caller's transaction ends."""
    if connection.get_autocommit():
        # As select_for_update() refuses: outside a transaction the lock
        # would end with the statement, and attempts would go uncounted.
        raise TransactionManagementError("row lock outside a transaction")
    row = one_row(_LATEST_FOR_UPDATE_SQL, [email, purpose])
    return None if row is None else CHALLENGE_ROWS.instance(row)


def challenge_latest_for_subject(*, subject: str, purpose: str) -> OtpChallenge | None:
    """The newest challenge opened for a subject (an identity changing its
    address) and purpose (otp_subject_purpose_idx)."""
    return (
        OtpChallenge.objects.filter(subject=subject, purpose=purpose)
        .exclude(subject="")
        .order_by("-created_at")
        .first()
    )


def challenge_for_update(*, challenge_id: str, purpose: str) -> OtpChallenge | None:
    """One challenge by its id (the primary key), row-locked."""
    return (
        OtpChallenge.objects.select_for_update()
        .filter(pk=challenge_id, purpose=purpose)
        .first()
    )


_BUDGET = ModelRows(OtpFailureBudget, "b")
_BUDGET_SQL = f"""
SELECT {_BUDGET.columns} FROM otp_otpfailurebudget b WHERE b.email = %s
"""  # noqa: S608  (the column names come from the model)


def failure_budget(*, email: str) -> OtpFailureBudget:
    """The email's budget row, or an unsaved empty one (its primary key;
    written out as the challenge's read is)."""
    row = one_row(_BUDGET_SQL, [email])
    budget = None if row is None else _BUDGET.instance(row)
    return budget or OtpFailureBudget(email=email)


@dataclass(frozen=True)
class SendLimits:
    consecutive_failures: int
    # When the email's challenges of the purpose opened within the last
    # hour, or since staff cleared its limits, the newest first.
    recent: list[datetime]


# One round trip for every limit a send checks: the failure budget (a row
# that may not exist) and the challenges it counts. GREATEST skips a NULL
# cleared_at.
_SEND_LIMITS_SQL = """
SELECT b.consecutive_failures,
       ARRAY(SELECT c.created_at FROM otp_otpchallenge c
              WHERE c.email = %(email)s AND c.purpose = %(purpose)s
                AND c.created_at > GREATEST(%(hour_ago)s, b.cleared_at)
              ORDER BY c.created_at DESC)
  FROM (SELECT 1) AS one
  LEFT JOIN otp_otpfailurebudget b ON b.email = %(email)s
"""


def send_limits(*, email: str, purpose: str, now: datetime) -> SendLimits:
    """The counts a send of `purpose` to `email` is checked against
    (otp_email_purpose_created_idx, the budget's primary key)."""
    row = one_row(
        _SEND_LIMITS_SQL,
        {"email": email, "purpose": purpose, "hour_ago": now - timedelta(hours=1)},
    )
    failures, recent = row or (0, [])  # the query always yields its one row
    return SendLimits(consecutive_failures=failures or 0, recent=recent)


@dataclass(frozen=True)
class MailsWaiting:
    count: int
    oldest_at: datetime | None


def mails_waiting() -> MailsWaiting:
    """The code mails not sent yet (otp/mail.py), in one query over a table
    that stays small: sent rows are deleted."""
    row = OtpMail.objects.aggregate(count=Count("id"), oldest_at=Min("created_at"))
    return MailsWaiting(**row)
