"""HTTP throughput of verify, login and me against the web server with wrk at
concurrency 8 and 32 (closed loop: each connection sends its next request
when the answer arrives), on the loaded data set.

Requests come from a file (bench/wrk/requests.lua replays it), so each wrk
thread sends its own distinct requests: random customers for login and me,
and for verify one freshly opened challenge per request (enough for the
whole run at the rate we can reach; a reused one would answer 400 and show
up as non-2xx).

    python -m bench.throughput --url URL [--duration 10] [--routes me,login]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import load_data, routes
from bench.common import django_setup, load_note, say, table, write_result

LUA = Path(__file__).resolve().parent / "wrk" / "requests.lua"
CONCURRENCY = (8, 32)
THREADS = 2
# Distinct requests per file for login and me (they may repeat), and opened
# challenges per second of run for verify (above any rate we reach).
DISTINCT = 2000
VERIFY_PER_SECOND = 800


def _request_file(requests: list[routes.Request], directory: str) -> str:
    path = Path(directory) / "requests.tsv"
    with path.open("w") as out:
        for r in requests:
            body = (r.body or b"").decode()
            if "\t" in body or "\n" in body:
                raise ValueError("request bodies must be one line without tabs")
            headers = [f"{k}: {v}" for k, v in r.headers.items()]
            out.write("\t".join([r.method, r.path, body, *headers]) + "\n")
    return str(path)


def wrk(url: str, request_file: str, *, connections: int, duration: int) -> dict:
    executable = shutil.which("wrk")
    if executable is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    threads = min(THREADS, connections)
    completed = subprocess.run(  # noqa: S603
        [
            executable,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            url,
            "--",
            request_file,
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
            data["non_2xx"] = data["errors"]["status"]
            return data
    raise RuntimeError(f"wrk printed no summary:\n{completed.stdout}")


def run(*, base_url, duration, route_names=routes.ROUTES, n=None, seed=7) -> dict:
    from django.db import connection
    from django.utils import timezone

    rng = random.Random(seed)  # noqa: S311  (sampling, not secrets)
    with connection.cursor() as cursor:
        dataset = load_data.dataset_get(cursor)
    if dataset is None or (n is not None and dataset.n != n):
        dataset, _ = load_data.ensure(n or 100_000)
    say(f"\nthroughput at N = {dataset.n:,}, {duration} s per run; {load_note()}")
    results: dict = {"n": dataset.n, "duration_s": duration, "runs": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as directory:
        for route in route_names:
            for connections in CONCURRENCY:
                count = DISTINCT
                if route == "verify":
                    count = VERIFY_PER_SECOND * (duration + 1)
                requests = routes.requests_for(
                    route, dataset, count, rng=rng, now=timezone.now()
                )
                figures = wrk(
                    base_url + routes.PATHS[route],
                    _request_file(requests, directory),
                    connections=connections,
                    duration=duration,
                )
                figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
                results["runs"][f"{route}@{connections}"] = figures
                lat = figures["latency_us"]
                rows.append(
                    [
                        route,
                        connections,
                        round(figures["rps"], 1),
                        lat["p50"] / 1000,
                        lat["p99"] / 1000,
                        figures["non_2xx"]
                        + sum(v for k, v in figures["errors"].items() if k != "status"),
                        " ".join(f"{x:.2f}" for x in figures["load_average"]),
                    ]
                )
                say(table(_HEADERS, rows[-1:]).splitlines()[-1])
    say("\n" + table(_HEADERS, rows))
    return results


_HEADERS = ["route", "conns", "req/s", "p50 ms", "p99 ms", "errors", "load avg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", ""))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--routes", default=",".join(routes.ROUTES))
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--name", default="throughput")
    args = parser.parse_args()
    if not args.url:
        parser.error("--url (or BENCH_URL) is required")
    django_setup()
    result = run(
        base_url=args.url,
        duration=args.duration,
        route_names=args.routes.split(","),
        n=args.n,
    )
    say(f"\nwrote {write_result(args.name, result)}")


if __name__ == "__main__":
    main()
