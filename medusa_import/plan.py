"""What each Medusa row becomes here: rows to upsert, or a problem with its
reason. Pure functions over the source rows; nothing here touches a database.

Policy (docs/migrate-from-medusa.md): emails are normalized as everywhere in
this server; soft-deleted rows, admin users' identities and providers other
than emailpass, email-otp, google and github are not imported; a customer
link that points at no live customer makes the identity an orphan, as in
Medusa. Google and GitHub logins come keyed by their subject (GitHub's: the
numeric user id), as Medusa keeps them, with the email of their
`user_metadata` as the login's, and never Medusa's copy of the provider's
tokens (docs/social-login.md).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from accounts.hashers import medusa_scrypt_encoded, medusa_scrypt_key
from accounts.models import Provider
from core.emails import (
    PRINTABLE_ASCII,
    email_hash,
    email_is_printable_ascii,
    email_is_valid,
    email_normalize,
)
from medusa_import.problems import (
    EMAIL_MAX_LENGTH,
    NOTES,
    Problem,
    Rejected,
    common_problem,
    metadata_row_problem,
    object_or_null,
    too_deep,
    too_deep_problem,
)
from medusa_import.source import Row


@dataclass(frozen=True)
class CustomerRow:
    id: str
    email: str | None
    company_name: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    has_account: bool
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IdentityRow:
    id: str
    customer_id: str | None
    app_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ProviderRow:
    id: str
    auth_identity_id: str
    provider: str
    entity_id: str
    password_hash: str | None
    provider_metadata: dict[str, Any] | None
    user_metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


# Medusa's social providers that come across, and whether the address
# Medusa kept is known verified: Google's is (Medusa's auth-google refuses
# others); GitHub's is the public profile address of `GET /user`, which
# Medusa never checked. Either way the login is keyed by its subject, so
# the customer's next login here is a returning one, which records what the
# provider says of the address now.
SOCIAL_IMPORTED = {"google": True, "github": False}
# GitHub's subject: the numeric user id, as Medusa's auth-github keeps it.
GITHUB_SUBJECT = r"[1-9][0-9]{0,19}"


def login_email(row: ProviderRow) -> str:
    """The address a login speaks for: an email login's entity id, a
    social login's `user_metadata.email` (normalized by the plan)."""
    if row.provider in Provider.values:
        return row.entity_id
    return str((row.user_metadata or {})["email"])


@dataclass
class Unit:
    """Rows written together or not at all: one Medusa login (identity,
    provider identities, customer), or one customer without a login."""

    customer: CustomerRow | None = None
    identity: IdentityRow | None = None
    providers: list[ProviderRow] = field(default_factory=list)
    # Problems with parts left behind; the unit itself is imported.
    problems: list[Problem] = field(default_factory=list)

    @property
    def orphan_id(self) -> str | None:
        """The identity's id when it comes without a customer, else None."""
        if self.identity is not None and self.identity.customer_id is None:
            return self.identity.id
        return None

    def rejection(self, problem: Problem) -> list[Problem]:
        """The problem that keeps this unit out, then its other rows, then
        the rows it had already left out (its notes no longer apply)."""
        return (
            [problem]
            + [
                Problem(table, row_id, "goes_with", conflicts_with=problem.id)
                for table, row_id in self.parts()
                if row_id != problem.id
            ]
            + [p for p in self.problems if p.reason not in NOTES]
        )

    def parts(self) -> list[tuple[str, str]]:
        parts = []
        if self.identity:
            parts.append(("auth_identity", self.identity.id))
        parts += [("provider_identity", row.id) for row in self.providers]
        if self.customer:
            parts.append(("customer", self.customer.id))
        return parts


