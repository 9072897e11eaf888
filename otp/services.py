"""One-time codes by e-mail: send, verify, lockout. What a right code logs
into is the caller's (flows/otp_login.py finds or creates the identity).

Threat model: online guessing of a 10^6 code space. Defences, all counted in
PostgreSQL under the challenge's row lock: at most OTP_MAX_ATTEMPTS codes are
ever evaluated per challenge (parallel requests queue on the lock), at most
OTP_CODES_PER_HOUR challenges an hour per email, and OTP stops for an email
after OTP_FAILURE_CEILING consecutive failures until a login that proves
the mailbox (a code, a reset link, or a password once the mailbox was
proven) or staff reset it. Redis limits per client and per email only slow
floods. Codes expire, work once, and are stored as keyed HMACs. Send answers
alike for known and unknown emails. Not defended here: a mailbox the attacker already
reads (that is the e-mail provider's security).
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.views.decorators.debug import sensitive_variables

from core.emails import email_hash, email_normalize, email_parse
from core.errors import (
    ApiError,
    InvalidData,
    NotAllowed,
    TooManyRequests,
)
from core.locale import request_language
from core.ratelimit import rate_limit
from otp import codes, selectors
from otp.mail import MailFor, code_mail, mail_queued, mail_sealed
from otp.models import OtpChallenge, OtpFailureBudget, Purpose

logger = logging.getLogger("otp")

T = TypeVar("T")

HOUR = 3600


CODE_REQUESTS_TOO_MANY = "Too many code requests, please try again later"


def _too_many(retry_after: float) -> TooManyRequests:
    return TooManyRequests(
        CODE_REQUESTS_TOO_MANY,
        retry_after=max(1, int(retry_after + 0.999)),
    )


def otp_send(*, email: str, ip: str, now: datetime) -> int:
    """Open a login challenge and queue its code's mail (in the same
    statement: otp/mail.py); return its lifetime in seconds."""
    email = email_parse(email)
    language = request_language()
    otp_challenge_open(
        email=email,
        purpose=Purpose.LOGIN,
        ip=ip,
        now=now,
        mail=lambda challenge, code: code_mail(
            to=email, templates="otp/email/", code=code, language=language
        ),
    )
    return settings.OTP_TTL_SECONDS


def otp_challenge_open(
    *,
    email: str,
    purpose: str,
    ip: str,
    now: datetime,
    mail: MailFor,
    subject: str = "",
) -> OtpChallenge:
    """Every limit of a send (Redis per client and per email, then the
    cooldown, hourly budget and failure ceiling of the email and purpose in
    PostgreSQL), then a new challenge replacing the open one, and its mail
    (`mail(challenge, code)`) in the same statement. `email` is in normal
    form; `subject` names whose challenge it is when the address is not the
    account's yet (an e-mail change)."""
    rate_limit(
        ("otp-send-ip", ip, settings.OTP_SEND_LIMIT_PER_IP, HOUR),
        ("otp-send-email", email, settings.OTP_SEND_LIMIT_PER_EMAIL, HOUR),
        message=CODE_REQUESTS_TOO_MANY,
    )
    return _challenge_open(
        email=email, purpose=purpose, now=now, mail=mail, subject=subject
    )


@sensitive_variables("code")
def _challenge_open(
    *, email: str, purpose: str, now: datetime, mail: MailFor, subject: str = ""
) -> OtpChallenge:
    limits = selectors.send_limits(email=email, purpose=purpose, now=now)
    if limits.consecutive_failures >= settings.OTP_FAILURE_CEILING:
        raise _too_many(HOUR)
    recent = limits.recent
    cooldown = timedelta(seconds=settings.OTP_RESEND_COOLDOWN_SECONDS)
    if recent and now - recent[0] < cooldown:
        raise _too_many((recent[0] + cooldown - now).total_seconds())
    if len(recent) >= settings.OTP_CODES_PER_HOUR:
        oldest = recent[settings.OTP_CODES_PER_HOUR - 1]
        raise _too_many((oldest + timedelta(hours=1) - now).total_seconds())
    code = codes.code_generate()
    try:
        challenge = otp_challenge_replace(
            email=email,
            code=code,
            now=now,
            purpose=purpose,
            subject=subject,
            mail=mail,
        )
    except IntegrityError:
        # A parallel send opened this email's challenge a moment ago.
        raise _too_many(settings.OTP_RESEND_COOLDOWN_SECONDS) from None
    return challenge


