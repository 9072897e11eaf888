"""Password resets: a single-use 15-minute token, mailed by the worker.

The request path does the same work for every identifier (queue one task),
so neither the answer nor its timing tells whether an account exists; the
worker looks the identity up, stores the token's hash and sends the mail.
"""

import hashlib
import logging
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts.models import PasswordResetToken, Provider
from accounts.services.identities import password_policy_check
from accounts.services.login_sessions import (
    identity_tokens_revoke,
    login_sessions_purge,
)
from accounts.tokens import InvalidToken, reset_token_decode, reset_token_issue
from core.emails import email_hash, email_normalize
from core.errors import Unauthorized
from core.locale import request_language
from core.tasks import BrokerUnavailable, notice_publish, publish

logger = logging.getLogger("accounts")

INVALID_TOKEN = "Invalid token"  # noqa: S105  (a message, not a secret)


def _jti_hash(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def password_reset_request(*, identifier: str, provider: str) -> None:
    """Queue the reset for any identifier; the route answers 201 either way."""
    from accounts.tasks import password_reset_email_send_task

    email = email_normalize(identifier)
    try:
        publish(
            password_reset_email_send_task,
            kwargs={
                "identifier": email,
                "provider": provider,
                "language": request_language(),
            },
            kwargsrepr={"identifier": email_hash(email), "provider": provider},
            expires=settings.RESET_TOKEN_EXPIRES_IN.total_seconds(),
        )
    except BrokerUnavailable as exc:
        # The answer stays 201 (no enumeration); the user can ask again.
        logger.error(
            "Password reset e-mail could not be queued",
            extra={"userId": email_hash(email), "error": str(exc)},
        )


def password_disabled_notice_after_commit(*, email: str, disabled_at: datetime) -> None:
    """A code login switched off a password nobody had proven
    (identities.identity_email_proven): once the login commits (a rolled
    back one disabled nothing), tell the address, with a reset link whose
    token the worker issues when it sends the mail (its 15 minutes run from
    then). In the request's language, else (None) the worker reads the
    customer's. A broker outage is logged, never raised: the login stands."""
    language = request_language()  # read now: the commit may come after the request
    transaction.on_commit(
        lambda: _password_disabled_notice_queue(
            email=email, disabled_at=disabled_at, language=language
        )
    )


def _password_disabled_notice_queue(
    *, email: str, disabled_at: datetime, language: str | None
) -> None:
    from accounts.tasks import password_disabled_email_send_task

    notice_publish(
        password_disabled_email_send_task,
        kwargs={
            "email": email,
            "disabled_at": disabled_at.isoformat(),
            "language": language,
        },
        kwargsrepr={"email": email_hash(email), "disabled_at": "*"},
        what="Password disabled",
    )


def password_reset_token_issue(
    *, identifier: str, provider: str, now: datetime
) -> str | None:
    """In the worker: a new token for an existing emailpass identity (earlier
    ones stop working), or None for an unknown identifier."""
    provider_identity = selectors.provider_identity_get(
        provider=provider, entity_id=email_normalize(identifier)
    )
    if provider_identity is None or provider != Provider.EMAILPASS:
        return None
    jti = secrets.token_urlsafe(32)
    with transaction.atomic():
        PasswordResetToken.objects.filter(provider_identity=provider_identity).delete()
        PasswordResetToken.objects.create(
            provider_identity=provider_identity,
            token_hash=_jti_hash(jti),
            expires_at=now + settings.RESET_TOKEN_EXPIRES_IN,
            created_at=now,
        )
    return reset_token_issue(
        entity_id=provider_identity.entity_id, provider=provider, jti=jti, now=now
    )


@sensitive_variables("token", "password")
def password_update_with_reset_token(
    *, token: str, provider: str, password: Any, now: datetime
) -> str:
    """Consume a reset token and set the new password; return the address.
    The link proved the mailbox, so the address counts as verified; every
    token issued before now stops working (docs/api.md, "Revocation")."""
    try:
        claims = reset_token_decode(token)
    except InvalidToken:
        raise Unauthorized(INVALID_TOKEN) from None
    if claims.provider != provider:
        raise Unauthorized(INVALID_TOKEN)
    if not isinstance(password, str) or not password:
        raise Unauthorized("Unauthorized")
    password_policy_check(password)
    encoded = make_password(password)  # hashed before the token's row lock
    with transaction.atomic():
        reset = (
            PasswordResetToken.objects.select_for_update()
            .select_related("provider_identity")
            .filter(
                token_hash=_jti_hash(claims.jti),
                expires_at__gt=now,
                provider_identity__provider=provider,
                provider_identity__entity_id=claims.entity_id,
            )
            .first()
        )
        if reset is None:
            raise Unauthorized(INVALID_TOKEN)
        provider_identity = reset.provider_identity
        PasswordResetToken.objects.filter(provider_identity=provider_identity).delete()
        provider_identity.password_hash = encoded
        provider_identity.updated_at = now
        provider_identity.save(update_fields=["password_hash", "updated_at"])
        identity_tokens_revoke(
            identity_id=provider_identity.auth_identity_id,
            now=now,
            email_verified_at=now,
            updated_at=now,
        )
    return provider_identity.entity_id


def expired_credentials_purge(*, now: datetime) -> int:
    """Housekeeping: expired reset tokens, cookie sessions and login
    sessions long unusable."""
    from django.contrib.sessions.backends.db import SessionStore

    SessionStore.clear_expired()
    login_sessions_purge(now=now)
    deleted, _ = PasswordResetToken.objects.filter(expires_at__lte=now).delete()
    return deleted
