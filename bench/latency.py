"""Latency (p50/p99) of OTP verify, emailpass login and GET
/store/customers/me at each data set size, in-process and over HTTP, the
queries each request makes, and the ratio of the largest size to the
smallest.

One client, one request at a time (no queueing in the figures). In-process
runs Django's whole handler in this process; HTTP goes to the web server on a
kept-alive connection. Each request uses a random customer row; OTP
challenges are opened in bulk between timed requests, never inside one.

    python -m bench.latency --sizes 1000,100000 [--samples 200] [--url URL]
"""

import os
import random
import time
from collections import Counter

from bench import load_data, routes
from bench.common import latency_args, load_note, say, summary_ms, table, write_result

CHUNK = 50  # requests prepared at a time (one COPY of challenges for verify)
WARMUP = 10


def _timed(
    sender, route, dataset, count, rng, build=routes.requests_for
) -> tuple[list[float], Counter]:
    from django.utils import timezone

    samples: list[float] = []
    statuses: Counter = Counter()
    while len(samples) < count:
        batch = build(
            route,
            dataset,
            min(CHUNK, count - len(samples)),
            rng=rng,
            now=timezone.now(),
        )
        for request in batch:
            started = time.perf_counter()
            status = sender.send(request)
            samples.append(time.perf_counter() - started)
            statuses[status] += 1
    return samples, statuses


