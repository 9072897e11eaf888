"""Writes for customer accounts: registration, login, signup, profile, resets.

Threat model: credential stuffing and account enumeration (same message and
the same hashing work for unknown emails and wrong passwords), account
takeover by registration (an existing identity never gets a new password
from an unauthenticated call; an identity's profile must carry the email it
proved), and half-finished signups (one transaction per step, so a failure
leaves nothing half-written). Throttling of guesses is a separate layer.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, connection, transaction
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts.emails import email_hash, email_is_valid, email_normalize
from accounts.models import (
    AuthIdentity,
    Customer,
    PasswordResetToken,
    Provider,
    ProviderIdentity,
)
from accounts.tokens import InvalidToken, access_token_issue, reset_token_decode
from accounts.tokens import reset_token_issue as _reset_token_issue
from config.celery import BrokerUnavailable, publish
from config.errors import DuplicateError, InvalidData, NotFound, Unauthorized

logger = logging.getLogger("accounts")

IDENTITY_EXISTS = "Identity with email already exists"
INVALID_CREDENTIALS = "Invalid email or password"
INVALID_TOKEN = "Invalid token"  # noqa: S105  (a message, not a secret)
CUSTOMER_EXISTS = "Customer with this email already has an account"
PROFILE_FIELDS = ("company_name", "first_name", "last_name", "phone")


@dataclass(frozen=True)
class Profile:
    email: str
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    metadata: dict[str, Any] | None = None


def email_parse(email: str) -> str:
    """Normalize, then refuse what is not an address (API.md, improvement 6)."""
    normalized = email_normalize(email)
    if not email_is_valid(normalized):
        raise InvalidData("Invalid email address")
    return normalized


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
def _password_matches(provider_identity: ProviderIdentity, password: str) -> bool:
    def upgrade(raw_password: str) -> None:
        # A Medusa scrypt hash (or older Argon2 parameters) is replaced by
        # the preferred hasher's hash at the first successful login.
        new_hash = make_password(raw_password)
        ProviderIdentity.objects.filter(pk=provider_identity.pk).update(
            password_hash=new_hash
        )

    return check_password(password, provider_identity.password_hash, setter=upgrade)


def access_token_for_identity(
    *, identity: AuthIdentity, provider: str, now: datetime
) -> str:
    provider_identity = identity.provider_identities.filter(provider=provider).first()
    return access_token_issue(
        auth_identity_id=identity.id,
        customer_id=identity.customer_id,
        auth_provider=provider,
        app_metadata=identity.app_metadata or {},
        user_metadata=provider_identity.user_metadata if provider_identity else None,
        now=now,
    )


def email_identity_lock(*, email: str) -> None:
    """Serialize identity creation per email until the transaction ends, so
    two providers' sign-ups of one address cannot make two identities."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [email])


def provider_identity_get_or_create(
    *, auth_identity: AuthIdentity, provider: str, entity_id: str, now: datetime
) -> ProviderIdentity:
    """Find by the (entity_id, provider) unique index; on a miss insert in a
    savepoint, and on a lost race read the winner's row (CONVENTIONS.md)."""
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
        return selectors.provider_identity_get(provider=provider, entity_id=entity_id)


@sensitive_variables("password")
def _identity_create_emailpass(
    *, email: str, password: str, now: datetime
) -> AuthIdentity:
    email_identity_lock(email=email)
    if selectors.provider_identity_exists_for_email(entity_id=email):
        # Another sign-up of this address committed first: the callers'
        # lost-race path (IntegrityError) handles it.
        raise IntegrityError("an identity exists for this email")
    identity = AuthIdentity.objects.create(created_at=now, updated_at=now)
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash=make_password(password),
        created_at=now,
        updated_at=now,
    )
    return identity


