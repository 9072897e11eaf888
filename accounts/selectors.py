"""Reads. Every lookup goes through an index; nothing scans and filters in
Python (seed 003's bug was exactly that)."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from accounts.hashers import MEDUSA_HASH_PREFIX
from accounts.models import (
    AuthIdentity,
    Customer,
    CustomerAddress,
    LoginSession,
    Provider,
    ProviderIdentity,
    PublishableApiKey,
)
from accounts.tokens import AccessClaims
from core.emails import email_normalize
from core.locale import mail_language
from core.rows import ModelRows, all_rows, one_row

_LOGIN = ModelRows(ProviderIdentity, "p")
_IDENTITY = ModelRows(AuthIdentity, "i")
_CUSTOMER = ModelRows(Customer, "c")
_ADDRESS = ModelRows(CustomerAddress, "a")
# Written out (core/rows.py): every login and code verify starts here.
_LOGIN_FROM = """accounts_provideridentity p
  JOIN accounts_authidentity i ON i.id = p.auth_identity_id
  LEFT JOIN accounts_customer c ON c.id = i.customer_id"""
_LOGIN_SQL = f"""
SELECT {_LOGIN.columns}, {_IDENTITY.columns}, {_CUSTOMER.columns}
  FROM {_LOGIN_FROM}
 WHERE p.entity_id = %s AND p.provider = %s
"""  # noqa: S608  (the column names come from the models)
# A customer's addresses, joined to a read of the customer `c`: a row for
# each in id order (cuaddr_customer_id_idx), or one row of NULLs.
_ADDRESSES_JOIN = "LEFT JOIN accounts_customeraddress a ON a.customer_id = c.id"
# A code login answers with the customer's addresses.
_LOGIN_WITH_ADDRESSES_SQL = f"""
SELECT {_LOGIN.columns}, {_IDENTITY.columns}, {_CUSTOMER.columns}, {_ADDRESS.columns}
  FROM {_LOGIN_FROM}
  {_ADDRESSES_JOIN}
 WHERE p.entity_id = %s AND p.provider = %s
 ORDER BY a.id
"""  # noqa: S608  (the column names come from the models)
_LOGIN_ADDRESS_AT = _LOGIN.width + _IDENTITY.width + _CUSTOMER.width


def _identity_with_customer(row: tuple[Any, ...], start: int) -> AuthIdentity | None:
    """The identity at `start` of a row of _IDENTITY then _CUSTOMER columns,
    its customer (or None) cached on it as `select_related` caches it."""
    identity = _IDENTITY.instance(row, start)
    if identity is not None:
        customer = _CUSTOMER.instance(row, start + _IDENTITY.width)
        AuthIdentity.customer.field.set_cached_value(identity, customer)
    return identity


def _addresses_at(rows: list[tuple[Any, ...]], start: int) -> list[CustomerAddress]:
    """The address at `start` of each row (none in a row of NULLs)."""
    return [a for row in rows if (a := _ADDRESS.instance(row, start))]


def _login_of(row: tuple[Any, ...]) -> ProviderIdentity | None:
    login = _LOGIN.instance(row)
    identity = _identity_with_customer(row, _LOGIN.width)
    if login is None or identity is None:
        return None
    ProviderIdentity.auth_identity.field.set_cached_value(login, identity)
    return login


def provider_identity_get(*, provider: str, entity_id: str) -> ProviderIdentity | None:
    """By the (entity_id, provider) unique index, with its identity and the
    identity's customer (a login needs all three), as
    `select_related("auth_identity__customer")` would load them."""
    row = one_row(_LOGIN_SQL, [entity_id, provider])
    return None if row is None else _login_of(row)


def provider_identity_with_addresses_get(
    *, provider: str, entity_id: str
) -> tuple[ProviderIdentity, list[CustomerAddress]] | None:
    """`provider_identity_get`, and its customer's addresses in id order
    (none without a customer), in the same statement."""
    rows = all_rows(_LOGIN_WITH_ADDRESSES_SQL, [entity_id, provider])
    login = _login_of(rows[0]) if rows else None
    if login is None:
        return None
    return login, _addresses_at(rows, _LOGIN_ADDRESS_AT)


def provider_identity_exists_for_email(*, entity_id: str) -> bool:
    # Uses the (entity_id, provider) unique index: entity_id is its first
    # column. Email providers only: a social login's subject is no address.
    return ProviderIdentity.objects.filter(
        entity_id=entity_id, provider__in=Provider.values
    ).exists()


def auth_identity_email(*, auth_identity_id: str) -> str | None:
    """The normalized email of the identity: its email logins' (all share
    it), else the one its first social login's provider gave
    (`user_metadata.email`, docs/social-login.md)."""
    logins = ProviderIdentity.objects.filter(
        auth_identity_id=auth_identity_id
    ).order_by("created_at")
    email = (
        logins.filter(provider__in=Provider.values)
        .values_list("entity_id", flat=True)
        .first()
    )
    if email is not None:
        return email
    for metadata in logins.values_list("user_metadata", flat=True)[:5]:
        social_email = (metadata or {}).get("email")
        if isinstance(social_email, str) and social_email:
            return social_email
    return None


def logins_of(*, identity_id: str) -> list[ProviderIdentity]:
    """The identity's logins, oldest first (through the index of
    (auth_identity, provider))."""
    return list(
        ProviderIdentity.objects.filter(auth_identity_id=identity_id).order_by(
            "created_at", "id"
        )
    )


def login_email(login: ProviderIdentity) -> str | None:
    """The address a login speaks for: an email login's entity id, a social
    login's as its provider last said."""
    if login.provider in Provider.values:
        return login.entity_id
    email = (login.provider_metadata or {}).get("email")
    return email if isinstance(email, str) else None


