"""A customer's address book, with Medusa 2.21's rules
(docs/medusa-contract.md, "Addresses"):

- a flag sent `true` (`is_default_shipping`, `is_default_billing`) is first
  cleared on the customer's other addresses, in the same transaction, so the
  partial unique indexes of accounts.models hold; `false` is just stored;
- an update keeps omitted keys, `null` clears one, `metadata` merges;
- a delete is a hard DELETE.

Every write holds the customer's row lock, so two requests of one customer
cannot both pass the bound (ADDRESSES_PER_CUSTOMER_MAX) or both set a
default (the loser would otherwise hit the unique index: a 500).

Asked with `read_addresses`, a write returns the customer's addresses as it
leaves them, read in its transaction: if PostgreSQL fails before the answer
is ready, the write is rolled back too, so a 503 always means nothing
changed and a retry is safe (a read after the commit could fail after the
write had landed). Otherwise it returns None.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts import selectors
from accounts.models import CustomerAddress
from accounts.services.customers import customer_lock, metadata_merge
from core.errors import InvalidData, NotFound

ADDRESS_FIELDS = (
    "address_name",
    "company",
    "first_name",
    "last_name",
    "address_1",
    "address_2",
    "city",
    "country_code",
    "province",
    "postal_code",
    "phone",
)
DEFAULT_FLAGS = ("is_default_shipping", "is_default_billing")


def address_not_found(address_id: str) -> NotFound:
    return NotFound(f"Address with id: {address_id} was not found")


def addresses_limit_message() -> str:
    limit = settings.ADDRESSES_PER_CUSTOMER_MAX
    return f"A customer can have at most {limit} addresses"


def _defaults_clear(
    *, customer_id: str, changes: dict[str, Any], now: datetime, keep: str | None
) -> None:
    """A flag sent true is taken from the customer's other addresses first."""
    for flag in DEFAULT_FLAGS:
        if changes.get(flag) is True:
            (
                CustomerAddress.objects.filter(customer_id=customer_id, **{flag: True})
                .exclude(id=keep)
                .update(**{flag: False, "updated_at": now})
            )


def _apply(address: CustomerAddress, changes: dict[str, Any]) -> None:
    for field in (*ADDRESS_FIELDS, *DEFAULT_FLAGS):
        if field in changes:
            setattr(address, field, changes[field])
    if "metadata" in changes:
        address.metadata = metadata_merge(address.metadata, changes["metadata"])


def _addresses_after(
    *, customer_id: str, read_addresses: bool
) -> list[CustomerAddress] | None:
    if not read_addresses:
        return None
    return selectors.addresses_of(customer_id=customer_id)


@transaction.atomic
def address_create(
    *,
    customer_id: str,
    changes: dict[str, Any],
    now: datetime,
    read_addresses: bool = False,
) -> list[CustomerAddress] | None:
    """Add an address; 400 once the customer has ADDRESSES_PER_CUSTOMER_MAX."""
    customer_lock(customer_id)
    count = CustomerAddress.objects.filter(customer_id=customer_id).count()
    if count >= settings.ADDRESSES_PER_CUSTOMER_MAX:
        raise InvalidData(addresses_limit_message())
    _defaults_clear(customer_id=customer_id, changes=changes, now=now, keep=None)
    address = CustomerAddress(customer_id=customer_id, created_at=now, updated_at=now)
    _apply(address, changes)
    address.save(force_insert=True)
    return _addresses_after(customer_id=customer_id, read_addresses=read_addresses)


@transaction.atomic
def address_update(
    *,
    customer_id: str,
    address_id: str,
    changes: dict[str, Any],
    now: datetime,
    read_addresses: bool = False,
) -> list[CustomerAddress] | None:
    customer_lock(customer_id)
    address = CustomerAddress.objects.filter(
        id=address_id, customer_id=customer_id
    ).first()
    if address is None:
        raise address_not_found(address_id)
    _defaults_clear(customer_id=customer_id, changes=changes, now=now, keep=address.id)
    _apply(address, changes)
    address.updated_at = now
    address.save()
    return _addresses_after(customer_id=customer_id, read_addresses=read_addresses)


@transaction.atomic
def address_delete(
    *, customer_id: str, address_id: str, read_addresses: bool = False
) -> list[CustomerAddress] | None:
    customer_lock(customer_id)
    deleted, _ = CustomerAddress.objects.filter(
        id=address_id, customer_id=customer_id
    ).delete()
    if not deleted:
        raise address_not_found(address_id)
    return _addresses_after(customer_id=customer_id, read_addresses=read_addresses)
