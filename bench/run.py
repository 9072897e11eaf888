"""Every benchmark in one run, as `./dev bench` starts it: latency and
queries at each size, support's admin pages, throughput with wrk, password
hashing, the sweep, a Medusa import, the replica's backfill, the address
book routes, what one request costs in-process (CPU and statements), the
replication lag to Medusa; then a summary against the
targets of docs/performance.md. Each part writes its JSON under var/bench/,
the summary too (var/bench/summary.json).

    python -m bench.run [--full] --url http://127.0.0.1:PORT

Quick (the default, a few minutes): N = 10^3 and 10^5, 2 x 10^4 orphans,
a Medusa import of 10^4 customers, a backfill of 10^5 customers.
Full: N = 10^3, 10^5 and 10^6, sweeps of 10^5 and 10^6 orphans, Medusa
imports of 10^4 and 10^5 customers, a backfill of 10^5 customers.
Replication: 100 changes per second for 60 s over HTTP, then 100 through
the services in-process (full: 100 and 300 each way), at N = 10^5; it
needs MEDUSA_DATABASE_URL and a Celery worker, which `./dev bench` starts
for that part alone (so it runs it on its own, after the others, with
--merge-summary).
"""

import argparse
import json
import os
import time

from bench import (
    PARTS,
    addresses,
    admin_pages,
    hashing,
    latency,
    medusa_import,
    replica_backfill,
    replica_lag,
    request_cost,
    sweep,
    throughput,
)
from bench.common import OUT_DIR, django_setup, load_note, say, table, write_result

# The keys of the summary that hold a part's results.
RESULT_KEYS = (
    "latency",
    "admin",
    "throughput",
    "hashing",
    "sweeps",
    "medusa_import",
    "replica_backfill",
    "addresses",
    "request_cost",
    "replication",
)

PROFILES = {
    "quick": {
        "sizes": [1_000, 100_000],
        "samples": {"verify": 100, "login": 40, "me": 400},
        "throughput_seconds": 5,
        "hash_samples": 15,
        "sweeps": [20_000],
        "sweep_idle_seconds": 8.0,
        "imports": [10_000],
        "backfills": [100_000],
        "address_samples": {
            "list": 300,
            "get": 300,
            "create": 150,
            "update": 150,
            "delete": 150,
        },
        "cost_samples": 300,
        "replication": {
            "rates": [100],
            "direct_rates": [100],
            "seconds": 60,
            "n": 100_000,
        },
    },
    "full": {
        "sizes": [1_000, 100_000, 1_000_000],
        "samples": {"verify": 400, "login": 150, "me": 1500},
        "throughput_seconds": 15,
        "hash_samples": 40,
        "sweeps": [100_000, 1_000_000],
        "sweep_idle_seconds": 20.0,
        "imports": [10_000, 100_000],
        "backfills": [100_000],
        "address_samples": {
            "list": 1000,
            "get": 1000,
            "create": 400,
            "update": 400,
            "delete": 400,
        },
        "cost_samples": 1000,
        "replication": {
            "rates": [100, 300],
            "direct_rates": [100, 300],
            "seconds": 60,
            "n": 100_000,
        },
    },
}