def identity_has_password(*, identity: AuthIdentity) -> bool:
    """Whether a usable password opens the identity (a disabled one, set by
    a squatter before the owner proved the mailbox, does not)."""
    return (
        ProviderIdentity.objects.filter(
            auth_identity=identity, provider=Provider.EMAILPASS
        )
        .exclude(password_hash__startswith=UNUSABLE_PASSWORD_PREFIX)
        .exists()
    )


def auth_identity_ids_matching(*, term: str) -> list[str]:
    """Identities whose id is `term`, or whose provider identity or customer
    has `term` as email: each through its own index (one query with OR over
    the joined tables would read all of them)."""
    email = email_normalize(term)
    by_provider = ProviderIdentity.objects.filter(entity_id=email).values_list(
        "auth_identity_id", flat=True
    )
    by_customer = AuthIdentity.objects.filter(
        customer__in=customers_by_email(email=term)
    ).values_list("pk", flat=True)
    return [term, *by_provider, *by_customer]


def customers_by_email(*, email: str) -> QuerySet[Customer]:
    """Every customer (guests too) with this email in any case: its normal
    form, or as typed (a guest's email is stored as Medusa had it, which may
    be a domain's Unicode form)."""
    return Customer.objects.alias(email_lower=Lower("email")).filter(
        email_lower__in=sorted({email_normalize(email), email.strip().lower()})
    )


@dataclass(frozen=True)
class TokenSubject:
    identity: AuthIdentity
    # When the token's login session was last marked used; None for a
    # token without a session.
    session_last_used_at: datetime | None
    # The customer's addresses in id order, when asked for (None if not).
    addresses: list[CustomerAddress] | None = None


# By primary keys; written out (core/rows.py) because this read is in every
# customer request. The session's last use is NULL when the token names no
# session or one that has ended. With the addresses (GET /me answers with
# them), a row for each: one round trip instead of two.
_CLAIMS_COLUMNS = f"{_IDENTITY.columns}, {_CUSTOMER.columns}, s.last_used_at"
_CLAIMS_FROM = """accounts_authidentity i
  LEFT JOIN accounts_customer c ON c.id = i.customer_id
  LEFT JOIN accounts_loginsession s ON s.id = %s AND s.auth_identity_id = i.id"""