def queries_per_request(route, dataset, count, rng, build=routes.requests_for) -> dict:
    """Queries of `count` in-process requests, with the SQL of the last.
    `build(route, dataset, count, rng=, now=)` makes the requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client = routes.InProcess()
    counts: Counter = Counter()
    sql: list[str] = []
    requests = build(route, dataset, count + 1, rng=rng, now=timezone.now())
    client.send(requests.pop())  # a warm process (the key check is cached)
    for request in requests:
        with CaptureQueriesContext(connection) as captured:
            status = client.send(request)
        if status != 200:
            raise RuntimeError(f"{route} answered {status} while counting queries")
        counts[len(captured.captured_queries)] += 1
        sql = [q["sql"] for q in captured.captured_queries]
    return {
        "counts": dict(counts),
        "queries": max(counts),
        "sql": sql,
        "scans": scans_of(sql),
    }


def scans_of(sql: list[str]) -> list[str]:
    """The scan nodes PostgreSQL plans for each SELECT of a request (the
    captured SQL has its values inlined): index scans, never a Seq Scan of a
    table that grows with N."""
    from django.db import connection

    scans: list[str] = []
    with connection.cursor() as cursor:
        for statement in sql:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (COSTS OFF) " + statement)
            scans += [
                row[0].strip().removeprefix("->  ")
                for row in cursor.fetchall()
                if "Scan" in row[0]
            ]
    return scans


def run(*, sizes, samples, base_url, orphan_share=0.1, seed=6) -> dict:
    return measure(
        routes.ROUTES,
        routes.requests_for,
        sizes=sizes,
        samples=samples,
        base_url=base_url,
        orphan_share=orphan_share,
        seed=seed,
    )


def measure(
    names,
    build,
    *,
    sizes,
    samples,
    base_url,
    orphan_share=0.1,
    addresses=False,
    seed=6,
    at_size=None,
) -> dict:
    """The routes `names` (requests made by `build`, as routes.requests_for)
    at each size in order, then the smallest once more: the machine's speed
    drifts over minutes, so the ratios divide by the mean of the two
    smallest-size runs, which bracket the others in time. `at_size(n,
    dataset, per_route)`, if given, runs after each size with its data
    still loaded."""
    rng = random.Random(seed)  # noqa: S311  (sampling, not secrets)
    results: dict = {"sizes": sizes, "samples": samples, "by_size": {}}
    for n in [*sizes, sizes[0]]:
        repeat = str(n) in results["by_size"]
        dataset, load_seconds = load_data.ensure(
            n, orphan_share=orphan_share, addresses=addresses
        )
        label = f"N = {n:,}" + (" (again)" if repeat else "")
        say(f"\n{label}: loaded in {load_seconds:.1f} s; {load_note()}")
        per_route = {"load_seconds": round(load_seconds, 2), "routes": {}}
        for route in names:
            count = samples[route]
            senders = {"in_process": routes.InProcess()}
            if base_url:
                senders["http"] = routes.OverHttp(base_url)
            figures: dict = {}
            for mode, sender in senders.items():
                _timed(sender, route, dataset, WARMUP, rng, build)
                timings, statuses = _timed(sender, route, dataset, count, rng, build)
                if set(statuses) != {200}:
                    raise RuntimeError(f"{route} {mode} answered {dict(statuses)}")
                figures[mode] = summary_ms(timings)
            figures["queries"] = queries_per_request(route, dataset, 5, rng, build)
            figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
            per_route["routes"][route] = figures
        if repeat:
            results["smallest_again"] = per_route
        else:
            results["by_size"][str(n)] = per_route
        say(_size_table(label.removeprefix("N = "), per_route))
        if at_size is not None and not repeat:
            at_size(n, dataset, per_route)
    results["ratios"] = _ratios(results, sizes, names)
    say("\n" + _ratio_table(results["ratios"], sizes))
    return results


def _size_table(label, per_route) -> str:
    rows = []
    for route, f in per_route["routes"].items():
        http = f.get("http", {})
        rows.append(
            [
                route,
                f["in_process"]["p50_ms"],
                f["in_process"]["p99_ms"],
                http.get("p50_ms", float("nan")),
                http.get("p99_ms", float("nan")),
                f["queries"]["queries"],
                " ".join(f"{x:.2f}" for x in f["load_average"]),
            ]
        )
    return table(
        [
            f"N={label}",
            "in-proc p50 ms",
            "in-proc p99 ms",
            "HTTP p50 ms",
            "HTTP p99 ms",
            "queries",
            "load avg",
        ],
        rows,
    )


def _ratios(results, sizes, names) -> dict:
    large = results["by_size"][str(sizes[-1])]["routes"]
    smalls = [results["by_size"][str(sizes[0])]["routes"]]
    if "smallest_again" in results:
        smalls.append(results["smallest_again"]["routes"])
    ratios: dict = {}
    for route in names:
        b = large[route]
        ratios[route] = {
            f"{mode}_{q}": round(
                b[mode][q] / (sum(a[route][mode][q] for a in smalls) / len(smalls)),
                3,
            )
            for mode in ("in_process", "http")
            if mode in b
            for q in ("p50_ms", "p99_ms")
        }
        counts = [
            results["by_size"][str(n)]["routes"][route]["queries"]["counts"]
            for n in sizes
        ] + [a[route]["queries"]["counts"] for a in smalls[1:]]
        ratios[route]["queries_constant"] = all(
            c == counts[0] and len(c) == 1 for c in counts
        )
    return ratios


def _ratio_table(ratios, sizes) -> str:
    rows = [
        [
            route,
            r.get("in_process_p50_ms", float("nan")),
            r.get("in_process_p99_ms", float("nan")),
            r.get("http_p50_ms", float("nan")),
            r.get("http_p99_ms", float("nan")),
            "yes" if r["queries_constant"] else "NO",
        ]
        for route, r in ratios.items()
    ]
    return table(
        [
            f"N={sizes[-1]:,} / N={sizes[0]:,}",
            "in-proc p50",
            "in-proc p99",
            "HTTP p50",
            "HTTP p99",
            "queries constant",
        ],
        rows,
    )


def main() -> None:
    sizes, count, url = latency_args(__doc__)
    samples = {"verify": count, "login": max(20, count // 4), "me": count * 4}
    result = run(sizes=sizes, samples=samples, base_url=url)
    say(f"\nwrote {write_result('latency', result)}")


if __name__ == "__main__":
    main()
