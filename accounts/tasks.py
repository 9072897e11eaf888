from urllib.parse import urlencode

from celery import shared_task
from django.conf import settings

from config.mail import templated_mail_send


# The token is a credential: no result is stored (ignore_result), the worker
# logs the masked kwargsrepr given by the caller, and an undelivered message
# expires with the token.
@shared_task(ignore_result=True, acks_late=True)
def password_reset_email_send_task(*, email: str, token: str) -> None:
    templated_mail_send(
        templates="accounts/email/password_reset/",
        context={
            "reset_url": f"{settings.PASSWORD_RESET_URL}?{urlencode({'token': token})}",
            "minutes": int(settings.RESET_TOKEN_EXPIRES_IN.total_seconds() // 60),
        },
        to=email,
    )