_CLAIMS_SQL = f"SELECT {_CLAIMS_COLUMNS} FROM {_CLAIMS_FROM} WHERE i.id = %s"  # noqa: S608  (the column names come from the models)
_CLAIMS_WITH_ADDRESSES_SQL = f"""
SELECT {_CLAIMS_COLUMNS}, {_ADDRESS.columns}
  FROM {_CLAIMS_FROM}
  {_ADDRESSES_JOIN}
 WHERE i.id = %s
 ORDER BY a.id
"""  # noqa: S608  (the column names come from the models)
_SESSION_AT = _IDENTITY.width + _CUSTOMER.width


def auth_identity_for_claims(
    *, claims: AccessClaims, with_addresses: bool = False
) -> TokenSubject | None:
    """The identity a token speaks for, or None if the token must be refused:
    the identity is gone, its customer differs, a revocation came after
    the token, or its login session has ended (docs/api.md, "Revocation").
    One query: the identity, its customer (GET /me needs nothing else but
    the addresses, read too `with_addresses`) and the session's last use."""
    rows = all_rows(
        _CLAIMS_WITH_ADDRESSES_SQL if with_addresses else _CLAIMS_SQL,
        [claims.session_id, claims.auth_identity_id],
    )
    identity = _identity_with_customer(rows[0], 0) if rows else None
    if identity is None:
        return None
    last_used_at: datetime | None = rows[0][_SESSION_AT]
    if claims.session_id is not None and last_used_at is None:
        return None  # the session has ended
    if claims.actor_id and claims.actor_id != identity.customer_id:
        return None
    if not token_generation_is_current(claims=claims, identity=identity):
        return None
    addresses = _addresses_at(rows, _SESSION_AT + 1) if with_addresses else None
    return TokenSubject(
        identity=identity, session_last_used_at=last_used_at, addresses=addresses
    )


def token_generation_is_current(
    *, claims: AccessClaims, identity: AuthIdentity
) -> bool:
    """Ours carry the generation they were signed at: exact. A token
    without a session (Medusa's, an imported shop's, and ours from before
    sessions) only has a whole-second `iat`, so it is also refused up to
    and including the second of the last revocation or of "end every other
    session"."""
    if claims.generation is not None and claims.generation != identity.token_generation:
        return False
    if claims.generation is not None and claims.session_id is not None:
        return True
    valid_after = identity.tokens_valid_after
    return valid_after is None or claims.issued_at > int(valid_after.timestamp())


# The most a list of one account's sessions shows (a script that logs in
# in a loop makes one per login).
SESSIONS_LISTED = 100


def login_sessions_live(
    *, auth_identity_id: str, now: datetime
) -> QuerySet[LoginSession]:
    """The identity's sessions some token or cookie may still use, the most
    recently used first (loginsession_identity_used_idx), at most
    SESSIONS_LISTED."""
    return LoginSession.objects.filter(
        auth_identity_id=auth_identity_id,
        last_used_at__gt=now - login_session_lifetime(),
    ).order_by("-last_used_at", "-id")[:SESSIONS_LISTED]


# A session's last use is written at most this often: the list shows it to
# the minute, and a busy token costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def login_session_lifetime() -> timedelta:
    """How long after its last recorded use a session may still be used: a
    token lives JWT_EXPIRES_IN from its signing, a cookie
    CUSTOMER_SESSION_TTL from its opening, and both happen in a request
    that marked the session used (to LAST_USED_RESOLUTION)."""
    return (
        max(settings.JWT_EXPIRES_IN, settings.CUSTOMER_SESSION_TTL)
        + LAST_USED_RESOLUTION
    )


def customer_of(identity: AuthIdentity) -> Customer | None:
    """The identity's customer unless soft-deleted (loaded with the identity
    by `auth_identity_for_claims`)."""
    customer = identity.customer
    if customer is None or customer.deleted_at is not None:
        return None
    return customer


def publishable_key_is_active(*, token: str) -> bool:
    return PublishableApiKey.objects.filter(
        token=token, revoked_at__isnull=True
    ).exists()


_MEDUSA_HASHES_TTL = 60.0
_medusa_hashes: tuple[float, bool] = (float("-inf"), True)


