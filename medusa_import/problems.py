"""Why a Medusa row is not imported: the reasons the report names, and
the checks every table shares (docs/migrate-from-medusa.md lists them)."""

from dataclasses import dataclass
from typing import Any

from medusa_import.source import JsonTooDeep, Row

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
    "unsupported_provider": "a provider this server does not import",
    "no_login": "no live emailpass, email-otp, google or github provider identity",
    "invalid_email": "the email is not a valid address",
    "invalid_subject": "a social login's subject is empty, too long or not ASCII",
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
    "invalid_country_code": "country_code is not two letters (ISO 3166-1 alpha-2)",
    "too_many_addresses": "its customer has ADDRESSES_PER_CUSTOMER_MAX here",
    "customer_deleted_here": "its customer is soft-deleted here",
    "other_customers_address": "its id is another customer's address here",
    # Notes on rows that are imported (or, for deleted_in_medusa, kept):
    "dangling_customer_link": "customer_id names no live customer: an orphan here",
    "deleted_in_medusa": "soft-deleted in Medusa since an earlier pass; kept here",
    "also_admin_user": "the identity is an admin user's too (user_id kept)",
    "customer_email_replaced": "the customer's email differed from the login's",
    "default_taken": "another address is the default (detail) here: flag dropped",
}


# Reasons that describe an imported row rather than a refused one.
NOTES = frozenset(
    {
        "dangling_customer_link",
        "deleted_in_medusa",
        "also_admin_user",
        "customer_email_replaced",
        "default_taken",
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


def common_problem(table: str, row: Row) -> Problem | None:
    if row["deleted_at"] is not None:
        return Problem(table, row["id"], "soft_deleted")
    if len(row["id"]) > ID_MAX_LENGTH:
        return Problem(table, row["id"][:ID_MAX_LENGTH] + "…", "id_too_long")
    return None


def metadata_row_problem(table: str, row: Row) -> Problem | None:
    """The checks of a row with a `metadata` column: common_problem's, then
    the metadata (nested too deep, or JSON that is not an object)."""
    problem = common_problem(table, row)
    if problem is None and too_deep(row["metadata"]):
        problem = too_deep_problem(table, row, "metadata")
    if problem is None and not object_or_null(row["metadata"]):
        problem = Problem(table, row["id"], "not_an_object")
    return problem


def object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def too_deep(value: Any, depth: int = 1) -> bool:
    """Deeper than JSON_MAX_DEPTH, counting as the API's parser does (a
    metadata value sits one level below the body)."""
    if isinstance(value, JsonTooDeep) or depth > JSON_MAX_DEPTH:
        return True
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return False
    return any(too_deep(item, depth + 1) for item in value)


def too_deep_problem(
    table: str, row: Row, column: str, hashed_email: str | None = None
) -> Problem:
    return Problem(table, row["id"], "too_deeply_nested", hashed_email, detail=column)
