from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


# The code is a credential: no result is stored (ignore_result), the worker
# logs the masked kwargsrepr the caller passes, and the message expires with
# the code (`expires` = OTP_TTL_SECONDS at publish time).
@shared_task(ignore_result=True, acks_late=True)
def otp_email_send_task(*, email: str, code: str) -> None:
    context = {"code": code, "minutes": settings.OTP_TTL_SECONDS // 60}
    subject = render_to_string("otp/email/subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("otp/email/body.txt", context),
        to=[email],
    )
    message.attach_alternative(
        render_to_string("otp/email/body.html", context), "text/html"
    )
    message.send()


@shared_task(ignore_result=True)
def otp_challenges_purge_task() -> None:
    from django.utils import timezone

    from otp.services import otp_challenges_purge

    otp_challenges_purge(now=timezone.now())