def medusa_hashes_remain() -> bool:
    """Whether any imported Medusa hash is still waiting for its owner's
    next login (a partial index answers; each process asks once a minute)."""
    global _medusa_hashes
    checked_at, remain = _medusa_hashes
    if time.monotonic() - checked_at > _MEDUSA_HASHES_TTL:
        remain = ProviderIdentity.objects.filter(
            password_hash__startswith=MEDUSA_HASH_PREFIX
        ).exists()
        _medusa_hashes = (time.monotonic(), remain)
    return remain


def auth_identity_for_email(*, email: str) -> AuthIdentity | None:
    """The one identity a normalized address has: by its logins, through
    the unique index of (entity_id, provider), never by scanning identities
    (seed 003); else the identity of its registered customer."""
    for provider in (Provider.EMAIL_OTP, Provider.EMAILPASS):
        provider_identity = provider_identity_get(provider=provider, entity_id=email)
        if provider_identity is not None:
            return provider_identity.auth_identity
    customer = registered_customer_for_email(email=email)
    if customer is None:
        return None
    return AuthIdentity.objects.filter(customer=customer).first()


def mail_language_for_email(*, email: str, language: str | None) -> str:
    """In the worker: the language a mail to `email` is written in, the
    request's if it had one (`language`), else the one its registered
    customer's requests left (Customer.locale), else the default. (A code
    mail's drain reads the locale with its lease: otp/mail.py.)"""
    if language is None:
        customer = registered_customer_for_email(email=email)
        language = customer.locale if customer is not None else None
    return mail_language(language)


def customer_locale_loaded(identity: AuthIdentity) -> str | None:
    """The stored language of the identity's customer when the identity
    came with it (a token's identity does: no query), else None: the
    worker then looks it up (mail_language_for_email, or a code mail's
    lease: otp/mail.py)."""
    if identity.customer_id is None or not AuthIdentity.customer.is_cached(identity):
        return None
    customer = identity.customer
    return customer.locale if customer is not None else None


def registered_customer_for_email(*, email: str) -> Customer | None:
    # At most one: the partial unique index customer_registered_email_uniq.
    return Customer.objects.registered_with_email(email).first()


# The address book. Every read filters by customer first
# (cuaddr_customer_id_idx), so a search reads at most
# ADDRESSES_PER_CUSTOMER_MAX rows whatever it asks.
ADDRESS_SEARCH_FIELDS = (
    "address_name",
    "company",
    "first_name",
    "last_name",
    "address_1",
    "address_2",
    "city",
    "province",
    "postal_code",
)


def address_get(*, customer_id: str, address_id: str) -> CustomerAddress | None:
    return CustomerAddress.objects.filter(
        customer_id=customer_id, id=address_id
    ).first()


def addresses_list(
    *,
    customer_id: str,
    q: str | None = None,
    exact: dict[str, list[str]] | None = None,
    order: str = "id",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[CustomerAddress], int]:
    """A page of the customer's addresses and how many match. `q`: every
    word must be in one of ADDRESS_SEARCH_FIELDS (any case, Medusa's search);
    `exact`: a column's value must be one of the given ones."""
    rows = CustomerAddress.objects.filter(customer_id=customer_id)
    for column, values in (exact or {}).items():
        rows = rows.filter(**{f"{column}__in": values})
    for word in (q or "").split():
        any_field = Q()
        for field in ADDRESS_SEARCH_FIELDS:
            any_field |= Q(**{f"{field}__icontains": word})
        rows = rows.filter(any_field)
    count = rows.count()
    ordering = [order] if order.lstrip("-") == "id" else [order, "id"]
    return list(rows.order_by(*ordering)[offset : offset + limit]), count


_ADDRESSES_SQL = f"""
SELECT {_ADDRESS.columns} FROM accounts_customeraddress a
 WHERE a.customer_id = %s ORDER BY a.id
"""  # noqa: S608  (the column names come from the model)


def addresses_of(*, customer_id: str) -> list[CustomerAddress]:
    """All of a customer's addresses (at most ADDRESSES_PER_CUSTOMER_MAX), in
    id order: a customer's `addresses`. Written out (core/rows.py): GET /me
    and every code login read them."""
    rows = all_rows(_ADDRESSES_SQL, [customer_id])
    return _addresses_at(rows, 0)