TARGETS = {
    "lookup_ratio": 1.2,
    "sweep_per_second": 20_000,
    "sweep_million_seconds": 60,
    "batch_ms": 100,
    "login_p99_ratio": 1.5,
    "me_rps_at_32": 500,
    "backfill_seconds": replica_backfill.TARGET_SECONDS,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", ""))
    parser.add_argument(
        "--only", default=",".join(PARTS), help="comma-separated parts to run"
    )
    parser.add_argument(
        "--merge-summary",
        action="store_true",
        help="keep the parts' results of the summary a previous run wrote",
    )
    args = parser.parse_args()
    if not args.url:
        parser.error("--url (or BENCH_URL) is required: the web server to measure")
    django_setup()
    name = "full" if args.full else "quick"
    profile = PROFILES[name]
    parts = set(args.only.split(","))
    started = time.perf_counter()
    say(f"bench ({name}) against {args.url}; {load_note()}")
    results: dict = {"profile": name, "web": _web_config()}
    if args.merge_summary:
        results.update(_previous_results())

    if "latency" in parts:
        results["latency"] = latency.run(
            sizes=profile["sizes"], samples=profile["samples"], base_url=args.url
        )
        write_result("latency", results["latency"])
    if "admin" in parts:
        sizes = profile["sizes"]
        results["admin"] = admin_pages.run(sizes=[sizes[0], sizes[-1]])
        write_result("admin", results["admin"])
    if "throughput" in parts:
        results["throughput"] = throughput.run(
            base_url=args.url,
            duration=profile["throughput_seconds"],
            n=profile["sizes"][-1],
        )
        write_result("throughput", results["throughput"])
    if "hashing" in parts:
        runs = results.get("throughput", {}).get("runs", {})
        login_rps = {
            c: runs[f"login@{c}"]["rps"]
            for c in throughput.CONCURRENCY
            if f"login@{c}" in runs
        }
        results["hashing"] = hashing.run(
            samples=profile["hash_samples"], login_rps=login_rps
        )
        write_result("hashing", results["hashing"])
    if "sweep" in parts:
        results["sweeps"] = {}
        for orphans in profile["sweeps"]:
            outcome = sweep.run(
                orphans=orphans,
                base_url=args.url,
                idle=profile["sweep_idle_seconds"],
            )
            results["sweeps"][str(orphans)] = outcome
            write_result(f"sweep-{orphans}", outcome)

    if "import" in parts:
        results["medusa_import"] = medusa_import.run(sizes=profile["imports"])
        write_result("medusa-import", results["medusa_import"])
    if "backfill" in parts:
        results["replica_backfill"] = replica_backfill.run(sizes=profile["backfills"])
        write_result("replica-backfill", results["replica_backfill"])
    if "addresses" in parts:
        results["addresses"] = addresses.run(
            sizes=profile["sizes"],
            samples=profile["address_samples"],
            base_url=args.url,
        )
        write_result("addresses", results["addresses"])
    if "cost" in parts:
        results["request_cost"] = request_cost.run(samples=profile["cost_samples"])
        write_result("request-cost", results["request_cost"])
    if "replication" in parts:
        results["replication"] = replica_lag.run(
            base_url=args.url, **profile["replication"]
        )
        write_result("replication", results["replication"])

    results["verdicts"] = verdicts(results)
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    if results["verdicts"]:
        say("\n" + _verdict_table(results["verdicts"]))
    say(f"\n{name} run took {results['elapsed_seconds']:.0f} s; {load_note()}")
    say(f"wrote {write_result('summary', results)}")


def _previous_results() -> dict:
    try:
        previous = json.loads((OUT_DIR / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return {key: previous[key] for key in RESULT_KEYS if key in previous}


def _web_config() -> dict:
    return {
        "workers": os.environ.get("BENCH_WEB_WORKERS"),
        "threads": os.environ.get("BENCH_WEB_THREADS"),
    }


def verdicts(results: dict) -> list[dict]:
    """Each target with the measured figure and whether it is met."""
    out: list[dict] = []

    def add(target, figure, limit, met, note=""):
        out.append(
            {
                "target": target,
                "figure": figure,
                "limit": limit,
                "met": bool(met),
                "note": note,
            }
        )

    for key, prefix in (("latency", ""), ("addresses", "address ")):
        lat = results.get(key)
        if not lat:
            continue
        sizes = lat["sizes"]
        for route, ratio in lat["ratios"].items():
            figure = ratio.get("http_p50_ms", ratio["in_process_p50_ms"])
            add(
                f"{prefix}{route} p50 N={sizes[-1]:,} / N={sizes[0]:,} (HTTP)",
                figure,
                f"≤ {TARGETS['lookup_ratio']}",
                figure <= TARGETS["lookup_ratio"],
                f"in-process {ratio['in_process_p50_ms']}",
            )
            add(
                f"{prefix}{route} queries per request constant",
                "yes" if ratio["queries_constant"] else "no",
                "constant",
                ratio["queries_constant"],
            )
    for rate, r in (results.get("replication") or {}).get("steps", {}).items():
        add(
            f"replication lag p99, {rate} changes/s, ms",
            r["lag_ms"]["p99_ms"],
            "report",
            True,
            f"p50 {r['lag_ms']['p50_ms']}, achieved {r['achieved_rate']}/s",
        )
    tp = results.get("throughput")
    if tp and "me@32" in tp["runs"]:
        rps = round(tp["runs"]["me@32"]["rps"], 1)
        add(
            "GET /store/customers/me at 32 connections, req/s",
            rps,
            f"≥ {TARGETS['me_rps_at_32']}",
            rps >= TARGETS["me_rps_at_32"],
        )
    hashing_result = results.get("hashing")
    if hashing_result:
        for c, ratio in hashing_result["login_rps_over_single_hash_rate"].items():
            add(
                f"login req/s at {c} connections / single-hash rate",
                ratio,
                "report (≈ cores when hashing bounds logins)",
                True,
                f"machine hash rate {hashing_result['machine_hash_rate_per_s']}/s",
            )
    for orphans, s in (results.get("sweeps") or {}).items():
        figures = s["sweep"]
        add(
            f"sweep of {int(orphans):,}: orphans/s (audit included)",
            figures["orphans_per_second"],
            f"≥ {TARGETS['sweep_per_second']:,}",
            figures["orphans_per_second"] >= TARGETS["sweep_per_second"],
        )
        if int(orphans) >= 1_000_000:
            add(
                f"sweep of {int(orphans):,}: total seconds",
                figures["total_seconds"],
                f"< {TARGETS['sweep_million_seconds']}",
                figures["total_seconds"] < TARGETS["sweep_million_seconds"],
            )
        add(
            f"sweep of {int(orphans):,}: longest batch ms",
            figures["batch"]["max_ms"],
            f"≤ {TARGETS['batch_ms']}",
            figures["batch"]["max_ms"] <= TARGETS["batch_ms"],
        )
        if "login_p99_ratio" in s:
            add(
                f"sweep of {int(orphans):,}: login p99 during / idle",
                s["login_p99_ratio"],
                f"≤ {TARGETS['login_p99_ratio']}",
                s["login_p99_ratio"] <= TARGETS["login_p99_ratio"],
            )
    for run in (results.get("replica_backfill") or {}).get("runs", []):
        if run["customers"] == 100_000:
            add(
                "medusa_sync --backfill of 100,000 customers, seconds",
                run["backfill_s"],
                f"< {TARGETS['backfill_seconds']}",
                run["backfill_s"] < TARGETS["backfill_seconds"],
                f"verify {run['verify_s']} s",
            )
    return out


def _verdict_table(rows: list[dict]) -> str:
    return table(
        ["target", "figure", "limit", "met", "note"],
        [
            [
                r["target"],
                r["figure"],
                r["limit"],
                "yes" if r["met"] else "NO",
                r["note"],
            ]
            for r in rows
        ],
    )


if __name__ == "__main__":
    main()
