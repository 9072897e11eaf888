"""What a Medusa `customer_address` row becomes here, on its own: a row to
upsert, or the problem that keeps it out. Pure, as plan.py; what depends on
the rows already here (the customer, the bound, the defaults) is
address_writer.py's.

Policy (docs/migrate-from-medusa.md): soft-deleted addresses are not
imported; Medusa stores `country_code` as sent, here it is lower-case ISO
3166-1 alpha-2 (a CHECK), so an upper-case code is lower-cased and any
other refused.
"""

import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from medusa_import.problems import Problem, Rejected, metadata_row_problem
from medusa_import.source import Row

COUNTRY_CODE = re.compile(r"[a-z]{2}")
# A longer value is not echoed into the report: it could be anything typed.
COUNTRY_CODE_SHOWN = 8


@dataclass(frozen=True)
class AddressRow:
    id: str
    customer_id: str
    address_name: str | None
    is_default_shipping: bool
    is_default_billing: bool
    company: str | None
    first_name: str | None
    last_name: str | None
    address_1: str | None
    address_2: str | None
    city: str | None
    country_code: str | None
    province: str | None
    postal_code: str | None
    phone: str | None
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


DEFAULT_FLAGS = ("is_default_shipping", "is_default_billing")


def flag_dropped(row: AddressRow, flag: str) -> AddressRow:
    if flag == "is_default_shipping":
        return replace(row, is_default_shipping=False)
    return replace(row, is_default_billing=False)


def address_row(row: Row) -> AddressRow:
    """The row as it is stored here; Rejected with the reason it cannot be."""
    problem = metadata_row_problem("customer_address", row)
    country_code = row["country_code"]
    if country_code is not None:
        country_code = country_code.lower()
        if problem is None and not COUNTRY_CODE.fullmatch(country_code):
            problem = Problem(
                "customer_address",
                row["id"],
                "invalid_country_code",
                detail=_shown(row["country_code"]),
            )
    if problem is not None:
        raise Rejected(problem)
    # Every column as Medusa has it (the source reads the very same names).
    columns = {column.name: row[column.name] for column in fields(AddressRow)}
    return AddressRow(**{**columns, "country_code": country_code})


def _shown(value: str) -> str:
    if len(value) > COUNTRY_CODE_SHOWN:
        return f"{len(value)} characters"
    return repr(value)
