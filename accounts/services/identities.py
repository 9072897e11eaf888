"""Identities: emailpass registration and login, the per-email creation lock,
race-safe provider identities, tokens, and proof of a mailbox.

Threat model: credential stuffing and enumeration (same message and the same
hashing work for unknown emails and wrong passwords); account takeover by
registration (an existing identity never gets a new password from an
unauthenticated call) and pre-registration (a password set by someone who
never proved the mailbox is disabled when the owner proves it, see
`identity_email_proven`). Request throttling is a separate layer.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, connection, transaction
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts.hashers import failed_login_work
from accounts.models import AuthIdentity, Provider, ProviderIdentity
from accounts.services.login_sessions import identity_tokens_revoke
from core.emails import email_normalize, email_parse
from core.errors import InvalidData, Unauthorized

IDENTITY_EXISTS = "Identity with email already exists"
INVALID_CREDENTIALS = "Invalid email or password"


@sensitive_variables("password")
def password_policy_check(password: str) -> None:
    """NIST SP 800-63B: length, not a known-common password; no composition
    rules. Applies to new passwords only, never at login."""
    from django.contrib.auth.password_validation import (
        CommonPasswordValidator,
        NumericPasswordValidator,
    )
    from django.core.exceptions import ValidationError

    if len(password) < settings.CUSTOMER_PASSWORD_MIN_LENGTH:
        raise InvalidData(
            "Password must be at least "
            f"{settings.CUSTOMER_PASSWORD_MIN_LENGTH} characters long"
        )
    if len(password) > settings.CUSTOMER_PASSWORD_MAX_LENGTH:
        raise InvalidData(
            f"Password must be at most {settings.CUSTOMER_PASSWORD_MAX_LENGTH} "
            "characters long"
        )
    for validator in (CommonPasswordValidator(), NumericPasswordValidator()):
        try:
            validator.validate(password)
        except ValidationError:
            raise InvalidData(
                "Password is too common or too simple; choose a longer phrase"
            ) from None


@sensitive_variables("password")
def password_matches(provider_identity: ProviderIdentity, password: str) -> bool:
    def upgrade(raw_password: str) -> None:
        # A Medusa scrypt hash (or older Argon2 parameters) is replaced by
        # the preferred hasher's hash at the first successful login.
        ProviderIdentity.objects.filter(pk=provider_identity.pk).update(
            password_hash=make_password(raw_password)
        )

    if provider_identity.password_hash is None:
        return False  # as check_password answers for no hash
    return check_password(password, provider_identity.password_hash, setter=upgrade)


def email_identity_lock(*, email: str) -> None:
    """Serialize identity creation per email until the transaction ends, so
    two providers' sign-ups of one address cannot make two identities."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [email])


