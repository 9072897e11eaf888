"""The customer JSON Medusa emits, and its `?fields=` selection (§5)."""

from datetime import UTC, datetime
from typing import Any

from accounts.models import Customer

DEFAULT_FIELDS = (
    "id",
    "email",
    "company_name",
    "first_name",
    "last_name",
    "phone",
    "metadata",
    "has_account",
    "deleted_at",
    "created_at",
    "updated_at",
    "addresses",
)
# Orders live in the commerce backend: accepted, and always an empty list.
ALLOWED_FIELDS = DEFAULT_FIELDS + ("orders",)


def fields_select(fields_param: str | None) -> list[str]:
    """Plain names replace the defaults; `+name`/`*relation` add; `-name`
    removes; unknown names are dropped; `id` always stays."""
    names = [name.strip() for name in (fields_param or "").split(",") if name.strip()]
    plain = [name for name in names if name[0] not in "+-*"]
    selected = set() if plain else set(DEFAULT_FIELDS)
    for name in names:
        sign, bare = (name[0], name[1:]) if name[0] in "+-*" else ("", name)
        bare = bare.split(".", 1)[0]  # addresses.city selects addresses
        if bare not in ALLOWED_FIELDS:
            continue
        if sign == "-":
            selected.discard(bare)
        else:
            selected.add(bare)
    selected.add("id")
    return [name for name in ALLOWED_FIELDS if name in selected]


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (
        value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def customer_representation(customer: Customer, fields: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": customer.id,
        "email": customer.email,
        "company_name": customer.company_name,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "metadata": customer.metadata,
        "has_account": customer.has_account,
        "deleted_at": timestamp(customer.deleted_at),
        "created_at": timestamp(customer.created_at),
        "updated_at": timestamp(customer.updated_at),
        "addresses": [],
        "orders": [],
    }
    return {name: values[name] for name in fields}
