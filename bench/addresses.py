"""Latency of the address book routes at each data set size, every
customer having 1 to 3 addresses (bench/load_addresses.py): the list, one
address, a create, an update and a delete, in-process and over HTTP, with
the queries of each and the ratio of the largest size to the smallest, as
bench/latency.py measures the login routes. At the largest size the list's
queries are run once more under `EXPLAIN (ANALYZE, BUFFERS)`: they walk
the (customer_id, id) index, whatever the size of the table. After each
size, the WAL that 50 more of each write makes (bench/addresses.py
`wal_per_write`).

- `list`: GET /store/customers/me/addresses (the count and the first page);
- `get`: GET /store/customers/me/addresses/{id}, one of the customer's own;
- `create`: POST /store/customers/me/addresses, a new address (each
  customer gets a few at most: the cap is ADDRESSES_PER_CUSTOMER_MAX);
- `update`: POST /store/customers/me/addresses/{id}, two fields changed;
- `delete`: DELETE /store/customers/me/addresses/{id} of an address added
  for it in bulk between timed requests (the loaded ones stay).

Each request is a random customer row's; writes answer the customer with
its addresses, as Medusa does.

    python -m bench.addresses --sizes 1000,100000 [--samples 200] [--url URL]
"""

import json
import random
from datetime import datetime

from bench import latency, load_addresses, load_data, routes
from bench.common import latency_args, say, write_result

ROUTES = ("list", "get", "create", "update", "delete")
PATH = "/store/customers/me/addresses"
STREETS = ("Elm", "Oak", "Birch", "Maple", "Cedar")


def requests_for(
    route: str,
    dataset: load_data.Dataset,
    count: int,
    *,
    rng: random.Random,
    now: datetime,
) -> list[routes.Request]:
    """`count` requests ready to send, as routes.requests_for. For `delete`
    this adds the addresses to delete first (one INSERT)."""
    rows = routes.customer_rows(dataset, count, rng=rng)
    if route == "delete":
        targets = _addresses_add(rows, now)
    else:
        targets = [
            load_addresses.address_id(
                i, rng.randint(1, load_addresses.address_count(i))
            )
            for i in rows
        ]
    requests = []
    for i, address_id in zip(rows, targets, strict=True):
        headers = routes.customer_headers(i, now)
        if route == "list":
            request = routes.Request("GET", PATH, None, headers)
        elif route == "get":
            request = routes.Request("GET", f"{PATH}/{address_id}", None, headers)
        elif route == "create":
            request = routes.Request("POST", PATH, _body(rng, new=True), headers)
        elif route == "update":
            body = _body(rng, new=False)
            request = routes.Request("POST", f"{PATH}/{address_id}", body, headers)
        elif route == "delete":
            request = routes.Request("DELETE", f"{PATH}/{address_id}", None, headers)
        else:
            raise ValueError(route)
        requests.append(request)
    return requests


def _body(rng: random.Random, *, new: bool) -> bytes:
    street = f"{rng.randint(1, 999)} {rng.choice(STREETS)} Street"
    if not new:
        return json.dumps({"address_1": street, "address_2": "Floor 2"}).encode()
    return json.dumps(
        {
            "address_name": "Office",
            "first_name": "Bench",
            "last_name": "User",
            "address_1": street,
            "city": "Aarhus",
            "country_code": "DK",
            "postal_code": "8000",
        }
    ).encode()


def _addresses_add(rows: list[int], now: datetime) -> list[str]:
    """One new address per row (one INSERT), to be deleted; their ids."""
    from accounts.models import CustomerAddress

    added = CustomerAddress.objects.bulk_create(
        CustomerAddress(
            customer_id=load_data.customer_id(i),
            address_name="To delete",
            address_1=f"{i} Gone Street",
            country_code="dk",
            created_at=now,
            updated_at=now,
        )
        for i in rows
    )
    return [address.id for address in added]


def explain_list(per_route: dict) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the list request's queries (the last
    measured request's SQL, its values inlined) on the address table."""
    from django.db import connection

    lines: list[str] = []
    with connection.cursor() as cursor:
        for statement in per_route["routes"]["list"]["queries"]["sql"]:
            if "accounts_customeraddress" not in statement:
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            lines += [f"-- {statement}"] + [row[0] for row in cursor.fetchall()]
    return "\n".join(lines)


def wal_per_write(dataset, rng: random.Random, count: int = 50) -> dict:
    """WAL written per write request, in-process (this process's own
    connection, nothing else writing): records, full-page images, bytes.
    A page's first change after a checkpoint is logged whole, so writes
    that land all over a large table cost more WAL than those that keep
    to the few pages of a small one."""
    from django.utils import timezone

    client = routes.InProcess()
    out = {}
    for route in ("create", "update", "delete"):
        requests = requests_for(route, dataset, count, rng=rng, now=timezone.now())
        before = _wal_stats()
        for request in requests:
            client.send(request)
        after = _wal_stats()
        out[route] = {key: round((after[key] - before[key]) / count) for key in after}
    return out


def _wal_stats() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        # This backend's counts reach pg_stat_wal when it next goes idle.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
        records, fpi, size = cursor.fetchone()
    return {"records": records, "full_page_images": fpi, "bytes": int(size)}


def table_rows() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_customeraddress")
        return cursor.fetchone()[0]


def run(*, sizes, samples, base_url, orphan_share=0.1, seed=7) -> dict:
    explained: dict = {}
    addresses_at: dict = {}
    wal: dict = {}
    rng = random.Random(seed + 1)  # noqa: S311  (sampling, not secrets)

    def at_size(n, dataset, per_route) -> None:
        addresses_at[str(n)] = table_rows()
        wal[str(n)] = wal_per_write(dataset, rng)
        say(f"{addresses_at[str(n)]:,} addresses at N = {n:,}")
        say(f"WAL per write request: {wal[str(n)]}")
        if n == max(sizes):
            explained["n"] = n
            explained["plan"] = explain_list(per_route)
            say(f"\nEXPLAIN ANALYZE of the list at N = {n:,}:\n{explained['plan']}")

    results = latency.measure(
        ROUTES,
        requests_for,
        sizes=sizes,
        samples=samples,
        base_url=base_url,
        orphan_share=orphan_share,
        addresses=True,
        seed=seed,
        at_size=at_size,
    )
    results["addresses_at_size"] = addresses_at
    results["explain_list"] = explained
    results["wal_per_write"] = wal
    return results


def main() -> None:
    sizes, count, url = latency_args(__doc__)
    result = run(sizes=sizes, samples=dict.fromkeys(ROUTES, count), base_url=url)
    say(f"\nwrote {write_result('addresses', result)}")


if __name__ == "__main__":
    main()