def provider_identity_get_or_create(
    *, auth_identity: AuthIdentity, provider: str, entity_id: str, now: datetime
) -> ProviderIdentity:
    """Find by the (entity_id, provider) unique index; on a miss insert in a
    savepoint, and on a lost race read the winner's row: the unique index,
    not a check before the insert, decides."""
    existing = selectors.provider_identity_get(provider=provider, entity_id=entity_id)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return ProviderIdentity.objects.create(
                auth_identity=auth_identity,
                provider=provider,
                entity_id=entity_id,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        winner = selectors.provider_identity_get(provider=provider, entity_id=entity_id)
        if winner is None:
            raise  # no race lost: another constraint refused the row
        return winner


@sensitive_variables("password")
def identity_create_emailpass(
    *, email: str, password: str, now: datetime
) -> AuthIdentity | None:
    """Create identity and emailpass credential, or None when the address
    already has an identity (checked under the per-email lock). Call inside a
    transaction: the lock lasts until it ends. The hash is made before the
    lock is taken, so a parallel signup of the address never waits for it."""
    password_hash = make_password(password)
    email_identity_lock(email=email)
    if selectors.provider_identity_exists_for_email(entity_id=email):
        return None
    identity = AuthIdentity.objects.create(created_at=now, updated_at=now)
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    return identity


@sensitive_variables("password")
def identity_resume(*, email: str, password: str, now: datetime) -> AuthIdentity | None:
    """The seed-000 self-heal: an unlinked emailpass identity whose password
    matches may finish its signup (Medusa: while the identity has no
    app_metadata); anything else already exists. None when the address
    changed since the caller looked (the sweep deleted the orphan, or a
    parallel signup linked it): look again."""
    existing = selectors.provider_identity_get(
        provider=Provider.EMAILPASS, entity_id=email
    )
    if existing is None:
        if selectors.provider_identity_exists_for_email(entity_id=email):
            raise Unauthorized(IDENTITY_EXISTS)  # another provider's identity
        return None
    with transaction.atomic():
        # The identity's lock first, as the sweep takes it: the sweep skips
        # a row we hold, and we wait for one it holds, then find it gone.
        # Checking the password after it keeps that order even when the
        # check upgrades an imported hash (a write to the provider identity).
        identity = (
            AuthIdentity.objects.select_for_update()
            .filter(pk=existing.auth_identity_id, customer_id__isnull=True)
            .first()
        )
        if identity is None:
            return None
        if identity.app_metadata or not password_matches(existing, password):
            raise Unauthorized(IDENTITY_EXISTS)
        # A new age: the sweep leaves it alone from here on.
        identity.updated_at = now
        identity.save(update_fields=["updated_at"])
    return identity


@sensitive_variables("password")
def identity_for_signup(*, email: str, password: str, now: datetime) -> AuthIdentity:
    """A new emailpass identity for a parsed email, or the unlinked one this
    password opens. Each pass that finds nothing because a parallel signup
    or the sweep changed the address in between looks again."""
    for _ in range(3):
        if selectors.provider_identity_exists_for_email(entity_id=email):
            identity = identity_resume(email=email, password=password, now=now)
        else:
            password_policy_check(password)
            with transaction.atomic():
                identity = identity_create_emailpass(
                    email=email, password=password, now=now
                )
        if identity is not None:
            return identity
    raise Unauthorized(IDENTITY_EXISTS)


@sensitive_variables("password")
def identity_register_emailpass(
    *, email: str, password: str, now: datetime
) -> AuthIdentity:
    return identity_for_signup(email=email_parse(email), password=password, now=now)


@sensitive_variables("password")
def identity_authenticate_emailpass(*, email: str, password: str) -> AuthIdentity:
    provider_identity = selectors.provider_identity_get(
        provider=Provider.EMAILPASS, entity_id=email_normalize(email)
    )
    if provider_identity is None or not password_matches(provider_identity, password):
        failed_login_work(
            password,
            spent=provider_identity.password_hash if provider_identity else None,
            medusa_hashes=selectors.medusa_hashes_remain(),
        )
        raise Unauthorized(INVALID_CREDENTIALS)
    return provider_identity.auth_identity


@dataclass(frozen=True)
class MailboxProof:
    """What `identity_email_proven` did: whether this was the mailbox's first
    proof, and whether it switched off a password (its owner is told:
    flows/otp_login.py queues the notice)."""

    first: bool
    password_disabled: bool = False


def identity_email_proven(
    *, identity: AuthIdentity, now: datetime, keeps_password: bool = False
) -> MailboxProof:
    """The mailbox owner just proved the address: the one place that marks
    an identity's email verified.

    `keeps_password=False` (a code login, a reset link): whoever proved the
    mailbox may not be who set the password. If the identity's password was
    set before anyone proved the mailbox, it may be a squatter's
    (pre-registration): disable it and refuse every token issued until now
    (`password_disabled`). The owner can set a password by reset.

    `keeps_password=True` (the sign-up verification: a code typed in a
    session of this identity, or the link mailed for it): the proof
    confirms the account as it is, password and sessions included; nothing
    is revoked."""
    if identity.email_verified_at is not None:
        return MailboxProof(first=False)
    # Before the first proof an emailpass login's password is usable
    # (register and the Medusa import require one), so a row updated here
    # is a password switched off.
    unproven = not keeps_password and ProviderIdentity.objects.filter(
        auth_identity=identity, provider=Provider.EMAILPASS
    ).update(password_hash=make_password(None), updated_at=now)
    # A social login whose provider never verified this address may be a
    # squatter's too (docs/social-login.md): it goes.
    unverified = (
        not keeps_password
        and ProviderIdentity.objects.filter(auth_identity=identity)
        .exclude(provider__in=Provider.values)
        .exclude(provider_metadata__email_verified=True)
        .delete()[0]
    )
    if unproven or unverified:
        identity_tokens_revoke(
            identity_id=identity.pk, now=now, email_verified_at=now, updated_at=now
        )
    else:
        AuthIdentity.objects.filter(pk=identity.pk).update(
            email_verified_at=now, updated_at=now
        )
    identity.refresh_from_db(fields=["email_verified_at", "token_generation"])
    return MailboxProof(first=True, password_disabled=bool(unproven))


def identity_for_email_get_or_create(*, email: str, now: datetime) -> AuthIdentity:
    """The one identity a normalized address has (by its logins, or as the
    login-less identity of its registered customer), or a new one, created
    under the per-email lock so a parallel register or code login of the
    address cannot make a second. Call inside a transaction."""
    identity = selectors.auth_identity_for_email(email=email)
    if identity is not None:
        return identity
    email_identity_lock(email=email)
    identity = selectors.auth_identity_for_email(email=email)
    if identity is not None:
        return identity
    return AuthIdentity.objects.create(created_at=now, updated_at=now)
