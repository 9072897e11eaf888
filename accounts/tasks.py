from urllib.parse import urlencode

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


# The token is a credential: no result is stored (ignore_result), the worker
# logs the masked kwargsrepr given by the caller, and an undelivered message
# expires with the token.
@shared_task(ignore_result=True, acks_late=True)
def password_reset_email_send_task(*, email: str, token: str) -> None:
    context = {
        "reset_url": f"{settings.PASSWORD_RESET_URL}?{urlencode({'token': token})}",
        "minutes": int(settings.RESET_TOKEN_EXPIRES_IN.total_seconds() // 60),
    }
    subject = render_to_string("accounts/email/password_reset_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("accounts/email/password_reset_body.txt", context),
        to=[email],
    )
    message.attach_alternative(
        render_to_string("accounts/email/password_reset_body.html", context),
        "text/html",
    )
    message.send()
