"""Replication lag to Medusa under a steady stream of customer changes.

Each step sends changes at a fixed rate (open loop, for `seconds`) as real
HTTP requests to the web server, each from a customer with no change still on
its way: profile updates (POST /store/customers/me, 40 %), address updates
(30 %), creates (15 %) and deletes (15 %) on /store/customers/me/addresses.
A "direct" step makes the same changes through the services those routes
call, in this process (same transactions, triggers and kick): the
replica's side alone, without the web's CPU, which on 2 cores caps the
HTTP steps below 100 changes per second.
A Celery worker copies them into a Medusa database next to ours
(MEDUSA_DATABASE_URL, which must name a database called `bench_...`: its
tables are made anew), as in production: replica/signals.py kicks a drain
after each commit, replica_drain_task copies the changed customers.

The lag of a change is the time from its request's 200 (the client has
the answer; direct: the service's return, after its commit and kick) to
the first poll of Medusa's tables that shows it: the customer's
`last_name` or the address's `address_2` carrying the change's own value,
or the deleted address gone. A poller thread reads every change
still on its way (by primary key) every POLL_SECONDS, so each lag is late
by up to one poll period plus the poll's query; a change already in Medusa
when its answer arrives counts 0. The step also reports the rate reached,
the backlog when its last request is answered (outbox rows not applied,
and changes not yet seen in Medusa) and how long the worker then takes to
clear it, and the worker's own `replica_lag_seconds` (from the outbox
row's creation to Medusa's commit) read from /metrics.

Medusa's tables are filled first with a copy of our customers and their
addresses (COPY), as an import would have left them.

    python -m bench.replica_lag --rates 100 --direct-rates 100,300 --seconds 60
"""

import argparse
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench import load_data, routes
from bench.common import (
    OUT_DIR,
    django_setup,
    load_note,
    say,
    summary_ms,
    table,
    write_result,
)
from bench.medusa_import import SCHEMA_SQL
from bench.replica_observe import (
    StackCpu,
    WorkerLog,
    metrics_delta,
    metrics_read,
    outbox_backlog,
)

POLL_SECONDS = 0.01
SENDERS = 64  # client threads, each with its own kept-alive connection
DIRECT_SENDERS = 8  # threads calling the services, each its own connection
SETTLE_SECONDS = 120  # how long a step's changes may take to show
MIX = (("profile", 40), ("update", 30), ("create", 15), ("delete", 15))
BOOK_MAX = 6  # creates stop at this many addresses; deletes keep one
PATH = "/store/customers/me"
LATE_MAX = 5.0  # a change the client cannot send this late is dropped
GONE = object()
MEDUSA_TABLES = ("customer_address", "customer", "provider_identity", "auth_identity")


@dataclass
class Change:
    kind: str
    row: int  # customer row of the data set
    table: str  # Medusa's table that shows it
    key: str  # the row there
    marker: str | None  # the value that shows it; None: the row is gone
    due: float
    body: dict | None = None  # the request's JSON, the service's changes
    answered: float = 0.0
    status: int = 0
    visible: float | None = None


class Customers:
    """Who may change next (no change of theirs on its way) and their
    address books as the changes left them."""

    def __init__(self, books: dict[int, list[str]], rng: random.Random) -> None:
        self.books = books
        self.free = list(books)
        self.rng = rng
        self.lock = threading.Lock()
        self.seq = 0

    def take(self, due: float) -> Change:
        with self.lock:
            slot = self.rng.randrange(len(self.free))
            self.free[slot], self.free[-1] = self.free[-1], self.free[slot]
            i = self.free.pop()
            self.seq += 1
            seq = self.seq
            kind = self.rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
            book = self.books[i]
            if (kind == "delete" and len(book) < 2) or (
                kind == "create" and len(book) >= BOOK_MAX
            ):
                kind = "update"
            target = book.pop(self.rng.randrange(len(book))) if kind == "delete" else ""
            if kind == "update":
                target = self.rng.choice(book)
        marker = f"bench change {seq}"
        if kind == "profile":
            key, table, body = (
                load_data.customer_id(i),
                "customer",
                {"last_name": marker},
            )
        elif kind == "create":
            key, table, body = "", "customer_address", _address_body(marker)
        elif kind == "update":
            key, table, body = target, "customer_address", {"address_2": marker}
        else:
            key, table, body, marker = target, "customer_address", None, None
        return Change(kind, i, table, key, marker, due, body)

    def created(self, change: Change, address_id: str) -> None:
        """A create's new address joins the book."""
        change.key = address_id
        with self.lock:
            self.books[change.row].append(address_id)

    def release(self, change: Change) -> None:
        with self.lock:
            self.free.append(change.row)