@sensitive_variables("password")
def _identity_resume(*, email: str, password: str) -> AuthIdentity:
    """The seed-000 self-heal: an unlinked emailpass identity whose password
    matches may finish its signup; anything else already exists."""
    existing = selectors.provider_identity_get(
        provider=Provider.EMAILPASS, entity_id=email
    )
    if (
        existing is not None
        and existing.auth_identity.customer_id is None
        and _password_matches(existing, password)
    ):
        return existing.auth_identity
    raise Unauthorized(IDENTITY_EXISTS)


@sensitive_variables("password")
def identity_register_emailpass(
    *, email: str, password: str, now: datetime
) -> AuthIdentity:
    email = email_parse(email)
    if selectors.provider_identity_exists_for_email(entity_id=email):
        return _identity_resume(email=email, password=password)
    password_policy_check(password)
    try:
        with transaction.atomic():
            return _identity_create_emailpass(email=email, password=password, now=now)
    except IntegrityError:
        # A concurrent register of the same email won the unique index.
        return _identity_resume(email=email, password=password)


@sensitive_variables("password")
def identity_authenticate_emailpass(*, email: str, password: str) -> AuthIdentity:
    provider_identity = selectors.provider_identity_get(
        provider=Provider.EMAILPASS, entity_id=email_normalize(email)
    )
    if provider_identity is None:
        # Spend the same hashing work as for a real account (API.md, 2).
        make_password(password)
        raise Unauthorized(INVALID_CREDENTIALS)
    if not _password_matches(provider_identity, password):
        raise Unauthorized(INVALID_CREDENTIALS)
    from otp.services import otp_failures_reset

    # A proven login lifts the OTP hard stop of the address (docs/otp.md).
    otp_failures_reset(email=provider_identity.entity_id)
    return provider_identity.auth_identity


