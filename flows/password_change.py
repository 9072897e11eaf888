"""Changing the password while logged in: confirmed by the current password
(accounts) or, for an identity without one, by a fresh e-mailed code (otp,
whose right code is consumed in the transaction that stores the password).
Then the notice mail, after the commit."""

from dataclasses import dataclass
from datetime import datetime

from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts import services as accounts
from accounts.models import AuthIdentity
from core.client_info import ClientInfo
from otp.services import otp_verify


@dataclass(frozen=True)
class PasswordChange:
    identity: AuthIdentity
    email: str
    current_password: str | None
    code: str | None
    new_password: str
    # The caller's login session, which stays open (None: a token from
    # before sessions; every session ends).
    session_id: str | None


@sensitive_variables("change")
def password_change(
    change: PasswordChange, *, client: ClientInfo, ip: str, now: datetime
) -> AuthIdentity:
    """Return the identity with its new token generation (every older token
    and cookie session is refused from now on)."""
    identity, email = change.identity, change.email
    # The new password first: a refused one spends neither a guess at the
    # current password nor the code.
    accounts.password_policy_check(change.new_password)
    if change.code is None:
        accounts.current_password_check(
            identity=identity, password=change.current_password or ""
        )
        changed = accounts.password_change(
            identity_id=identity.id,
            email=email,
            password=change.new_password,
            now=now,
            keep_session_id=change.session_id,
        )
    else:
        accounts.code_confirmation_allowed_check(identity=identity)

        def confirmed(proven: str) -> AuthIdentity:
            accounts.identity_email_proven(identity=identity, now=now)
            return accounts.password_change(
                identity_id=identity.id,
                email=proven,
                password=change.new_password,
                now=now,
                keep_session_id=change.session_id,
            )

        changed = otp_verify(
            email=email, code=change.code, ip=ip, now=now, login=confirmed
        )
    accounts.password_changed_notice_queue(
        email=email,
        changed_at=now,
        client=client.as_dict(),
        locale=selectors.customer_locale_loaded(identity),
    )
    return changed