def over_http(change: Change, sender: routes.OverHttp) -> tuple[int, str | None]:
    """The change as the storefront sends it; the answer's status."""
    path = PATH if change.kind == "profile" else f"{PATH}/addresses"
    if change.kind in ("update", "delete"):
        path += f"/{change.key}"
    method = "DELETE" if change.kind == "delete" else "POST"
    data = json.dumps(change.body).encode() if change.body is not None else None
    headers = routes.customer_headers(change.row, _now())
    status, body = sender.exchange(routes.Request(method, path, data, headers))
    if status == 200 and change.kind == "create":
        addresses = json.loads(body)["customer"]["addresses"]
        return status, next(
            a["id"] for a in addresses if a["address_2"] == change.marker
        )
    return status, None


def direct(change: Change, sender: None) -> tuple[int, str | None]:
    """The change through the service the route calls, in this process:
    the same transaction (the address book read in it, as the routes do),
    triggers and kick after the commit, without HTTP, middleware, DRF or
    the web server."""
    from accounts import services

    customer_id, now = load_data.customer_id(change.row), _now()
    if change.kind == "profile":
        services.customer_update(customer_id=customer_id, changes=change.body, now=now)
    elif change.kind == "create":
        body = {**change.body, "country_code": change.body["country_code"].lower()}
        addresses = services.address_create(
            customer_id=customer_id, changes=body, now=now, read_addresses=True
        )
        return 200, next(a.id for a in addresses if a.address_2 == change.marker)
    elif change.kind == "update":
        services.address_update(
            customer_id=customer_id,
            address_id=change.key,
            changes=change.body,
            now=now,
            read_addresses=True,
        )
    else:
        services.address_delete(
            customer_id=customer_id, address_id=change.key, read_addresses=True
        )
    return 200, None


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _address_body(marker: str) -> dict:
    return {
        "address_name": "Office",
        "first_name": "Bench",
        "last_name": "User",
        "address_1": "1 Harbour Road",
        "address_2": marker,
        "city": "Aarhus",
        "country_code": "DK",
        "postal_code": "8000",
    }


class Poller:
    """Reads Medusa's copy of every change on its way, every POLL_SECONDS."""

    def __init__(self, medusa_url: str, customers: Customers) -> None:
        self.conn = psycopg.connect(medusa_url, autocommit=True)
        self.customers = customers
        self.pending: list[Change] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.polls = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def add(self, change: Change) -> None:
        with self.lock:
            self.pending.append(change)

    def waiting(self) -> int:
        with self.lock:
            return len(self.pending)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                pending = list(self.pending)
            started = time.perf_counter()  # after every change in `pending` answered
            if pending:
                self._poll(pending, started)
            self.stopping.wait(max(0.0, started + POLL_SECONDS - time.perf_counter()))

    def _poll(self, pending: list[Change], at: float) -> None:
        customers = [c.key for c in pending if c.table == "customer"]
        addresses = [c.key for c in pending if c.table == "customer_address"]
        rows = self.conn.execute(
            "SELECT 'customer', id, last_name FROM customer WHERE id = ANY(%s) "
            "UNION ALL SELECT 'customer_address', id, address_2 "
            "FROM customer_address WHERE id = ANY(%s)",
            [customers, addresses],
        ).fetchall()
        self.polls += 1
        found = {(table, key): value for table, key, value in rows}
        seen = []
        for change in pending:
            value = found.get((change.table, change.key), GONE)
            shown = value is GONE if change.marker is None else value == change.marker
            if shown:
                change.visible = at
                seen.append(change)
        if seen:
            with self.lock:
                done = {id(c) for c in seen}
                self.pending = [c for c in self.pending if id(c) not in done]
            for change in seen:
                self.customers.release(change)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.conn.close()


