"""The code mails' outbox: a challenge's mail is a row (OtpMail) written in
the statement that opens the challenge (otp.services.otp_challenge_replace),
and drains send them in batches.

Why not one Celery task per mail: a task's message, pool hand-off,
acknowledgement and once-record cost the worker more than the mail itself
(docs/performance.md, "Where a complete code login's CPU goes"), and a
broker that was down made the request fail with its code unsent. Here the
request writes one row and, after its commit, queues a drain unless one is
queued (core/queued.py); a drain sends every row it finds.

Sent once: a drain leases a batch of rows (`send_after` moved past the
batch's end, `leased_by` naming its process), sends each, and deletes each
row as soon as its mail has left. Crash windows (docs/deploy.md, "Mail
delivered once"):
- killed before a send: the lease holds its rows until a drain of the same
  machine sees its process dead (at once, core/delivery.py) or the lease
  ends (MAIL_CLAIM_SECONDS): delivered, late, never lost;
- killed between a send and its row's delete: one duplicate, in the window
  of one statement;
- the database lost in a batch: the rows not sent are handed back (or
  wait for their lease, if it is lost for good). The row whose mail had
  just left is deleted again and again while the lease allows (a
  PgBouncer restart, a failover: seconds); an outage longer than that
  leaves it to its lease: one duplicate.
A transient mail failure (core/mail.py) backs off the row (5 s, 10 s, ...
2 min); a refused address or a seal that cannot be opened drops it,
logged. A mail whose challenge is no longer live (replaced, used, locked,
expired) is dropped unsent: its code could not log in."""

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
    connection,
    transaction,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now
from django.views.decorators.debug import sensitive_variables

from core import delivery
from core.emails import email_hash
from core.locale import mail_language
from core.mail import MailNotDelivered, TransientMailFailure, templated_mail_send
from core.queued import DrainQueued
from core.seal import SealBroken, seal, unseal
from core.tasks import outage_backoff
from otp.models import OtpChallenge, OtpMail

logger = logging.getLogger("otp")

SEAL_LABEL = "otp.mail"
# Held while a drain runs (otp/tasks.py): a short life, so a drain that
# died stops holding back kicks soon.
DRAIN = DrainQueued("otp-mail", seconds=15, bell=True)
BATCH_SIZE = 20
DRAIN_SECONDS = 10.0
# How long a drain waits for more mail before it ends (woken by each
# mail's kick: core/queued.py's bell).
LINGER_SECONDS = 0.25


# A code mail that says only these is the same text for every code of a
# language but for the code: rendered once (core/mail.py, `varying`). One
# with more (a verification link) is rendered each time: its link differs
# from mail to mail and would only fill the cache.
_CODE_AND_LIFETIME = frozenset({"code", "minutes"})


@dataclass(frozen=True)
class CodeMail:
    """What a challenge's mail says: templated_mail_send's `templates` and
    context (the code is in it), to whom (the address the code proves), in
    the request's language (None: the one the address's registered
    customer left, read with the drain's lease)."""

    to: str
    templates: str
    context: dict[str, Any]
    language: str | None


# Builds a challenge's mail from the challenge and its code.
MailFor = Callable[[OtpChallenge, str], CodeMail]