@sensitive_variables("code")
def otp_challenge_replace(
    *,
    email: str,
    code: str,
    now: datetime,
    purpose: str = Purpose.LOGIN,
    subject: str = "",
    mail: MailFor | None = None,
) -> OtpChallenge:
    """Close the email's open challenge of this purpose and open one for
    `code` (no limits: callers check them), with its mail (`mail(challenge,
    code)`, otp/mail.py) if given, in one statement: no transaction of its
    own, so a code request's writes are one round trip. The limits read
    before it need none either: the unique open challenge per email and
    purpose is what parallel sends meet (an IntegrityError). Every caller
    runs in autocommit (the API views; a sign-up's verification, after its
    commit): inside a transaction, that IntegrityError would leave it
    aborted."""
    challenge = OtpChallenge(
        email=email,
        purpose=purpose,
        subject=subject,
        max_attempts=settings.OTP_MAX_ATTEMPTS,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS),
    )
    challenge.code_hash = codes.code_hash(challenge_id=challenge.id, code=code)
    values = [now, email, purpose, *_CHALLENGE.values(challenge)]
    if mail is None:
        sql = _REPLACE_SQL
    else:
        sql = _REPLACE_WITH_MAIL_SQL
        values.append(mail_sealed(challenge=challenge, mail=mail(challenge, code)))
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
    if mail is not None:
        mail_queued()
    return _CHALLENGE.inserted(challenge)


_CHALLENGE = selectors.CHALLENGE_ROWS
# The open challenge closed and the new one inserted in one round trip. The
# INSERT's row depends on the UPDATE's count (used in its WHERE, so no
# planner can drop it), so the old row is closed before the new one meets
# otp_one_open_challenge_per_email_purpose (a CTE's statements otherwise
# run in no fixed order).
_REPLACED = """
WITH replaced AS (
  UPDATE otp_otpchallenge SET replaced_at = %s
   WHERE email = %s AND purpose = %s AND consumed_at IS NULL
     AND locked_at IS NULL AND replaced_at IS NULL
  RETURNING 1
)"""
_OPENED = f"""
INSERT INTO otp_otpchallenge ({_CHALLENGE.names})
SELECT {_CHALLENGE.placeholders} FROM (SELECT count(*) AS n FROM replaced) AS done
 WHERE done.n >= 0"""  # noqa: S608  (the column names come from the model)
_REPLACE_SQL = _REPLACED + _OPENED
# And its mail in the same statement (its foreign key is checked at
# commit: migration 0005).
_REPLACE_WITH_MAIL_SQL = f"""{_REPLACED}, opened AS ({_OPENED} RETURNING id)
INSERT INTO otp_otpmail (challenge_id, sealed) SELECT id, %s FROM opened"""  # noqa: S608


def _not_found() -> InvalidData:
    return InvalidData(
        "No active code for this email; request a new one", code="otp_not_found"
    )


def _locked() -> NotAllowed:
    return NotAllowed("Too many wrong codes; request a new code", code="otp_locked")


def _refusal(
    challenge: OtpChallenge, *, failures: int, now: datetime
) -> ApiError | None:
    """Why a code or link for `challenge` cannot work, if it cannot;
    `failures`: its address's consecutive failures, read under the
    challenge's lock."""
    if challenge.consumed_at or challenge.replaced_at:
        return _not_found()
    if challenge.locked_at:
        return _locked()
    if failures >= settings.OTP_FAILURE_CEILING:
        return _locked()
    if challenge.expires_at <= now:
        return InvalidData(
            "This code has expired; request a new one", code="otp_expired"
        )
    return None


@sensitive_variables("code")
def otp_verify(
    *,
    email: str,
    code: str,
    ip: str,
    now: datetime,
    login: Callable[[str], T],
    purpose: str = Purpose.LOGIN,
    subject: str | None = None,
) -> T:
    """Check a code. A wrong code is counted in a transaction that commits
    before the error is raised; a right one is consumed in the transaction
    that runs `login(email)` (the caller's: find the account, sign a token),
    so a failure there leaves the code usable. With `subject`, the newest
    challenge must be that subject's (another's replaced it: not found)."""
    rate_limit(("otp-verify-ip", ip, settings.OTP_VERIFY_LIMIT_PER_IP, 600))
    email = email_normalize(email)
    error: ApiError | None = None
    with transaction.atomic():
        challenge = selectors.challenge_latest_for_update(email=email, purpose=purpose)
        if challenge is None or (subject is not None and challenge.subject != subject):
            error = _not_found()
        else:
            failures = selectors.failure_budget(email=email).consecutive_failures
            error = _refusal(challenge, failures=failures, now=now)
            if (
                error is None
                and codes.code_is_well_formed(code)
                and codes.code_matches(
                    challenge_id=challenge.id,
                    code=code,
                    expected_hash=challenge.code_hash,
                )
            ):
                return _consumed_login(
                    challenge, counted=True, failures=failures, now=now, login=login
                )
            if error is None:
                error = _wrong_code(challenge, now=now)
    raise error


