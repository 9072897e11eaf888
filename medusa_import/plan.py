"""What each Medusa row becomes here: rows to upsert, or a problem with its
reason. Pure functions over the source rows; nothing here touches a database.

Policy (docs/migrate-from-medusa.md): emails are normalized as everywhere in
this server; soft-deleted rows, admin users' identities and providers other
than emailpass/email-otp are not imported; a customer link that points at
no live customer makes the identity an orphan, as in Medusa.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from accounts.hashers import medusa_scrypt_encoded, medusa_scrypt_key
from accounts.models import Provider
from core.emails import (
    email_hash,
    email_is_printable_ascii,
    email_is_valid,
    email_normalize,
)
from medusa_import.source import JsonTooDeep

ID_MAX_LENGTH = 64
EMAIL_MAX_LENGTH = 254
# The API refuses a body nested deeper than 32 levels (api/parsers.py), so
# the deepest metadata it takes is 31 levels below the body. An imported
# value keeps to the same bound: what is stored here is what the API could
# have written, renders and can be sent back. Thousands of levels (jsonb
# has no limit) would also exceed Python's recursion limit in the run.
JSON_MAX_DEPTH = 32

REASONS = {
    "soft_deleted": "soft-deleted in Medusa",
    "admin_user_identity": "an admin user's identity (app_metadata.user_id)",
    "unsupported_provider": "a provider this server does not run",
    "no_login": "no live emailpass or email-otp provider identity",
    "invalid_email": "the email is not a valid address",
    "unusable_password_hash": "provider_metadata.password is no scrypt-kdf hash",
    "not_an_object": "a metadata column holds JSON that is not an object",
    "too_deeply_nested": "a metadata column nests JSON deeper than the API takes",
    "id_too_long": f"the id is longer than {ID_MAX_LENGTH} characters",
    "registered_without_email": "a customer with has_account but no email",
    "goes_with": "belongs with the row in conflicts_with, which was refused",
    "email_collision": "its normalized email is already another identity's",
    "customer_email_collision": "its normalized email is another customer's",
    "customer_already_linked": "its customer is linked to another identity",
    "two_logins_one_provider": "a second login of one provider on one identity",
    "other_email": "a login whose email differs from its identity's first",
    "constraint": "refused by a database constraint",
    "swept_here": "an orphan the sweep here already deleted",
    # Notes on rows that are imported (or, for deleted_in_medusa, kept):
    "dangling_customer_link": "customer_id names no live customer: an orphan here",
    "deleted_in_medusa": "soft-deleted in Medusa since an earlier pass; kept here",
    "also_admin_user": "the identity is an admin user's too (user_id kept)",
    "customer_email_replaced": "the customer's email differed from the login's",
}


# Reasons that describe an imported row rather than a refused one.
NOTES = frozenset(
    {
        "dangling_customer_link",
        "deleted_in_medusa",
        "also_admin_user",
        "customer_email_replaced",
    }
)


@dataclass(frozen=True)
class Problem:
    table: str
    id: str
    reason: str
    email_hash: str | None = None
    conflicts_with: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "id": self.id,
            "reason": self.reason,
            "explanation": REASONS[self.reason],
            "email_hash": self.email_hash,
            "conflicts_with": self.conflicts_with,
            "detail": self.detail or None,
        }


class Rejected(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.reason)
        self.problem = problem


@dataclass(frozen=True)
class CustomerRow:
    id: str
    email: str | None
    company_name: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    has_account: bool
    metadata: dict | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IdentityRow:
    id: str
    customer_id: str | None
    app_metadata: dict
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ProviderRow:
    id: str
    auth_identity_id: str
    provider: str
    entity_id: str
    password_hash: str | None
    provider_metadata: dict | None
    user_metadata: dict | None
    created_at: datetime
    updated_at: datetime


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
    def is_orphan(self) -> bool:
        return self.identity is not None and self.identity.customer_id is None

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


def identity_unit(row: dict) -> Unit | list[Problem]:
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
    login_email = unit.providers[0].entity_id
    if not customer.has_account or customer.email == login_email:
        return customer
    unit.problems.append(
        Problem(
            "customer",
            customer.id,
            "customer_email_replaced",
            email_hash(customer.email),
        )
    )
    return replace(customer, email=login_email)


def _extra_logins_dropped(unit: Unit) -> None:
    """Here an identity has one login per provider, all with its email
    (accounts.selectors); the first of each provider stays."""
    kept: list[ProviderRow] = []
    for row in unit.providers:
        if kept and row.entity_id != kept[0].entity_id:
            unit.problems.append(Problem("provider_identity", row.id, "other_email"))
        elif any(k.provider == row.provider for k in kept):
            unit.problems.append(
                Problem("provider_identity", row.id, "two_logins_one_provider")
            )
        else:
            kept.append(row)
    unit.providers = kept


def _identity_problem(row: dict) -> Problem | None:
    problem = _common_problem("auth_identity", row)
    if problem is not None:
        return problem
    if _too_deep(row["app_metadata"]):
        return _too_deep_problem("auth_identity", row, "app_metadata")
    if not _object_or_null(row["app_metadata"]):
        return Problem("auth_identity", row["id"], "not_an_object")
    if "user_id" in (row["app_metadata"] or {}) and not row["linked_customer_id"]:
        return Problem("auth_identity", row["id"], "admin_user_identity")
    return None


def lone_customer_unit(row: dict) -> Unit | list[Problem]:
    try:
        return Unit(customer=customer_row(row))
    except Rejected as exc:
        return [exc.problem]


def customer_row(row: dict) -> CustomerRow:
    problem = _common_problem("customer", row)
    if problem is None and _too_deep(row["metadata"]):
        problem = _too_deep_problem("customer", row, "metadata")
    if problem is None and not _object_or_null(row["metadata"]):
        problem = Problem("customer", row["id"], "not_an_object")
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


def _provider_row(row: dict) -> ProviderRow:
    problem = _common_problem("provider_identity", row)
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
    metadata = row["provider_metadata"]
    for column in ("provider_metadata", "user_metadata"):
        if problem is None and _too_deep(row[column]):
            problem = _too_deep_problem("provider_identity", row, column, hashed())
    if problem is None and not (
        _object_or_null(metadata) and _object_or_null(row["user_metadata"])
    ):
        problem = Problem("provider_identity", row["id"], "not_an_object", hashed())
    if problem is not None:
        raise Rejected(problem)
    metadata = dict(metadata or {})
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
    return ProviderRow(
        id=row["id"],
        auth_identity_id=row["auth_identity_id"],
        provider=row["provider"],
        entity_id=entity_id,
        password_hash=password_hash,
        provider_metadata=metadata or None,
        user_metadata=row["user_metadata"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _common_problem(table: str, row: dict) -> Problem | None:
    if row["deleted_at"] is not None:
        return Problem(table, row["id"], "soft_deleted")
    if len(row["id"]) > ID_MAX_LENGTH:
        return Problem(table, row["id"][:ID_MAX_LENGTH] + "…", "id_too_long")
    return None


def _object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _too_deep(value: Any, depth: int = 1) -> bool:
    """Deeper than JSON_MAX_DEPTH, counting as the API's parser does (a
    metadata value sits one level below the body)."""
    if isinstance(value, JsonTooDeep) or depth > JSON_MAX_DEPTH:
        return True
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return False
    return any(_too_deep(item, depth + 1) for item in value)


def _too_deep_problem(
    table: str, row: dict, column: str, hashed_email: str | None = None
) -> Problem:
    return Problem(table, row["id"], "too_deeply_nested", hashed_email, detail=column)


def _timestamps_parsed(customer: dict) -> dict:
    """`to_jsonb(customer)` spells timestamps as ISO 8601 strings."""
    parsed = dict(customer)
    for key in ("created_at", "updated_at", "deleted_at"):
        if parsed[key] is not None:
            parsed[key] = datetime.fromisoformat(parsed[key])
    return parsed