def step(
    base_url: str,
    customers: Customers,
    poller: Poller,
    rate: float,
    seconds: float,
    how: str = "http",
) -> tuple[dict, list[list]]:
    """`rate` changes per second for `seconds`, then until all show; `how`:
    "http" through the web server, or "direct" through the services in this
    process. The figures, and each change as [kind, due, answered, shown,
    status] in seconds from the step's start."""
    changes: list[Change] = []
    dropped: list[float] = []
    errors: list[str] = []
    local = threading.local()
    apply = over_http if how == "http" else direct

    def send(due: float) -> None:
        sender = getattr(local, "sender", None)
        if sender is None and how == "http":
            sender = local.sender = routes.OverHttp(base_url)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif -delay > LATE_MAX:  # the server is saturated: not sent
            dropped.append(due)
            return
        change = customers.take(due)
        try:
            status, address_id = apply(change, sender)
        except OSError:  # counted as status 0
            status, address_id = 0, None
        except Exception as exc:  # noqa: BLE001  (a failed direct change, counted)
            status, address_id = 500, None
            errors.append(f"{change.kind}: {type(exc).__name__}: {exc}"[:200])
        change.answered, change.status = time.perf_counter(), status
        changes.append(change)
        if status != 200:
            customers.release(change)
            return
        if address_id is not None:
            customers.created(change, address_id)
        poller.add(change)

    worker_log, cpu = WorkerLog(), StackCpu()
    before, cpu_before = metrics_read(base_url), cpu.read()
    start = time.perf_counter()
    senders = SENDERS if how == "http" else DIRECT_SENDERS
    with ThreadPoolExecutor(max_workers=senders) as pool:
        for k in range(int(rate * seconds)):
            due = start + k / rate
            wait = due - time.perf_counter() - 0.005
            if wait > 0:
                time.sleep(wait)
            pool.submit(send, due)
    ended = time.perf_counter()  # the last answer
    cpu_sent = cpu.read()
    backlog_end = {**outbox_backlog(), "unseen": poller.waiting()}
    deadline = ended + SETTLE_SECONDS
    while poller.waiting() and time.perf_counter() < deadline:
        time.sleep(0.05)
    settled = time.perf_counter()
    applied = metrics_delta(before, metrics_read(base_url))
    ok = sum(c.status == 200 for c in changes)
    result = {
        "how": how,
        "target_rate": rate,
        "seconds": seconds,
        "achieved_rate": round(ok / (ended - start), 1),
        "dropped": len(dropped),
        "errors": sorted(set(errors))[:10],
        **_lags(changes, start),
        "backlog_end": backlog_end,
        "settle_seconds": round(settled - ended, 2),
        "metrics": applied,
        "drains": worker_log.drains(applied.get("changes_applied")),
        "cpu": _cpu(StackCpu.delta(cpu_before, cpu_sent), ok, ended - start),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    raw = [
        [
            c.kind,
            round(c.due - start, 4),
            round(c.answered - start, 4),
            round(c.visible - start, 4) if c.visible is not None else None,
            c.status,
        ]
        for c in changes
    ]
    return result, raw


def _cpu(spent: dict, changes: int, wall: float) -> dict:
    """CPU seconds of each part of the stack while the step sent, per
    change, and the cores they kept busy."""
    total = sum(spent.values())
    return {
        "seconds": spent,
        "ms_per_change": {
            part: round(1000 * s / changes, 2) if changes else None
            for part, s in {**spent, "total": total}.items()
        },
        "cores": round(total / wall, 2),
    }


def _lags(changes: list[Change], start: float) -> dict:
    ok = [c for c in changes if c.status == 200]
    seen = [c for c in ok if c.visible is not None]
    statuses: dict[str, int] = {}
    for c in changes:
        statuses[str(c.status)] = statuses.get(str(c.status), 0) + 1
    windows: dict[str, list[Change]] = {}
    for c in seen:
        windows.setdefault(f"{int((c.due - start) // 10) * 10}s", []).append(c)
    return {
        "changes": len(changes),
        "statuses": statuses,
        "request_ms": summary_ms([c.answered - c.due for c in changes]),
        "lag_ms": summary_ms([c.visible - c.answered for c in seen]),
        "lag_by_kind_ms": {
            kind: summary_ms([c.visible - c.answered for c in seen if c.kind == kind])
            for kind, _ in MIX
        },
        # Steady or growing: the lag of the changes due in each 10 s.
        "lag_by_10s_ms": {
            window: summary_ms([c.visible - c.answered for c in group])
            for window, group in windows.items()
        },
        "never_seen": len(ok) - len(seen),
    }


def medusa_prepare(url: str) -> dict:
    """Medusa's tables made anew in the bench database, filled with a copy
    of our customers and addresses."""
    from django.db import connection

    from replica.medusa import ADDRESS_COLUMNS, CUSTOMER_COLUMNS

    name = conninfo_to_dict(url).get("dbname", "")
    if not name.startswith("bench_"):
        raise SystemExit(
            f"MEDUSA_DATABASE_URL names database {name!r}: this benchmark "
            "remakes its tables, so it must be called bench_... (./dev bench "
            "--only replication makes one)"
        )
    copied = {}
    with psycopg.connect(url, autocommit=True) as medusa:
        medusa.execute(f"DROP TABLE IF EXISTS {', '.join(MEDUSA_TABLES)} CASCADE")
        medusa.execute(SCHEMA_SQL.read_text())
        for ours, theirs, columns in (
            ("accounts_customer", "customer", CUSTOMER_COLUMNS),
            ("accounts_customeraddress", "customer_address", ADDRESS_COLUMNS),
        ):
            names = ", ".join(columns)
            copy_out = f"COPY (SELECT {names} FROM {ours}) TO STDOUT"  # noqa: S608
            copy_in = f"COPY {theirs} ({names}) FROM STDIN"
            with connection.cursor() as cursor, medusa.cursor() as into:
                with cursor.copy(copy_out) as source, into.copy(copy_in) as sink:
                    for data in source:
                        sink.write(data)
                into.execute(f"SELECT count(*) FROM {theirs}")  # noqa: S608
                copied[theirs] = into.fetchone()[0]
        medusa.execute("VACUUM ANALYZE customer, customer_address")
    return copied


def books_read() -> dict[int, list[str]]:
    """The loaded customers' address books (row i: its address ids)."""
    from django.db import connection

    books: dict[int, list[str]] = {}
    prefix = f"cus_{load_data.ID_TAG}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id, id FROM accounts_customeraddress "
            "WHERE customer_id ~ %s ORDER BY customer_id, id",
            [f"^{prefix}[0-9]{{19}}$"],
        )
        for customer_id, address_id in cursor.fetchall():
            books.setdefault(int(customer_id.removeprefix(prefix)), []).append(
                address_id
            )
    return books


