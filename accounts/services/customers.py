"""Customers: step 2 of the two-step signup, one-step signup, profile updates.

A customer is created and linked to its identity in one transaction that
holds the identity's row lock, so a failure leaves no customer row and two
calls cannot both link; its email is the one its identity proved.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from accounts import selectors
from accounts.models import AuthIdentity, Customer
from accounts.services.identities import email_identity_lock, identity_for_signup
from core.emails import email_normalize, email_parse
from core.errors import DuplicateError, InvalidData, NotFound
from core.locale import request_language

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


def _customer_insert(*, profile: Profile, email: str, now: datetime) -> Customer:
    try:
        with transaction.atomic():
            return Customer.objects.create(
                email=email,
                company_name=profile.company_name,
                first_name=profile.first_name,
                last_name=profile.last_name,
                phone=profile.phone,
                metadata=profile.metadata,
                has_account=True,
                locale=request_language(),
                created_at=now,
                updated_at=now,
            )
    except IntegrityError as exc:
        raise DuplicateError(CUSTOMER_EXISTS) from exc


def identity_link(*, identity: AuthIdentity, customer: Customer, now: datetime) -> None:
    identity.customer = customer
    identity.updated_at = now
    identity.save(update_fields=["customer", "updated_at"])


@transaction.atomic
def customer_create_for_identity(
    *, auth_identity_id: str, profile: Profile, now: datetime
) -> Customer:
    """Step 2 of the two-step signup: one customer per identity (422
    `duplicate_error`, never Medusa's 500), with the address the identity
    proved (README, "Where we deliberately do better than Medusa", 5 and 7)."""
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
    customer = _customer_insert(profile=profile, email=proven_email, now=now)
    identity_link(identity=identity, customer=customer, now=now)
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
    identity = identity_for_signup(email=email, password=password, now=now)
    customer = _customer_insert(profile=profile, email=email, now=now)
    identity_link(identity=identity, customer=customer, now=now)
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


def customer_lock(customer_id: str) -> Customer:
    """The customer's row, locked until the transaction ends (every write to
    a customer or its addresses takes it first); 404 if it is gone."""
    customer = (
        Customer.objects.select_for_update()
        .filter(id=customer_id, deleted_at__isnull=True)
        .first()
    )
    if customer is None:
        raise NotFound(f"Customer with id: {customer_id} was not found")
    return customer


@transaction.atomic
def customer_update(
    *, customer_id: str, changes: dict[str, Any], now: datetime
) -> Customer:
    customer = customer_lock(customer_id)
    for field in PROFILE_FIELDS:
        if field in changes:
            setattr(customer, field, changes[field])
    if "metadata" in changes:
        customer.metadata = metadata_merge(customer.metadata, changes["metadata"])
    customer.locale = request_language() or customer.locale
    customer.updated_at = now
    customer.save()
    return customer


def registered_customer_claim(
    *, identity: AuthIdentity, email: str, now: datetime
) -> None:
    """A registered customer without any login (an import brings them: their
    Medusa login was Google's, or none) gets the unlinked identity that just
    proved their address. Unlinked it would be a dead end: the profile step
    refuses a second customer for the email. Call inside a transaction."""
    email_identity_lock(email=email)
    customer = selectors.registered_customer_for_email(email=email)
    if customer is None or AuthIdentity.objects.filter(customer=customer).exists():
        return
    identity_link(identity=identity, customer=customer, now=now)


def customer_locale_remember(*, customer_id: str | None) -> None:
    """Remember the request's language on its customer, for the mail the
    worker sends later (core/locale.py). One UPDATE, and only when the
    language changes: a login in the same language writes nothing."""
    language = request_language()
    if language is None or customer_id is None:
        return
    Customer.objects.filter(pk=customer_id).exclude(locale=language).update(
        locale=language
    )