def _customer_insert(*, profile: Profile, now: datetime) -> Customer:
    try:
        with transaction.atomic():
            return Customer.objects.create(
                email=profile.email,
                company_name=profile.company_name,
                first_name=profile.first_name,
                last_name=profile.last_name,
                phone=profile.phone,
                metadata=profile.metadata,
                has_account=True,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError as exc:
        raise DuplicateError(CUSTOMER_EXISTS) from exc


def _identity_link(
    *, identity: AuthIdentity, customer: Customer, now: datetime
) -> None:
    identity.customer = customer
    identity.updated_at = now
    identity.save(update_fields=["customer", "updated_at"])


@transaction.atomic
def customer_create_for_identity(
    *, auth_identity_id: str, profile: Profile, now: datetime
) -> Customer:
    """Step 2 of the two-step signup: create the customer and link it, in one
    transaction, holding the identity's row lock so two calls cannot both
    link (API.md, improvements 5 and 7)."""
    identity = (
        AuthIdentity.objects.select_for_update().filter(id=auth_identity_id).first()
    )
    if identity is None:
        raise NotFound(f"Auth identity with id: {auth_identity_id} was not found")
    if identity.customer_id is not None:
        raise DuplicateError(CUSTOMER_EXISTS)
    proven_email = selectors.auth_identity_email(auth_identity_id=identity.id)
    if proven_email is None or email_normalize(profile.email) != proven_email:
        raise InvalidData("Email must be the email this account was registered with")
    customer = _customer_insert(
        profile=Profile(**{**profile.__dict__, "email": proven_email}), now=now
    )
    _identity_link(identity=identity, customer=customer, now=now)
    return customer


@sensitive_variables("password")
@transaction.atomic
def customer_signup(
    *, password: str, profile: Profile, now: datetime
) -> tuple[Customer, AuthIdentity]:
    """One-step signup: identity, provider identity and customer commit
    together or not at all, so it can never leave an orphan. An unlinked
    identity with the same password is completed (self-heal)."""
    email = email_parse(profile.email)
    if selectors.provider_identity_exists_for_email(entity_id=email):
        identity = _identity_resume(email=email, password=password)
        identity = AuthIdentity.objects.select_for_update().get(pk=identity.pk)
        if identity.customer_id is not None:
            raise Unauthorized(IDENTITY_EXISTS)
    else:
        password_policy_check(password)
        try:
            with transaction.atomic():
                identity = _identity_create_emailpass(
                    email=email, password=password, now=now
                )
        except IntegrityError:
            raise Unauthorized(IDENTITY_EXISTS) from None
    customer = _customer_insert(
        profile=Profile(**{**profile.__dict__, "email": email}), now=now
    )
    _identity_link(identity=identity, customer=customer, now=now)
    return customer, identity


def metadata_merge(
    current: dict[str, Any] | None, update: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Medusa's rules: null clears; {} changes nothing; "" deletes a key."""
    if update is None:
        return None
    if not update:
        return current
    merged = dict(current or {})
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


@transaction.atomic
def customer_update(
    *, customer_id: str, changes: dict[str, Any], now: datetime
) -> Customer:
    customer = (
        Customer.objects.select_for_update()
        .filter(id=customer_id, deleted_at__isnull=True)
        .first()
    )
    if customer is None:
        raise NotFound(f"Customer with id: {customer_id} was not found")
    for field in PROFILE_FIELDS:
        if field in changes:
            setattr(customer, field, changes[field])
    if "metadata" in changes:
        customer.metadata = metadata_merge(customer.metadata, changes["metadata"])
    customer.updated_at = now
    customer.save()
    return customer


def _jti_hash(jti: str) -> str:
    return hashlib.sha256(jti.encode()).hexdigest()


def password_reset_request(*, identifier: str, provider: str, now: datetime) -> None:
    """Mail a single-use 15-minute reset token when the identity exists; do
    nothing visible otherwise (the route answers 201 either way)."""
    provider_identity = selectors.provider_identity_get(
        provider=provider, entity_id=email_normalize(identifier)
    )
    if provider_identity is None or provider != Provider.EMAILPASS:
        return
    jti = secrets.token_urlsafe(32)
    with transaction.atomic():
        PasswordResetToken.objects.filter(provider_identity=provider_identity).delete()
        PasswordResetToken.objects.create(
            provider_identity=provider_identity,
            token_hash=_jti_hash(jti),
            expires_at=now + settings.RESET_TOKEN_EXPIRES_IN,
            created_at=now,
        )
        token = _reset_token_issue(
            entity_id=provider_identity.entity_id, provider=provider, jti=jti, now=now
        )
        transaction.on_commit(
            partial(
                _password_reset_email_queue,
                email=provider_identity.entity_id,
                token=token,
            )
        )


def _password_reset_email_queue(*, email: str, token: str) -> None:
    from accounts.tasks import password_reset_email_send_task

    try:
        publish(
            password_reset_email_send_task,
            kwargs={"email": email, "token": token},
            kwargsrepr={"email": email_hash(email), "token": "***"},
            expires=settings.RESET_TOKEN_EXPIRES_IN.total_seconds(),
        )
    except BrokerUnavailable as exc:
        # The answer stays 201 (no enumeration); the user can ask again.
        logger.error(
            "Password reset e-mail could not be queued",
            extra={"userId": email_hash(email), "error": str(exc)},
        )


@sensitive_variables("token", "password")
def password_update_with_reset_token(
    *, token: str, provider: str, password: Any, now: datetime
) -> None:
    """Consume a reset token and set the new password; every token issued
    before now stops working (API.md, improvement 4)."""
    try:
        claims = reset_token_decode(token)
    except InvalidToken:
        raise Unauthorized(INVALID_TOKEN) from None
    if claims.provider != provider:
        raise Unauthorized(INVALID_TOKEN)
    if not isinstance(password, str) or not password:
        raise Unauthorized("Unauthorized")
    password_policy_check(password)
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
        provider_identity.password_hash = make_password(password)
        provider_identity.updated_at = now
        provider_identity.save(update_fields=["password_hash", "updated_at"])
        AuthIdentity.objects.filter(pk=provider_identity.auth_identity_id).update(
            tokens_valid_after=now, updated_at=now
        )
