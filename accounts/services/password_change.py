"""Changing the password of a logged-in identity (docs/account.md,
"Changing the password").

Threat model: a stolen token or an unattended, logged-in browser. The change
needs the current password (or, for an identity without one, a fresh code
the flow has checked), and it refuses every token and cookie session issued
until now, so a thief's copy dies with it. Guessing the current password here
costs what a failed login costs: the same hashing work (`failed_login_work`)
and the same counted failures (api/limits.py, at the route).
"""

from datetime import datetime

from django.contrib.auth.hashers import is_password_usable, make_password
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts.hashers import failed_login_work
from accounts.models import AuthIdentity, Provider, ProviderIdentity
from accounts.services.identities import (
    password_matches,
    password_policy_check,
)
from accounts.services.login_sessions import identity_tokens_revoke
from core.emails import email_hash
from core.errors import NotAllowed, Unauthorized
from core.locale import mail_language, request_language
from core.tasks import notice_publish

# Messages, not secrets (S105).
CURRENT_PASSWORD_WRONG = "Current password is incorrect"  # noqa: S105
NO_PASSWORD_YET = "This account has no password yet: confirm with an e-mailed code"  # noqa: S105
CURRENT_PASSWORD_REQUIRED = "Confirm the change with your current password"  # noqa: S105


def identity_password(*, identity: AuthIdentity) -> ProviderIdentity | None:
    """The identity's emailpass login if it has a usable password."""
    login = ProviderIdentity.objects.filter(
        auth_identity=identity, provider=Provider.EMAILPASS
    ).first()
    if login is None or not is_password_usable(login.password_hash):
        return None
    return login


@sensitive_variables("password")
def current_password_check(*, identity: AuthIdentity, password: str) -> None:
    """401 unless `password` is the identity's; a wrong one costs the same
    hashing work as a failed login. An identity without a password is told
    to use a code (400 `not_allowed`, code `password_not_set`)."""
    login = identity_password(identity=identity)
    if login is None:
        raise NotAllowed(NO_PASSWORD_YET, code="password_not_set")
    if not password_matches(login, password):
        failed_login_work(
            password,
            spent=login.password_hash,
            medusa_hashes=selectors.medusa_hashes_remain(),
        )
        raise Unauthorized(CURRENT_PASSWORD_WRONG)


def code_confirmation_allowed_check(*, identity: AuthIdentity) -> None:
    """A code stands in for the current password only where there is none:
    with a password, a code (the mailbox) and a stolen token would be enough
    to take the account without ever knowing it."""
    if identity_password(identity=identity) is not None:
        raise NotAllowed(CURRENT_PASSWORD_REQUIRED, code="current_password_required")


@sensitive_variables("password", "encoded")
def password_change(
    *,
    identity_id: str,
    email: str,
    password: str,
    now: datetime,
    keep_session_id: str | None,
) -> AuthIdentity:
    """Store `password` (Argon2id; an imported Medusa hash goes), refuse
    every token issued so far and end every session but `keep_session_id`,
    in one transaction under the identity's row lock; return the identity
    with its new generation. An identity without
    an emailpass login gets one for `email`, which the caller has proven."""
    password_policy_check(password)
    encoded = make_password(password)  # hashed before the lock is taken
    with transaction.atomic():
        identity = AuthIdentity.objects.select_for_update().get(pk=identity_id)
        updated = ProviderIdentity.objects.filter(
            auth_identity=identity, provider=Provider.EMAILPASS
        ).update(password_hash=encoded, updated_at=now)
        if not updated:
            ProviderIdentity.objects.create(
                auth_identity=identity,
                provider=Provider.EMAILPASS,
                entity_id=email,
                password_hash=encoded,
                created_at=now,
                updated_at=now,
            )
        identity_tokens_revoke(
            identity_id=identity.pk,
            now=now,
            keep_session_id=keep_session_id,
            updated_at=now,
        )
        identity.refresh_from_db(
            fields=["token_generation", "tokens_valid_after", "updated_at"]
        )
    return identity


def password_changed_notice_queue(
    *,
    email: str,
    changed_at: datetime,
    client: dict[str, str],
    locale: str | None = None,
) -> None:
    """Queue the "your password was changed" mail. The change has committed:
    a broker outage is logged, never raised (the customer keeps the new
    password; the mail is lost, and the log says so)."""
    from accounts.tasks import password_changed_email_send_task

    notice_publish(
        password_changed_email_send_task,
        kwargs={
            "email": email,
            "changed_at": changed_at.isoformat(),
            "client": client,
            "language": mail_language(request_language(), locale),
        },
        kwargsrepr={"email": email_hash(email), "changed_at": "*", "client": "*"},
        what="Password change",
    )
