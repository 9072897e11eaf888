from urllib.parse import urlencode

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.services import password_reset_token_issue
from config.mail import templated_mail_send


# The identifier is an email: the caller passes a masked kwargsrepr for the
# worker's log, no result is stored, and an undelivered message expires with
# the token it would create.
@shared_task(ignore_result=True, acks_late=True)
def password_reset_email_send_task(*, identifier: str, provider: str) -> None:
    token = password_reset_token_issue(
        identifier=identifier, provider=provider, now=timezone.now()
    )
    if token is None:
        return  # unknown address: nothing to send, and nothing told the caller
    templated_mail_send(
        templates="accounts/email/password_reset/",
        context={
            "reset_url": f"{settings.PASSWORD_RESET_URL}?{urlencode({'token': token})}",
            "minutes": int(settings.RESET_TOKEN_EXPIRES_IN.total_seconds() // 60),
        },
        to=identifier,
    )


@shared_task(ignore_result=True)
def expired_credentials_purge_task() -> None:
    from accounts.services import expired_credentials_purge

    expired_credentials_purge(now=timezone.now())