def run(
    *,
    base_url: str,
    rates: list[float],
    seconds: float,
    n: int,
    direct_rates: list[float] = (),
) -> dict:
    """Steps at each rate over HTTP, then at each of `direct_rates` through
    the services in this process (the replica's side alone, without the
    web's cost: on 2 cores the web alone takes a core at 100 writes/s)."""
    from django.conf import settings
    from django.db import connection

    url = settings.MEDUSA_DATABASE_URL
    if not url:
        raise SystemExit(
            "MEDUSA_DATABASE_URL is not set: run ./dev bench --only replication"
        )
    dataset, load_seconds = load_data.ensure(n, addresses=True)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE replica_change")  # other parts' writes
    copied = medusa_prepare(url)
    say(
        f"N = {n:,}: loaded in {load_seconds:.1f} s; Medusa holds "
        f"{copied['customer']:,} customers, {copied['customer_address']:,} "
        f"addresses; {load_note()}"
    )
    customers = Customers(books_read(), random.Random(12))  # noqa: S311
    poller = Poller(url, customers)
    results: dict = {"n": n, "medusa_rows": copied, "steps": {}}
    raw: dict = {}
    try:
        # The worker may still be starting: a few changes, until they show.
        warm, _ = step(base_url, customers, poller, rate=10, seconds=2)
        if warm["never_seen"]:
            raise RuntimeError(
                "changes did not reach Medusa: is a Celery worker running with "
                "MEDUSA_DATABASE_URL, and the web server with it (its kicks)?"
            )
        plan = [("http", rate) for rate in rates]
        plan += [("direct", rate) for rate in direct_rates]
        for how, rate in plan:
            label = f"{how} {rate:g}"
            say(f"\n{rate:g} changes/s for {seconds:g} s, {how}; {load_note()}")
            result, raw[label] = step(
                base_url, customers, poller, rate=rate, seconds=seconds, how=how
            )
            results["steps"][label] = result
            say(_step_table(result))
    finally:
        poller.close()
    # Every change, for a closer look: [kind, due, answered, shown, status].
    (OUT_DIR / "replication-changes.json").write_text(json.dumps(raw))
    results["poll_seconds"] = POLL_SECONDS
    results["polls"] = poller.polls
    results["settings"] = {
        "REPLICA_BATCH_SIZE": settings.REPLICA_BATCH_SIZE,
        "REPLICA_DRAIN_SECONDS": settings.REPLICA_DRAIN_SECONDS,
    }
    say("\n" + summary_table(results))
    return results


