from datetime import UTC, datetime
from urllib.parse import urlencode

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.models import Provider
from accounts.selectors import mail_language_for_email
from accounts.services import password_reset_token_issue
from core.mail import templated_mail_send
from core.tasks import mail_task

# Every mail task here is a core.tasks.mail_task: its arguments (an email,
# a token) cross the broker sealed, the caller passes a masked
# kwargsrepr for the worker's log, no result is stored, an undelivered
# message expires with what it carries (a notice within a day), it is sent
# once per task id however often the broker delivers it, and a database
# outage is retried (5 s, 10 s, ... 120 s; about 5 minutes in all, within a
# reset token's 15 and a code's 10), sealed again and keeping the masked
# kwargsrepr: the route has already answered, so the mail must not be lost.


@mail_task
def password_reset_email_send_task(
    *, identifier: str, provider: str, language: str | None = None
) -> None:
    _reset_link_mail_send(
        templates="accounts/email/password_reset/",
        identifier=identifier,
        provider=provider,
        language=language,
    )


# The notice after a code login switched off a password nobody had proven
# (docs/account.md, "The password switched off by a code login"): it
# carries a reset link like the reset mail, its token issued here, so it
# is retried in the same way.
@mail_task
def password_disabled_email_send_task(
    *, email: str, disabled_at: str, language: str | None = None
) -> None:
    _reset_link_mail_send(
        templates="accounts/email/password_disabled/",
        identifier=email,
        provider=Provider.EMAILPASS,
        language=language,
        context={"disabled_at": _minute(disabled_at)},
    )


def _reset_link_mail_send(
    *,
    templates: str,
    identifier: str,
    provider: str,
    language: str | None,
    context: dict[str, str] | None = None,
) -> None:
    """Issue a reset token and mail its link with `templates`; nothing for
    an address without an emailpass login. The token is issued under the
    task id's claim (core/delivery.py), so a redelivered message neither
    mails a second link nor replaces the one mailed."""
    token = password_reset_token_issue(
        identifier=identifier, provider=provider, now=timezone.now()
    )
    if token is None:
        return  # unknown address: nothing to send, and nothing told the caller
    templated_mail_send(
        templates=templates,
        context={
            **(context or {}),
            "reset_url": f"{settings.PASSWORD_RESET_URL}?{urlencode({'token': token})}",
            "minutes": int(settings.RESET_TOKEN_EXPIRES_IN.total_seconds() // 60),
        },
        to=identifier,
        language=mail_language_for_email(email=identifier, language=language),
    )


@shared_task(ignore_result=True)
def expired_credentials_purge_task() -> None:
    from accounts.services import expired_credentials_purge

    expired_credentials_purge(now=timezone.now())


@mail_task
def password_changed_email_send_task(
    *,
    email: str,
    changed_at: str,
    client: dict[str, str],
    language: str | None = None,
) -> None:
    """The notice after a password change."""
    _client_notice_send(
        "accounts/email/password_changed/",
        email=email,
        context={"changed_at": _minute(changed_at)},
        client=client,
        language=language,
    )


@mail_task
def new_device_email_send_task(
    *,
    email: str,
    signed_in_at: str,
    provider: str,
    client: dict[str, str],
    language: str | None = None,
) -> None:
    """The notice of a sign-in from a new device (NEW_DEVICE_NOTICE)."""
    _client_notice_send(
        "accounts/email/new_device/",
        email=email,
        context={"signed_in_at": _minute(signed_in_at), "provider": provider},
        client=client,
        language=language,
    )


def _minute(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _client_notice_send(
    templates: str,
    *,
    email: str,
    context: dict[str, str],
    client: dict[str, str],
    language: str | None,
) -> None:
    """A notice naming the client that acted (core/client_info.py) and the
    way to a new password."""
    templated_mail_send(
        templates=templates,
        context={
            **context,
            "ip_prefix": client.get("ip_prefix", ""),
            "user_agent": client.get("user_agent", ""),
            "reset_url": settings.PASSWORD_RESET_URL,
        },
        to=email,
        language=mail_language_for_email(email=email, language=language),
    )


# The e-mail change's notices: the undo link to the old address, the
# confirmation, and the notice after an undo (the code to the new address
# is a challenge's mail, otp/mail.py).
@mail_task
def email_changed_email_send_task(
    *, email: str, changed_at: str, token: str, language: str | None = None
) -> None:
    query = urlencode({"token": token})
    templated_mail_send(
        templates="accounts/email/email_changed/",
        context={
            "changed_at": _minute(changed_at),
            "undo_url": f"{settings.EMAIL_CHANGE_UNDO_URL}?{query}",
            "hours": int(settings.EMAIL_CHANGE_UNDO_TTL.total_seconds() // 3600),
        },
        to=email,
        language=mail_language_for_email(email=email, language=language),
    )


@mail_task
def email_change_confirmed_email_send_task(
    *, email: str, changed_at: str, language: str | None = None
) -> None:
    templated_mail_send(
        templates="accounts/email/email_change_confirmed/",
        context={
            "changed_at": _minute(changed_at),
            "hours": int(settings.EMAIL_CHANGE_UNDO_TTL.total_seconds() // 3600),
        },
        to=email,
        language=mail_language_for_email(email=email, language=language),
    )


@mail_task
def email_change_undone_email_send_task(
    *, email: str, language: str | None = None
) -> None:
    templated_mail_send(
        templates="accounts/email/email_change_undone/",
        context={"reset_url": settings.PASSWORD_RESET_URL},
        to=email,
        language=mail_language_for_email(email=email, language=language),
    )
