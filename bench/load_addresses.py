"""The address book of every loaded customer, set-based like the rest of
bench/load_data.py (one `INSERT ... SELECT generate_series` per chunk of
rows, in the chunk's transaction).

Customer row i (not an orphan) has `address_count(i)` = 1 + i mod 3
addresses, so a data set of N rows holds about 2 N x (1 - orphan share)
of them, in the proportions 1, 2, 3 per customer:

- address k (1..3) of row i is `cuaddr_01BENCH<k><i, 18 digits>` (26
  characters after the prefix, like the application's ULIDs; they sort
  before any address the API creates, whose ids start with the time);
- address 1 is the default shipping and billing address, 2 and 3 are not
  (Medusa's partial unique indexes: one default of each kind);
- lower-case country codes (the CHECK), five cities in turn, created and
  updated with the customer.
"""

from bench.load_data import CREATED, ID_TAG, ORPHAN, SERIES

ADDRESSES_MAX = 3
COUNTRIES = ("dk", "de", "fr", "us", "gb")
CITIES = ("Copenhagen", "Berlin", "Paris", "Austin", "London")
NAMES = ("Home", "Work", "Parents")

# `ARRAY[...]` of quoted constants (no input reaches this SQL).
_COUNTRY = f"(ARRAY{list(COUNTRIES)!r})[1 + i %% {len(COUNTRIES)}]"
_CITY = f"(ARRAY{list(CITIES)!r})[1 + i %% {len(CITIES)}]"
_NAME = f"(ARRAY{list(NAMES)!r})[k]"

INSERT_ADDRESSES = f"""
INSERT INTO accounts_customeraddress
    (id, customer_id, address_name, is_default_shipping, is_default_billing,
     company, first_name, last_name, address_1, address_2, city, country_code,
     province, postal_code, phone, metadata, created_at, updated_at,
     deleted_at)
SELECT 'cuaddr_{ID_TAG}' || k || lpad(i::text, 18, '0'),
       'cus_{ID_TAG}' || lpad(i::text, 19, '0'),
       {_NAME}, k = 1, k = 1, NULL, 'Bench', 'User ' || i,
       k || ' Bench Street ' || i, NULL, {_CITY}, {_COUNTRY}, NULL,
       lpad((i %% 10000)::text, 4, '0'), NULL, NULL, {CREATED}, {CREATED}, NULL
FROM {SERIES}
CROSS JOIN generate_series(1, {ADDRESSES_MAX}) AS k
WHERE NOT {ORPHAN} AND k <= 1 + i %% {ADDRESSES_MAX}
"""  # noqa: S608  (constants, no input)


def address_count(i: int) -> int:
    """How many addresses customer row i has (an orphan has none)."""
    return 1 + i % ADDRESSES_MAX


def address_id(i: int, k: int) -> str:
    return f"cuaddr_{ID_TAG}{k}{i:018d}"


def address_ids(i: int) -> list[str]:
    """Customer row i's addresses, in id (list) order."""
    return [address_id(i, k) for k in range(1, address_count(i) + 1)]


def address_city(i: int) -> str:
    return CITIES[i % len(CITIES)]


def insert_addresses(cursor, params: dict) -> None:
    """Rows lo+1..hi (`params` of load_data.insert_rows)."""
    cursor.execute(INSERT_ADDRESSES, params)
