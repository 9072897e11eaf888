from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from accounts.selectors import mail_language_for_email
from core.mail import templated_mail_send
from core.tasks import SealedTask, database_outage_retry


# The code is a credential: its arguments cross the broker sealed
# (SealedTask: encrypted with a key Redis never sees), no result is stored
# (ignore_result), the worker logs the masked kwargsrepr the caller passes,
# and the message and its seal expire with the code (`expires` =
# OTP_TTL_SECONDS at publish time).
# A database outage while the worker looks up the mail's language (a
# PgBouncer restart, a failover) is retried, as the reset mail's is: the
# route has answered 200, so the code must not be lost (found by
# tests/topology/test_faults.py). 5 s, 10 s, ... within the code's TTL.
@shared_task(
    base=SealedTask, bind=True, ignore_result=True, acks_late=True, max_retries=6
)
def otp_email_send_task(
    self: SealedTask, *, email: str, code: str, language: str | None = None
) -> None:
    try:
        language = mail_language_for_email(email=email, language=language)
    except DatabaseError as exc:
        raise database_outage_retry(self, exc) from None
    templated_mail_send(
        templates="otp/email/",
        context={"code": code, "minutes": settings.OTP_TTL_SECONDS // 60},
        to=email,
        language=language,
    )


@shared_task(ignore_result=True)
def otp_challenges_purge_task() -> None:
    from django.utils import timezone

    from otp.services import otp_challenges_purge

    otp_challenges_purge(now=timezone.now())
