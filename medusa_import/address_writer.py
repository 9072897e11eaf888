"""Writing a batch of planned addresses (each customer's whole, as the
source batches them) in one transaction.

What depends on the rows here is decided under the customers' row locks,
the lock every address write here takes first
(accounts.services.customers.customer_lock), so none slips in meanwhile:

- the customer must be here (imported now or by an earlier pass) and not
  soft-deleted here;
- last writer wins by `updated_at`, as for every imported row; an address
  keeps its customer;
- an address here keeps its place under ADDRESSES_PER_CUSTOMER_MAX, which
  counts the customer's addresses here, those made here too; a new one
  comes while there is room, in the source's order (defaults, then the
  newest), and the rest is refused;
- a default flag stays with the address here that holds it: an address
  that would be a second default of its kind comes without the flag, noted.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q

from accounts.models import Customer, CustomerAddress
from medusa_import.address_plan import DEFAULT_FLAGS, AddressRow, flag_dropped
from medusa_import.problems import Problem
from medusa_import.writer import Upsert, import_atomic, rows_upsert

ADDRESSES = Upsert(
    CustomerAddress,
    {
        "id": "text", "customer_id": "text", "address_name": "text",
        "is_default_shipping": "boolean", "is_default_billing": "boolean",
        "company": "text", "first_name": "text", "last_name": "text",
        "address_1": "text", "address_2": "text", "city": "text",
        "country_code": "text", "province": "text", "postal_code": "text",
        "phone": "text", "metadata": "jsonb", "created_at": "timestamptz",
        "updated_at": "timestamptz",
    },
    "address_name = EXCLUDED.address_name, "
    "is_default_shipping = EXCLUDED.is_default_shipping, "
    "is_default_billing = EXCLUDED.is_default_billing, "
    "company = EXCLUDED.company, first_name = EXCLUDED.first_name, "
    "last_name = EXCLUDED.last_name, address_1 = EXCLUDED.address_1, "
    "address_2 = EXCLUDED.address_2, city = EXCLUDED.city, "
    "country_code = EXCLUDED.country_code, province = EXCLUDED.province, "
    "postal_code = EXCLUDED.postal_code, phone = EXCLUDED.phone, "
    "metadata = EXCLUDED.metadata",
)  # fmt: skip


@dataclass(frozen=True)
class Here:
    """An address already here, as far as the decisions need it."""

    customer_id: str
    updated_at: datetime
    flags: frozenset[str]


@dataclass
class Decision:
    writes: list[AddressRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # refusals and notes


@dataclass
class AddressOutcome:
    inserted: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)


def addresses_write(rows: Sequence[AddressRow]) -> AddressOutcome:
    if not rows:
        return AddressOutcome()
    with import_atomic():
        customers = _customers_lock({row.customer_id for row in rows})
        here = _addresses_here(customers, [row.id for row in rows])
        decision = addresses_decide(rows, customers=customers, here=here)
        # The unique indexes check each row as it is written: the rows go
        # in holding only the flags they held here, and a flag an address
        # gains is set once every flag given up has been cleared.
        gained: dict[str, list[str]] = {flag: [] for flag in DEFAULT_FLAGS}
        writes = []
        for row in decision.writes:
            held = here[row.id].flags if row.id in here else frozenset()
            for flag in DEFAULT_FLAGS:
                if getattr(row, flag) and flag not in held:
                    gained[flag].append(row.id)
                    row = flag_dropped(row, flag)
            writes.append(row)
        inserted, updated = rows_upsert(ADDRESSES, writes)
        with connection.cursor() as cursor:
            for flag, ids in gained.items():
                if ids:
                    cursor.execute(
                        f"UPDATE {CustomerAddress._meta.db_table} "  # noqa: S608
                        f"SET {flag} = true WHERE id = ANY(%s)",  # (constants)
                        [ids],
                    )
    return AddressOutcome(inserted, updated, decision.problems)


def addresses_decide(
    rows: Sequence[AddressRow],
    *,
    customers: dict[str, bool],
    here: dict[str, Here],
) -> Decision:
    """Which rows to write, and how: `customers` maps the customers here to
    whether they are live, `here` the addresses here of those customers and
    of the rows' ids. Rows come in the source's order."""
    decision = Decision()
    count = Counter(address.customer_id for address in here.values())
    bound = settings.ADDRESSES_PER_CUSTOMER_MAX
    for row in rows:
        problem = _refusal(row, customers, here.get(row.id))
        if problem is None and row.id not in here:
            if count[row.customer_id] < bound:
                count[row.customer_id] += 1
            else:
                problem = Problem(
                    "customer_address", row.id, "too_many_addresses", detail=str(bound)
                )
        if problem is not None:
            decision.problems.append(problem)
        elif row.id not in here or row.updated_at > here[row.id].updated_at:
            decision.writes.append(row)
    # Who holds each default once the rows written have given theirs up.
    holders = {
        (address.customer_id, flag): address_id
        for address_id, address in here.items()
        for flag in address.flags
    }
    for row in decision.writes:
        for flag in DEFAULT_FLAGS:
            if (
                not getattr(row, flag)
                and holders.get((row.customer_id, flag)) == row.id
            ):
                del holders[(row.customer_id, flag)]
    writes = []
    for row in decision.writes:
        for flag in DEFAULT_FLAGS:
            if not getattr(row, flag):
                continue
            holder = holders.setdefault((row.customer_id, flag), row.id)
            if holder != row.id:
                decision.problems.append(
                    Problem(
                        "customer_address", row.id, "default_taken",
                        conflicts_with=holder, detail=flag,
                    )
                )  # fmt: skip
                row = flag_dropped(row, flag)
        writes.append(row)
    decision.writes = writes
    return decision


def _refusal(
    row: AddressRow, customers: dict[str, bool], old: Here | None
) -> Problem | None:
    if row.customer_id not in customers:
        return Problem(
            "customer_address", row.id, "goes_with", conflicts_with=row.customer_id
        )
    if not customers[row.customer_id]:
        return Problem(
            "customer_address",
            row.id,
            "customer_deleted_here",
            conflicts_with=row.customer_id,
        )
    if old is not None and old.customer_id != row.customer_id:
        return Problem(
            "customer_address",
            row.id,
            "other_customers_address",
            conflicts_with=old.customer_id,
        )
    return None


def _customers_lock(ids: set[str]) -> dict[str, bool]:
    """Lock the customers here, in id order; whether each is live."""
    rows = (
        Customer.objects.select_for_update()
        .filter(id__in=ids)
        .order_by("id")
        .values_list("id", "deleted_at")
    )
    return {customer_id: deleted_at is None for customer_id, deleted_at in rows}


def _addresses_here(customers: dict[str, bool], ids: list[str]) -> dict[str, Here]:
    rows = CustomerAddress.objects.filter(
        Q(customer_id__in=list(customers)) | Q(id__in=ids)
    ).values_list(
        "id", "customer_id", "updated_at", "is_default_shipping", "is_default_billing"
    )
    return {
        address_id: Here(
            customer_id,
            updated_at,
            frozenset(
                flag
                for flag, on in zip(DEFAULT_FLAGS, (shipping, billing), strict=True)
                if on
            ),
        )
        for address_id, customer_id, updated_at, shipping, billing in rows
    }
