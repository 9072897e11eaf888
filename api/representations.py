"""The customer and address JSON Medusa emits, and their `?fields=`
selection (docs/medusa-contract.md; the parser is Medusa's FieldParser)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from accounts.models import Customer, CustomerAddress

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
# Ours, after Medusa's keys (the SDK ignores keys it does not know): in the
# answers by default, and selectable by `?fields=` like Medusa's.
OWN_FIELDS = ("email_verified",)
# Orders live in the commerce backend: accepted, and always an empty list.
ALLOWED_FIELDS = DEFAULT_FIELDS + ("orders",) + OWN_FIELDS
# Medusa's `defaultStoreCustomerAddressFields`, in its order: the address
# routes' defaults and what `*addresses` gives in a customer.
ADDRESS_FIELDS = (
    "id",
    "address_name",
    "company",
    "customer_id",
    "first_name",
    "last_name",
    "address_1",
    "address_2",
    "city",
    "province",
    "postal_code",
    "country_code",
    "phone",
    "metadata",
    "is_default_shipping",
    "is_default_billing",
    "created_at",
    "updated_at",
)


def fields_parse(
    fields_param: str | None, defaults: tuple[str, ...], allowed: frozenset[str]
) -> set[str]:
    """Medusa's field parser (§5.2): a name without a modifier replaces the
    defaults; `+name` (or ` name`, a `+` the URL decoded) adds, `-name`
    removes it and what is under it, `*rel` and `rel.*` add a relation;
    `id` always stays; names outside `allowed` are dropped. A relation
    comes back by its bare name (`*addresses` and `addresses` alike)."""
    selected = set(defaults)
    if fields_param is not None:
        names = [name for name in fields_param.split(",") if name]
        if not names or any(
            not (name[0] in "-+ *" or name.endswith(".*")) for name in names
        ):
            selected = {name.lstrip("+ \t-").strip() for name in names}
        else:
            for name in names:
                bare = name.lstrip("+ \t-").strip()
                if name[0] in "+ ":
                    selected.add(bare)
                elif name[0] == "-":
                    selected -= {
                        old
                        for old in selected
                        if old.lstrip("*") == bare
                        or old.lstrip("*").startswith(bare + ".")
                    }
                else:
                    selected.add(name)
        selected.add("id")
    return {name.removeprefix("*").removesuffix(".*") for name in selected} & allowed


@dataclass(frozen=True)
class CustomerFields:
    """What `?fields=` selects of a customer: its keys, in Medusa's order,
    and the keys of each of its addresses (when `addresses` is one)."""

    names: tuple[str, ...]
    address_fields: tuple[str, ...] = ADDRESS_FIELDS

    @property
    def with_addresses(self) -> bool:
        return "addresses" in self.names


CUSTOMER_ALLOWED = frozenset(
    (*ALLOWED_FIELDS, *(f"addresses.{name}" for name in ADDRESS_FIELDS))
)


def fields_select(fields_param: str | None) -> CustomerFields:
    selected = fields_parse(fields_param, DEFAULT_FIELDS + OWN_FIELDS, CUSTOMER_ALLOWED)
    nested = {name.split(".", 1)[1] for name in selected if "." in name}
    whole = "addresses" in selected
    if nested and not whole:
        # `addresses.city` selects addresses, with that key (and its id).
        selected.add("addresses")
        address_fields = tuple(
            name for name in ADDRESS_FIELDS if name in nested or name == "id"
        )
    else:
        address_fields = ADDRESS_FIELDS
    names = tuple(name for name in ALLOWED_FIELDS if name in selected)
    return CustomerFields(names=names, address_fields=address_fields)


def address_fields_select(fields_param: str | None) -> tuple[str, ...]:
    """The address routes' `?fields=`: Medusa's parser over the address's
    own keys."""
    selected = fields_parse(fields_param, ADDRESS_FIELDS, frozenset(ADDRESS_FIELDS))
    return tuple(name for name in ADDRESS_FIELDS if name in selected)


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (
        value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def address_representation(
    address: CustomerAddress, fields: tuple[str, ...] = ADDRESS_FIELDS
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": address.id,
        "address_name": address.address_name,
        "company": address.company,
        "customer_id": address.customer_id,
        "first_name": address.first_name,
        "last_name": address.last_name,
        "address_1": address.address_1,
        "address_2": address.address_2,
        "city": address.city,
        "province": address.province,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
        "phone": address.phone,
        "metadata": address.metadata,
        "is_default_shipping": address.is_default_shipping,
        "is_default_billing": address.is_default_billing,
        "created_at": timestamp(address.created_at),
        "updated_at": timestamp(address.updated_at),
    }
    return {name: values[name] for name in fields}


def customer_representation(
    customer: Customer,
    fields: CustomerFields,
    *,
    addresses: Sequence[CustomerAddress] | None,
    email_verified: bool | None = None,
) -> dict[str, Any]:
    """`addresses`: the customer's, read by the caller (in its transaction,
    or none for a customer just created) when `fields` selects them; None
    when it does not. `email_verified`: whether the customer's identity
    proved its mailbox, when the caller knows (None leaves the key out).
    This reads nothing from the database."""
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
        "orders": [],
    }
    if email_verified is not None:
        values["email_verified"] = email_verified
    if fields.with_addresses:
        if addresses is None:
            raise ValueError("the fields select addresses: pass the customer's")
        values["addresses"] = [
            address_representation(address, fields.address_fields)
            for address in addresses
        ]
    return {name: values[name] for name in fields.names}