def identity_unit(row: Row) -> Unit | list[Problem]:
    """A Medusa auth identity with its providers and customer. When the
    identity cannot come, its live customer still does, without a login
    (a soft-deleted identity's customer comes in the lone-customer pass)."""
    identity_id = row["id"]
    unit = Unit()
    customer = None
    if row["customer"]:
        customer = {
            **_timestamps_parsed(row["customer"]),
            "metadata": row["customer_metadata"],
        }
    if customer is not None and customer["deleted_at"] is not None:
        if row["deleted_at"] is None:
            unit.problems.append(Problem("customer", customer["id"], "soft_deleted"))
        customer = None

    refused = _identity_problem(row)
    if refused is None:
        for source in row["providers"]:
            try:
                unit.providers.append(_provider_row(source))
            except Rejected as exc:
                unit.problems.append(exc.problem)
        _extra_logins_dropped(unit)
        if not unit.providers:
            refused = Problem("auth_identity", identity_id, "no_login")
    else:
        unit.problems += [
            Problem(
                "provider_identity", p["id"], "goes_with", conflicts_with=identity_id
            )
            for p in row["providers"]
        ]
    if refused is not None:
        problems = [refused, *unit.problems]
        if customer is None or row["deleted_at"] is not None:
            return problems
        try:
            return Unit(customer=customer_row(customer), problems=problems)
        except Rejected as exc:
            return [*problems, exc.problem]

    if "user_id" in (row["app_metadata"] or {}):
        unit.problems.append(Problem("auth_identity", identity_id, "also_admin_user"))
    if row["linked_customer_id"] and customer is None:
        unit.problems.append(
            Problem(
                "auth_identity", identity_id, "dangling_customer_link",
                detail=row["linked_customer_id"],
            )
        )  # fmt: skip
    app_metadata = dict(row["app_metadata"] or {})
    app_metadata.pop("customer_id", None)  # derived from the link here
    unit.identity = IdentityRow(
        id=identity_id,
        customer_id=None,
        app_metadata=app_metadata,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    if customer is not None:
        try:
            unit.customer = _login_email_kept(customer_row(customer), unit)
        except Rejected as exc:
            return unit.rejection(exc.problem)
        unit.identity = replace(unit.identity, customer_id=unit.customer.id)
    return unit


def _login_email_kept(customer: CustomerRow, unit: Unit) -> CustomerRow:
    """Here a registered customer's email is the one its identity logs in
    with (so an email code and a password reach the same customer); Medusa
    lets them differ. The login's email wins, and the change is noted."""
    email = login_email(unit.providers[0])
    if not customer.has_account or customer.email == email:
        return customer
    unit.problems.append(
        Problem(
            "customer",
            customer.id,
            "customer_email_replaced",
            email_hash(customer.email) if customer.email else None,
        )
    )
    return replace(customer, email=email)


def _extra_logins_dropped(unit: Unit) -> None:
    """Here an identity has one login per provider, all with its email
    (accounts.selectors); the first of each provider stays."""
    kept: list[ProviderRow] = []
    for row in unit.providers:
        if kept and login_email(row) != login_email(kept[0]):
            unit.problems.append(Problem("provider_identity", row.id, "other_email"))
        elif any(k.provider == row.provider for k in kept):
            unit.problems.append(
                Problem("provider_identity", row.id, "two_logins_one_provider")
            )
        else:
            kept.append(row)
    unit.providers = kept


def _identity_problem(row: Row) -> Problem | None:
    problem = common_problem("auth_identity", row)
    if problem is not None:
        return problem
    if too_deep(row["app_metadata"]):
        return too_deep_problem("auth_identity", row, "app_metadata")
    if not object_or_null(row["app_metadata"]):
        return Problem("auth_identity", row["id"], "not_an_object")
    if "user_id" in (row["app_metadata"] or {}) and not row["linked_customer_id"]:
        return Problem("auth_identity", row["id"], "admin_user_identity")
    return None


def lone_customer_unit(row: Row) -> Unit | list[Problem]:
    try:
        return Unit(customer=customer_row(row))
    except Rejected as exc:
        return [exc.problem]


def customer_row(row: Row) -> CustomerRow:
    problem = metadata_row_problem("customer", row)
    email = row["email"]
    if problem is None and row["has_account"]:
        # Registered customers carry the normalized email (a CHECK here).
        if not email or not email.strip():
            problem = Problem("customer", row["id"], "registered_without_email")
        else:
            email = email_normalize(email)
    if problem is None and email is not None and len(email) > EMAIL_MAX_LENGTH:
        problem = Problem("customer", row["id"], "invalid_email", email_hash(email))
    if problem is None and row["has_account"] and not email_is_printable_ascii(email):
        # A domain IDNA refuses, or a non-ASCII local part: no login here
        # could reach it (a CHECK refuses it too).
        problem = Problem("customer", row["id"], "invalid_email", email_hash(email))
    if problem is not None:
        raise Rejected(problem)
    return CustomerRow(
        id=row["id"],
        email=email,
        company_name=row["company_name"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        phone=row["phone"],
        has_account=row["has_account"],
        metadata=row["metadata"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _provider_row(row: Row) -> ProviderRow:
    if row["provider"] in SOCIAL_IMPORTED:
        return _social_provider_row(row)
    problem = common_problem("provider_identity", row)
    entity_id = email_normalize(row["entity_id"] or "")

    def hashed() -> str | None:  # an HMAC only for a row that is refused
        return email_hash(entity_id) if entity_id else None

    if problem is None and row["provider"] not in Provider.values:
        problem = Problem(
            "provider_identity",
            row["id"],
            "unsupported_provider",
            detail=row["provider"],
        )
    if problem is None and not email_is_valid(entity_id):
        problem = Problem("provider_identity", row["id"], "invalid_email", hashed())
    if problem is None:
        problem = _metadata_problem(row, hashed)
    if problem is not None:
        raise Rejected(problem)
    metadata = dict(row["provider_metadata"] or {})
    blob = metadata.pop("password", None)
    password_hash = None
    if row["provider"] == Provider.EMAILPASS:
        if not isinstance(blob, str) or medusa_scrypt_key(blob) is None:
            raise Rejected(
                Problem(
                    "provider_identity", row["id"], "unusable_password_hash", hashed()
                )
            )
        password_hash = medusa_scrypt_encoded(blob)
    return _kept(
        row,
        entity_id=entity_id,
        password_hash=password_hash,
        provider_metadata=metadata or None,
        user_metadata=row["user_metadata"],
    )


def _metadata_problem(row: Row, hashed: Callable[[], str | None]) -> Problem | None:
    for column in ("provider_metadata", "user_metadata"):
        if too_deep(row[column]):
            return too_deep_problem("provider_identity", row, column, hashed())
    if not (
        object_or_null(row["provider_metadata"])
        and object_or_null(row["user_metadata"])
    ):
        return Problem("provider_identity", row["id"], "not_an_object", hashed())
    return None


def _kept(row: Row, **columns: Any) -> ProviderRow:
    return ProviderRow(
        id=row["id"],
        auth_identity_id=row["auth_identity_id"],
        provider=row["provider"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        **columns,
    )


def _social_provider_row(row: Row) -> ProviderRow:
    """A Google or GitHub login: keyed by the subject as Medusa keeps it;
    the address its `user_metadata` holds, normalized, is the login's. Its
    `provider_metadata` is ours: Medusa's (GitHub's access and refresh
    tokens) stays behind."""
    problem = common_problem("provider_identity", row)
    subject = row["entity_id"] or ""
    user_metadata = row["user_metadata"]
    raw_email = user_metadata.get("email") if isinstance(user_metadata, dict) else None
    email = email_normalize(raw_email) if isinstance(raw_email, str) else ""

    def hashed() -> str | None:
        return email_hash(email) if email else None

    if problem is None:
        problem = _metadata_problem(row, hashed)
    if problem is None and not (
        0 < len(subject) <= 255
        and re.fullmatch(PRINTABLE_ASCII, subject)
        and (row["provider"] != "github" or re.fullmatch(GITHUB_SUBJECT, subject))
    ):
        problem = Problem("provider_identity", row["id"], "invalid_subject")
    if problem is None and not email_is_valid(email):
        problem = Problem("provider_identity", row["id"], "invalid_email", hashed())
    if problem is not None:
        raise Rejected(problem)
    return _kept(
        row,
        entity_id=subject,
        password_hash=None,
        provider_metadata={
            "email": email,
            "email_verified": SOCIAL_IMPORTED[row["provider"]],
        },
        user_metadata={**user_metadata, "email": email},
    )


def _timestamps_parsed(customer: Row) -> Row:
    """`to_jsonb(customer)` spells timestamps as ISO 8601 strings."""
    parsed = dict(customer)
    for key in ("created_at", "updated_at", "deleted_at"):
        if parsed[key] is not None:
            parsed[key] = datetime.fromisoformat(parsed[key])
    return parsed
