"""Password login and a completed password reset. Both may lift the OTP
failure budget's hard stop: a reset link proves the mailbox, and so does a
password once its owner proved the mailbox (a squatter's unproven password
must not restart the guessing of codes for an address they do not own,
docs/otp.md)."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts import services as accounts
from accounts.models import AuthIdentity
from otp.services import otp_failures_reset


@sensitive_variables("password")
def password_login(*, email: str, password: str) -> AuthIdentity:
    identity = accounts.identity_authenticate_emailpass(email=email, password=password)
    accounts.customer_locale_remember(customer_id=identity.customer_id)
    if identity.email_verified_at is not None:
        otp_failures_reset(email=email)
    return identity


@sensitive_variables("token", "password")
def password_reset_complete(
    *, token: str, provider: str, password: Any, now: datetime
) -> None:
    """Set the password with a reset token; the link proved the mailbox, so
    the OTP hard stop goes in the same transaction."""
    with transaction.atomic():
        entity_id = accounts.password_update_with_reset_token(
            token=token, provider=provider, password=password, now=now
        )
        otp_failures_reset(email=entity_id)