def _wrong_code(challenge: OtpChallenge, *, now: datetime) -> ApiError:
    attempts = challenge.attempts + 1
    challenge.attempts = attempts
    fields = ["attempts"]
    if attempts >= challenge.max_attempts:
        challenge.locked_at = now
        fields.append("locked_at")
    challenge.save(update_fields=fields)
    budget, _ = OtpFailureBudget.objects.get_or_create(email=challenge.email)
    OtpFailureBudget.objects.filter(pk=budget.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, updated_at=now
    )
    if challenge.locked_at:
        logger.warning(
            "OTP challenge locked after wrong codes",
            extra={"userId": email_hash(challenge.email), "challengeId": challenge.id},
        )
        return _locked()
    return InvalidData(
        "Invalid code",
        code="otp_invalid",
        remainingAttempts=challenge.max_attempts - attempts,
    )


@sensitive_variables("token")
def otp_verify_link(
    *, token: str, purpose: str, ip: str, now: datetime, login: Callable[[str], T]
) -> T:
    """Check a mailed link's token: it names its challenge (signed, so it
    cannot be guessed: a wrong one is not counted against the address);
    the challenge is consumed, under its row lock, in the transaction that
    runs `login(email)`, with the same refusals as a code (used or replaced,
    locked, expired)."""
    rate_limit(("otp-verify-ip", ip, settings.OTP_VERIFY_LIMIT_PER_IP, 600))
    challenge_id = codes.link_token_challenge_id(token)
    with transaction.atomic():
        challenge = (
            selectors.challenge_for_update(challenge_id=challenge_id, purpose=purpose)
            if challenge_id
            else None
        )
        if challenge is None:
            raise InvalidData("Invalid or unknown link", code="otp_not_found")
        failures = selectors.failure_budget(email=challenge.email).consecutive_failures
        error = _refusal(challenge, failures=failures, now=now)
        if error is None:
            return _consumed_login(
                challenge, counted=False, failures=failures, now=now, login=login
            )
    raise error


def _consumed_login(
    challenge: OtpChallenge,
    *,
    counted: bool,
    failures: int,
    now: datetime,
    login: Callable[[str], T],
) -> T:
    """A right code (`counted`: an attempt) or link: the challenge consumed
    and the login run, in the caller's transaction. No write to the budget
    for the usual login without failures. (A wrong code for another
    purpose's challenge at this very moment stays counted: stricter, never
    looser.)"""
    with connection.cursor() as cursor:
        cursor.execute(_CONSUME_SQL, [now, 1 if counted else 0, challenge.id])
    challenge.consumed_at = now
    challenge.attempts += 1 if counted else 0
    if failures:
        otp_failures_reset(email=challenge.email)
    return login(challenge.email)


# Every code login's write to its challenge, without the ORM's save.
_CONSUME_SQL = """
UPDATE otp_otpchallenge SET consumed_at = %s, attempts = attempts + %s WHERE id = %s
"""


def otp_failures_reset(*, email: str) -> None:
    OtpFailureBudget.objects.filter(
        email=email_normalize(email), consecutive_failures__gt=0
    ).update(consecutive_failures=0)


@transaction.atomic
def otp_lockout_clear(*, email: str, now: datetime) -> OtpFailureBudget:
    """Staff lift every OTP limit of an address: the failure count and the
    hourly code budget start again."""
    budget, _ = OtpFailureBudget.objects.select_for_update().get_or_create(email=email)
    budget.consecutive_failures = 0
    budget.cleared_at = now
    budget.updated_at = now
    budget.save()
    return budget


def otp_challenges_purge(*, now: datetime) -> int:
    """Forget challenges older than a day: they are dead (10-minute codes,
    1-hour budget) and hold plain emails we have no reason to keep."""
    _, deleted = OtpChallenge.objects.filter(
        created_at__lt=now - timedelta(days=1)
    ).delete()
    return deleted.get(OtpChallenge._meta.label, 0)


def otp_address_forget(*, email: str) -> None:
    """An erased account's address (flows/erasure.py): its challenges go.
    Its failure budget goes too unless it counts wrong codes: a lockout in
    progress is a defence of the address, not data about the account, and
    outlives it (docs/account.md, "Deleting the account")."""
    email = email_normalize(email)
    OtpChallenge.objects.filter(email=email).delete()
    OtpFailureBudget.objects.filter(email=email, consecutive_failures=0).delete()
