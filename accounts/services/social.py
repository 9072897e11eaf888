"""Social logins: the identity a verified provider login lands on, keyed by
(provider, subject) in ProviderIdentity (entity_id = the OpenID Connect
`sub`; never the email, which a provider account can change or recycle).

Threat model: account takeover through a provider's email claim. A first
login of a provider account joins an existing account only when the
provider asserts the address is verified AND the account here either
proved the address (`email_verified_at`) or has no usable password: an
unverified claim, or a password account nobody proved the mailbox of (a
squatter's pre-registration), gets a separate new identity instead, whose
profile step then meets the registered address (422) rather than the
account. A social login whose email was not verified is removed when the
mailbox owner proves the address (accounts.services.identity_email_proven),
as a squatter's password is. Not defended: a provider that asserts a
verified email it did not verify (configure only providers you trust).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from django.contrib.auth.hashers import is_password_usable
from django.db import IntegrityError, transaction

from accounts import selectors
from accounts.models import AuthIdentity, Provider, ProviderIdentity
from accounts.services.customers import registered_customer_claim
from accounts.services.identities import email_identity_lock
from core.errors import DuplicateError, NotAllowed, NotFound, Unauthorized

Outcome = Literal["returning", "linked", "new"]

LINK_EXPIRED = "The account's tokens were revoked since the link started"
LINKED_ELSEWHERE = "This provider account is linked to another account"
PROVIDER_TAKEN = "Another account of this provider is linked already"
LAST_LOGIN = "The last way to sign in cannot be removed"


@dataclass(frozen=True)
class ProviderAccount:
    """A provider login whose ID token was verified (social/oidc.py)."""

    provider: str
    subject: str
    email: str  # normalized (core.emails)
    email_verified: bool
    profile: dict[str, str] = field(default_factory=dict)
    # A private-relay address (Apple's `is_private_email`): a real mailbox,
    # so the rules hold; it equals no address of the user's own accounts.
    private_email: bool = False


@dataclass(frozen=True)
class SocialLogin:
    identity: AuthIdentity
    # returning: this provider account logged in before; linked: its first
    # login joined an existing account; new: a new identity (profile step).
    outcome: Outcome


def _provider_metadata(account: ProviderAccount) -> dict[str, str | bool]:
    metadata: dict[str, str | bool] = {
        "email": account.email,
        "email_verified": account.email_verified,
    }
    if account.private_email:
        metadata["is_private_email"] = True
    return metadata


def identity_linkable(*, identity: AuthIdentity, provider: str) -> bool:
    """Whether a provider login with a verified email may join this
    account: its address was proven here, or no password opens it; and it
    has no other login of this provider."""
    if identity.provider_identities.filter(provider=provider).exists():
        return False
    return identity.email_verified_at is not None or not (
        selectors.identity_has_password(identity=identity)
    )


def _first_login(*, account: ProviderAccount, now: datetime) -> SocialLogin:
    """Under the per-email lock: the account to join, or a new identity (a
    login-less registered customer of a verified address is claimed, as a
    code login claims it)."""
    email_identity_lock(email=account.email)
    identity: AuthIdentity | None = None
    if account.email_verified:
        identity = selectors.auth_identity_for_email(email=account.email)
        if identity is not None and not identity_linkable(
            identity=identity, provider=account.provider
        ):
            identity = None
    outcome: Outcome = "linked"
    if identity is None:
        identity = AuthIdentity.objects.create(created_at=now, updated_at=now)
        outcome = "new"
        if account.email_verified:
            registered_customer_claim(identity=identity, email=account.email, now=now)
            if identity.customer_id is not None:
                outcome = "linked"
    _login_create(identity=identity, account=account, now=now)
    return SocialLogin(identity=identity, outcome=outcome)


def _login_create(
    *, identity: AuthIdentity, account: ProviderAccount, now: datetime
) -> None:
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=account.provider,
        entity_id=account.subject,
        # Medusa's Google provider: the profile, set at the first login.
        user_metadata={**account.profile, "email": account.email},
        provider_metadata=_provider_metadata(account),
        created_at=now,
        updated_at=now,
    )


def identity_for_social_login(
    *, account: ProviderAccount, now: datetime
) -> SocialLogin:
    """The identity this provider account logs in as: its own (found by
    the (entity_id, provider) unique index, the email claim refreshed), or
    on its first login the one the linking rules choose. Two first logins
    at once: the unique index decides, the loser reads the winner's."""
    for _ in range(3):
        existing = selectors.provider_identity_get(
            provider=account.provider, entity_id=account.subject
        )
        if existing is not None:
            ProviderIdentity.objects.filter(pk=existing.pk).update(
                provider_metadata=_provider_metadata(account), updated_at=now
            )
            return SocialLogin(identity=existing.auth_identity, outcome="returning")
        try:
            with transaction.atomic():
                return _first_login(account=account, now=now)
        except IntegrityError:
            if (
                selectors.provider_identity_get(
                    provider=account.provider, entity_id=account.subject
                )
                is None
            ):
                raise  # another constraint refused the row
    raise RuntimeError("the provider login kept racing")  # pragma: no cover


@transaction.atomic
def social_login_link(
    *, identity_id: str, generation: int, account: ProviderAccount, now: datetime
) -> AuthIdentity:
    """A logged-in customer adds a provider login to their identity (the
    login started with their token; a revocation since voids it). The
    provider account must be linked nowhere else, and the identity must
    have no other account of the provider; its email need not match."""
    identity = AuthIdentity.objects.select_for_update().filter(pk=identity_id).first()
    if identity is None or identity.token_generation != generation:
        raise Unauthorized(LINK_EXPIRED)
    existing = selectors.provider_identity_get(
        provider=account.provider, entity_id=account.subject
    )
    if existing is not None and existing.auth_identity_id != identity.id:
        raise DuplicateError(LINKED_ELSEWHERE)
    if existing is None:
        if identity.provider_identities.filter(provider=account.provider).exists():
            raise DuplicateError(PROVIDER_TAKEN)
        try:
            with transaction.atomic():
                _login_create(identity=identity, account=account, now=now)
        except IntegrityError:  # a parallel first login of the account won
            raise DuplicateError(LINKED_ELSEWHERE) from None
    return identity


def _opens(login: ProviderIdentity) -> bool:
    """Whether a login can sign in: a code login, a usable password, any
    social login."""
    if login.provider == Provider.EMAILPASS:
        return is_password_usable(login.password_hash)
    return True


@transaction.atomic
def social_login_unlink(*, identity_id: str, provider: str) -> None:
    """Remove the identity's login of `provider` (a social one), unless it
    is the last way to sign in (under the identity's row lock, so two
    unlinks at once cannot remove both)."""
    AuthIdentity.objects.select_for_update().filter(pk=identity_id).first()
    logins = list(ProviderIdentity.objects.filter(auth_identity_id=identity_id))
    removed = [login for login in logins if login.provider == provider]
    if provider in Provider.values or not removed:
        raise NotFound(f"No {provider} login is linked to this account")
    if not any(_opens(login) for login in logins if login.provider != provider):
        raise NotAllowed(LAST_LOGIN)
    ProviderIdentity.objects.filter(pk=removed[0].pk).delete()
