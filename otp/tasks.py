from celery import shared_task
from django.conf import settings

from accounts.selectors import mail_language_for_email
from core.mail import templated_mail_send
from core.tasks import mail_task


# The code is a credential: its arguments cross the broker sealed
# (SealedTask: encrypted with a key Redis never sees), no result is stored
# (ignore_result), the worker logs the masked kwargsrepr the caller passes,
# and the message and its seal expire with the code (`expires` =
# OTP_TTL_SECONDS at publish time). As every mail task (core.tasks.mail_task):
# sent once per task id, and a database outage while the worker looks up the
# mail's language (a PgBouncer restart, a failover) is retried: the route
# has answered 200, so the code must not be lost (found by
# tests/topology/test_faults.py). 5 s, 10 s, ... within the code's TTL.
@mail_task
def otp_email_send_task(*, email: str, code: str, language: str | None = None) -> None:
    templated_mail_send(
        templates="otp/email/",
        context={"code": code, "minutes": settings.OTP_TTL_SECONDS // 60},
        to=email,
        language=mail_language_for_email(email=email, language=language),
    )


@shared_task(ignore_result=True)
def otp_challenges_purge_task() -> None:
    from django.utils import timezone

    from otp.services import otp_challenges_purge

    otp_challenges_purge(now=timezone.now())
