"""What one request costs this process: CPU time and SQL statements per
request, through Django's whole handler in-process (middleware, DRF,
services, PostgreSQL, Redis, the broker publish; no web server, no network),
for the four routes the peers are compared on: `GET /store/customers/me`
(the same 20 tokens over and over, as a busy storefront's reads), OTP
verify, OTP send (new addresses) and email+password login. CPU time is
`process_time`, so a loaded machine inflates it far less than wall time;
issue 19's profile and its fixes are read from it (docs/performance.md,
"What a request costs").

    python -m bench.request_cost [--samples 600] [--routes me,verify]
"""

import argparse
import json
import random
import secrets
import time
from datetime import UTC, datetime

from bench import load_data, routes
from bench.common import django_setup, load_note, say, table, write_result

ROUTES = ("me", "verify", "send", "login")
WARM_UP = 20


def _send_requests(count: int) -> list[routes.Request]:
    tag = secrets.token_hex(4)
    return [
        routes.Request(
            "POST",
            "/store/auth/otp/send",
            json.dumps({"email": f"cost.{tag}.{i}@{load_data.DOMAIN}"}).encode(),
            {"content-type": "application/json", **routes.store_headers()},
        )
        for i in range(count)
    ]


def _requests(route: str, dataset, count: int, rng) -> list[routes.Request]:
    now = datetime.now(UTC)
    if route == "send":
        return _send_requests(count)
    if route == "me":
        # A token's first request of a minute also marks its session used:
        # the same tokens again measure the steady state.
        first = routes.requests_for("me", dataset, WARM_UP, rng=rng, now=now)
        return (first * (count // WARM_UP + 1))[:count]
    return routes.requests_for(route, dataset, count, rng=rng, now=now)


def measure(route: str, dataset, samples: int, rng) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = routes.InProcess()
    requests = _requests(route, dataset, samples + WARM_UP, rng)
    for request in requests[:WARM_UP]:
        client.send(request)
    timed = requests[WARM_UP:]
    # CaptureQueriesContext keeps Django from emptying the query log when
    # the request starts; its list is read before the next request does.
    with CaptureQueriesContext(connection) as captured:
        status = client.send(timed[0])
    statements = len(captured.captured_queries)
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = [client.send(request) for request in timed[1:]]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    bad = [s for s in [status, *statuses] if s not in (200, 201)]
    if bad:
        raise RuntimeError(f"{route}: {len(bad)} answers were not 2xx: {bad[:5]}")
    n = len(timed) - 1
    return {
        "requests": n,
        "queries": statements,
        "cpu_ms": round(cpu / n * 1000, 3),
        "wall_ms": round(wall / n * 1000, 3),
    }


def run(*, samples: int, routes: tuple[str, ...] = ROUTES) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        dataset = load_data.dataset_get(cursor)
    if dataset is None or dataset.otp_every == 0:
        dataset, _ = load_data.ensure(10_000)
    rng = random.Random(11)  # noqa: S311  (picks benchmark rows)
    say(f"\nrequest cost, in-process ({samples} requests each); {load_note()}")
    results = {}
    for route in routes:
        count = samples if route != "login" else max(20, samples // 6)
        results[route] = measure(route, dataset, count, rng)
    rows = [
        (route, r["requests"], r["queries"], r["cpu_ms"], r["wall_ms"])
        for route, r in results.items()
    ]
    say(table(("route", "requests", "queries", "CPU ms", "wall ms"), rows))
    return {"load": load_note(), "routes": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument(
        "--routes",
        type=lambda text: tuple(text.split(",")),
        default=ROUTES,
        help=f"a comma list of {', '.join(ROUTES)} (all by default)",
    )
    args = parser.parse_args()
    unknown = set(args.routes) - set(ROUTES)
    if unknown:
        parser.error(f"unknown routes: {', '.join(sorted(unknown))}")
    django_setup()
    write_result("request-cost", run(samples=args.samples, routes=args.routes))


if __name__ == "__main__":
    main()
