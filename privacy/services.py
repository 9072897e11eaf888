"""Writes: the erasure audit row, and the notice to the erased address,
queued once the erasure has committed."""

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.emails import email_hash
from core.locale import mail_language, request_language
from core.tasks import BrokerUnavailable, publish
from privacy.models import Erasure

logger = logging.getLogger("privacy")

# The notice names nothing the message could not be sent without: a
# message not delivered within a day is dropped (the address may belong to
# someone else by then).
NOTICE_EXPIRES_SECONDS = 24 * 3600


def erasure_record(
    *,
    customer_id: str,
    email: str,
    proof: str,
    staff_user: AbstractBaseUser | None,
    now: datetime,
) -> Erasure:
    return Erasure.objects.create(
        customer_id=customer_id,
        email_hash=email_hash(email),
        erased_at=now,
        actor=Erasure.Actor.STAFF if staff_user is not None else Erasure.Actor.CUSTOMER,
        proof=proof,
        staff_user_id=staff_user.pk if staff_user is not None else None,
        staff_username=staff_user.get_username() if staff_user is not None else "",
    )


def erasure_notice_after_commit(*, email: str, locale: str | None) -> None:
    """Mail "your account was deleted" once the transaction commits, in the
    request's language, else the customer's (`locale`, read before the row
    went); a broker outage is logged and never fails (or undoes) the
    erasure."""
    language = mail_language(request_language(), locale)
    transaction.on_commit(lambda: erasure_notice_queue(email=email, language=language))


def erasure_notice_queue(*, email: str, language: str | None = None) -> None:
    from privacy.tasks import account_deleted_email_send_task

    try:
        publish(
            account_deleted_email_send_task,
            kwargs={"email": email, "language": language},
            kwargsrepr={"email": email_hash(email)},
            expires=NOTICE_EXPIRES_SECONDS,
        )
    except BrokerUnavailable as exc:
        logger.error(
            "Account deletion notice could not be queued",
            extra={"userId": email_hash(email), "error": str(exc)},
        )
