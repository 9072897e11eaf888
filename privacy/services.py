"""Writes: the erasure audit row, and the notice to the erased address,
queued once the erasure has committed."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.emails import email_hash
from core.locale import mail_language, request_language
from core.tasks import notice_publish
from privacy.models import Erasure


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

    notice_publish(
        account_deleted_email_send_task,
        kwargs={"email": email, "language": language},
        kwargsrepr={"email": email_hash(email)},
        what="Account deletion",
    )