@sensitive_variables("code")
def code_mail(
    *, to: str, templates: str, code: str, language: str | None, **context: str
) -> CodeMail:
    """A code's mail: the code and its lifetime in minutes, and `context`."""
    return CodeMail(
        to=to,
        templates=templates,
        context={"code": code, "minutes": settings.OTP_TTL_SECONDS // 60, **context},
        language=language,
    )


@sensitive_variables("mail")
def mail_sealed(*, challenge: OtpChallenge, mail: CodeMail) -> str:
    """`challenge`'s mail as its OtpMail row holds it: sealed until the
    challenge expires. The row is written with the challenge
    (otp.services.otp_challenge_replace), then mail_queued(). The mail
    goes to the address the code proves: the drain's lease reads that
    address's language (_LEASE_SQL)."""
    if mail.to != challenge.email:
        raise ValueError("a code's mail goes to the address its challenge proves")
    return seal(
        task=SEAL_LABEL,
        kwargs=asdict(mail),
        expires_at=challenge.expires_at.timestamp(),
    )


def mail_queued() -> None:
    """A drain is queued once the mail's row has committed."""
    transaction.on_commit(mail_kick, robust=True)


def mail_kick() -> None:
    """Queue a drain unless one is queued; never fails the caller (the mail
    is in PostgreSQL, and beat kicks every minute)."""
    from otp.tasks import otp_mail_drain_task

    DRAIN.kick(otp_mail_drain_task)


@dataclass
class Drained:
    sent: int = 0
    dropped: int = 0  # dead challenge, refused address, broken seal
    deferred: int = 0  # transient failure: backed off
    more: bool = False  # rows left when the time budget ran out
    taken_over: int = 0  # rows of a dead process's lease
    retry_in: float | None = None  # the soonest deferred row, in seconds


@dataclass(frozen=True)
class _Leased:
    id: int
    sealed: str
    attempts: int
    live: bool
    # The stored language (Customer.locale) of the address's registered
    # customer: the mail's when its request named none.
    locale: str | None


# A batch taken in one statement: the oldest rows whose time has come,
# skipping rows another drain holds, with whether their challenge is live,
# and the locale of the registered customer of the challenge's address (a
# code's mail goes to the address it proves; one at most:
# customer_registered_email_uniq, whose condition the join repeats).
# statement_timestamp(), as Django's Now() writes `send_after`.
_LEASE_SQL = """
UPDATE otp_otpmail AS m
   SET send_after = statement_timestamp() + make_interval(secs => %(lease)s),
       attempts = m.attempts + 1,
       leased_by = %(me)s
  FROM otp_otpchallenge AS c
  LEFT JOIN accounts_customer AS cu
    ON lower(cu.email) = c.email AND cu.has_account AND cu.deleted_at IS NULL
 WHERE m.id IN (
         SELECT id FROM otp_otpmail WHERE send_after <= statement_timestamp()
          ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED)
   AND c.id = m.challenge_id
RETURNING m.id, m.sealed, m.attempts,
          c.consumed_at IS NULL AND c.locked_at IS NULL
          AND c.replaced_at IS NULL AND c.expires_at > statement_timestamp(),
          cu.locale
"""


def mails_drain(
    *,
    seconds: float = DRAIN_SECONDS,
    batch_size: int = BATCH_SIZE,
    linger: float = 0.0,
    wait: Callable[[float], object] = time.sleep,
    dead_leases: bool = True,
) -> Drained:
    """Send the mails whose time has come, batch after batch, for about
    `seconds`. With `linger`, an outbox found empty is looked at again each
    time `wait(seconds left)` returns (a writer woke it, or the time ran
    out) until it has stayed empty that long: under load one drain then
    sends mail after mail as they are committed, instead of one task each.
    First the leases of dead processes are handed back, unless not
    `dead_leases` (a drain's last look: its first did it).
    Raises DatabaseError (the task retries)."""
    result = Drained()
    if dead_leases:
        result.taken_over = _dead_leases_release()
    deadline = time.monotonic() + seconds
    empty_since: float | None = None
    while True:
        batch = _lease(batch_size)
        if not _batch_send(batch, result):
            return result
        now = time.monotonic()
        full = len(batch) == batch_size
        if now >= deadline:
            result.more = full
            return result
        if full:
            continue
        if batch or empty_since is None:
            empty_since = now
        left = min(linger - (now - empty_since), deadline - now)
        if left <= 0:
            return result
        wait(left)


def _batch_send(batch: list[_Leased], result: Drained) -> bool:
    """Send a leased batch; False when the lease ran short and the rest was
    handed back (result.more is set)."""
    # Rows not started by then are handed back: a send can take a few
    # EMAIL_TIMEOUT waits (config/settings/base.py, MAIL_CLAIM_SECONDS),
    # and a lease that ended lets another drain send it too.
    hand_back_at = time.monotonic() + _lease_seconds() - 6 * _send_seconds()
    mails = {row.id: _opened(row) for row in batch if row.live}
    for index, row in enumerate(batch):
        if time.monotonic() > hand_back_at:
            _release([r.id for r in batch[index:]])
            result.more = True
            return False
        try:
            _send(row, mails.get(row.id), result, hand_back_at)
        except _SentNotDeleted:
            # Its mail left, the database still failing: the row waits for
            # its lease (a duplicate then, unless a delete went through).
            _release([r.id for r in batch[index + 1 :]])
            raise
        except DatabaseError:
            _release([r.id for r in batch[index:]])
            raise
        except Exception as exc:  # noqa: BLE001  (one bad row holds no other)
            # A template or a row this code cannot read: logged by kind
            # (its text may quote the mail), tried again until it expires.
            logger.error(
                "otp_mail_failed", extra={"mailId": row.id, "error": type(exc).__name__}
            )
            _defer(row, result)
    return True


def _lease_seconds() -> int:
    return int(settings.MAIL_CLAIM_SECONDS)


def _send_seconds() -> int:
    return int(settings.EMAIL_TIMEOUT)


def _lease(batch_size: int) -> list[_Leased]:
    with connection.cursor() as cursor:
        cursor.execute(
            _LEASE_SQL,
            {"lease": _lease_seconds(), "me": delivery.process_tag(), "n": batch_size},
        )
        rows = cursor.fetchall()
    return sorted((_Leased(*row) for row in rows), key=lambda row: row.id)


def _opened(row: _Leased) -> dict[str, Any] | None:
    """The row's mail, or None (logged) when its seal does not open."""
    try:
        return unseal(row.sealed, task=SEAL_LABEL)
    except SealBroken as broken:
        logger.error(
            "otp_mail_unreadable",
            extra={"mailId": row.id, "reason": broken.reason},
        )
        return None


@sensitive_variables("mail")
def _send(
    row: _Leased,
    mail: dict[str, Any] | None,
    result: Drained,
    hand_back_at: float,
) -> None:
    """`mail`: the row's, opened (None: it does not open); `hand_back_at`:
    the monotonic time up to which the lease is sure."""
    if not row.live or mail is None:
        _delete(row.id)
        result.dropped += 1
        return
    to = mail["to"]
    try:
        templated_mail_send(
            templates=mail["templates"],
            context=mail["context"],
            to=to,
            language=mail_language(mail["language"], row.locale),
            varying="code" if mail["context"].keys() <= _CODE_AND_LIFETIME else None,
        )
    except TransientMailFailure as exc:
        backoff = _defer(row, result)
        logger.warning(
            "otp_mail_deferred",
            extra={"userId": email_hash(to), "error": str(exc), "retryIn": backoff},
        )
        return
    except MailNotDelivered as exc:
        logger.error(
            "otp_mail_refused", extra={"userId": email_hash(to), "error": str(exc)}
        )
        _delete(row.id)
        result.dropped += 1
        return
    _sent_delete(row.id, until=hand_back_at)
    result.sent += 1


class _SentNotDeleted(DatabaseError):
    """The mail left, then the database failed before its row was deleted."""


# A statement PostgreSQL refuses as such: no retry heals it.
_LASTING_ERRORS = (DataError, IntegrityError, NotSupportedError, ProgrammingError)


def _sent_delete(mail_id: int, *, until: float) -> None:
    """Delete a row whose mail has left. While its lease holds, a database
    that fails (a PgBouncer restart, a failover) is waited for, 0.1 s,
    0.2 s, ... 2 s apart, on a new connection: a row left behind would be
    sent again when the lease ends, or at once if this worker dies. (The
    drain's mark may lapse meanwhile: a kick then queues another drain,
    which meets the same database.) Not retried: an error of the statement
    itself, or any inside a transaction (the drain runs in none; a test's
    would stay aborted)."""
    pause = 0.1
    while True:
        try:
            _delete(mail_id)
            return
        except DatabaseError as exc:
            if (
                isinstance(exc, _LASTING_ERRORS)
                or connection.in_atomic_block
                or time.monotonic() + pause > until
            ):
                raise _SentNotDeleted(str(exc)) from exc
            logger.warning(
                "otp_mail_delete_retried",
                extra={"mailId": mail_id, "error": type(exc).__name__},
            )
        connection.close()  # a broken connection is not reused; the next opens anew
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def _defer(row: _Leased, result: Drained) -> float:
    """Try the row again later: 5 s, 10 s, ... 2 min after each failure,
    until its challenge expires; return the wait."""
    backoff = outage_backoff(row.attempts - 1)
    OtpMail.objects.filter(pk=row.id).update(
        send_after=_seconds_from_now(backoff), leased_by=""
    )
    result.deferred += 1
    result.retry_in = min(result.retry_in or backoff, backoff)
    return backoff


def _seconds_from_now(seconds: float) -> CombinedExpression:
    return Now() + timedelta(seconds=seconds)


def _delete(mail_id: int) -> None:
    # One statement: QuerySet.delete() wraps its DELETE in a transaction of
    # its own, two round trips more for each mail sent.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM otp_otpmail WHERE id = %s", [mail_id])


def _release(ids: list[int]) -> None:
    """Rows this drain leased and will not send: the next drain's."""
    if ids:
        OtpMail.objects.filter(pk__in=ids).update(
            send_after=_seconds_from_now(0), leased_by=""
        )


def _dead_leases_release() -> int:
    """Rows leased by a process of this machine that died (a worker killed
    mid-batch): sendable now rather than when the lease ends."""
    holders = (
        OtpMail.objects.exclude(leased_by="")
        .values_list("leased_by", flat=True)
        .distinct()
    )
    dead = [holder for holder in holders if delivery.process_gone(holder)]
    if not dead:
        return 0
    taken = OtpMail.objects.filter(leased_by__in=dead).update(
        send_after=_seconds_from_now(0), leased_by=""
    )
    logger.warning("otp_mail_lease_taken_over", extra={"mails": taken})
    return taken