def _step_table(r: dict) -> str:
    lag, drains = r["lag_ms"], r["drains"]
    say(
        f"achieved {r['achieved_rate']}/s ({r['dropped']} dropped), "
        f"statuses {r['statuses']}, request p50/p99 "
        f"{r['request_ms']['p50_ms']}/{r['request_ms']['p99_ms']} ms; "
        f"backlog at the end {r['backlog_end']}, cleared in "
        f"{r['settle_seconds']} s; drains {drains.get('count')}, "
        f"{drains.get('changes_per_drain')} changes each; CPU ms per change "
        f"{r['cpu']['ms_per_change']}, {r['cpu']['cores']} cores"
    )
    return table(
        ["kind", "changes", "lag p50 ms", "p90", "p99", "max"],
        [["all", lag["n"], lag["p50_ms"], lag["p90_ms"], lag["p99_ms"], lag["max_ms"]]]
        + [
            [kind, s["n"], s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"]]
            for kind, s in r["lag_by_kind_ms"].items()
        ],
    )


def summary_table(results: dict) -> str:
    rows = []
    for rate, r in results["steps"].items():
        lag, m = r["lag_ms"], r["metrics"]
        rows.append(
            [
                rate,
                r["achieved_rate"],
                lag["p50_ms"],
                lag["p90_ms"],
                lag["p99_ms"],
                lag["max_ms"],
                r["request_ms"]["p99_ms"],
                f"{r['backlog_end']['pending']} / {r['backlog_end']['unseen']}",
                r["settle_seconds"],
                f"{m.get('p50_at_most_s')} / {m.get('p99_at_most_s')}",
                " ".join(f"{x:.2f}" for x in r["load_average"]),
            ]
        )
    return table(
        [
            "step (changes/s)",
            "achieved/s",
            "lag p50 ms",
            "p90",
            "p99",
            "max",
            "request p99 ms",
            "backlog at end (outbox / unseen)",
            "clear s",
            "metric p50/p99 ≤ s",
            "load avg",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100", help="over HTTP")
    parser.add_argument("--direct-rates", default="100", help="in-process")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", ""))
    args = parser.parse_args()
    django_setup()
    result = run(
        base_url=args.url,
        rates=[float(x) for x in args.rates.split(",") if x],
        direct_rates=[float(x) for x in args.direct_rates.split(",") if x],
        seconds=args.seconds,
        n=args.n,
    )
    say(f"\nwrote {write_result('replication', result)}")


if __name__ == "__main__":
    main()
