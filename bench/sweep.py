"""The orphan sweep on a large backlog: M orphans among 2M identities (the
other M are customers), deleted by the production `orphans_sweep` with the
configured batch size (ORPHAN_SWEEP_BATCH_SIZE).

Figures: orphans per second (each deletion writes its audit row in the same
transaction), the total time, the longest single batch (one transaction:
its row locks are held from the batch SELECT to COMMIT), and the p99 of
emailpass logins over HTTP while the sweep runs against the same logins
with no sweep.

The sweep runs in a child process, like a Celery worker; this process only
times it from outside: `orphans_delete_batch` is wrapped in the child, no
timing code lives in the service. Logins come at a fixed rate (open loop:
latency counts from the moment a request was due, so a stall is not hidden
by the client waiting) from a pool of client threads.

    python -m bench.sweep --orphans 100000 [--url URL --login-rate 10]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import load_data, routes
from bench.common import (
    backend_cpu_seconds,
    django_setup,
    load_note,
    say,
    summary_ms,
    table,
    write_result,
)

LOGIN_RATE = 10.0  # logins per second, ~1/4 of what 2 cores can hash
IDLE_SECONDS = 20.0


# ------------------------------------------------------------------ child


def child(out_path: str) -> None:
    """Run one sweep exactly as the Celery task does, timing each batch."""
    django_setup()
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from orphans import selectors, services
    from orphans.models import Trigger

    batches: list[tuple[float, float, int]] = []
    # CPU of every backend that swept (one per worker thread): its reading
    # before the thread's first batch and after its latest.
    backends: dict[int, list[float | None]] = {}
    # The sweeper's own name for it (orphans/services/sweep.py).
    original = services.sweep.orphans_delete_batch

    def backend_pid() -> int:
        connection.ensure_connection()  # this thread's; psycopg knows its pid
        return connection.connection.info.backend_pid

    def timed_batch(**kwargs):
        pid = backend_pid()
        if pid not in backends:
            backends[pid] = [backend_cpu_seconds(pid), None]
        started = time.perf_counter()
        deleted = original(**kwargs)
        batches.append((started, time.perf_counter() - started, len(deleted)))
        backends[pid][1] = backend_cpu_seconds(pid)
        return deleted

    services.sweep.orphans_delete_batch = timed_batch
    with connection.cursor() as cursor:
        # The data set is no longer the loader's: the next ensure() starts over.
        cursor.execute("DELETE FROM bench_dataset")
    main_pid = backend_pid()
    main_cpu = backend_cpu_seconds(main_pid)
    own_cpu = time.process_time()
    started = time.perf_counter()
    run = services.orphans_sweep(
        older_than=selectors.orphan_max_age(),
        batch_size=settings.ORPHAN_SWEEP_BATCH_SIZE,
        workers=settings.ORPHAN_SWEEP_WORKERS,
        trigger=Trigger.COMMAND,
        now=timezone.now(),
    )
    finished = time.perf_counter()
    own_cpu = time.process_time() - own_cpu
    # The main connection counts and records the run; the workers delete.
    main_after = backend_cpu_seconds(main_pid)
    readings = [(main_cpu, main_after)] + [
        reading for pid, reading in backends.items() if pid != main_pid
    ]
    # None when /proc does not show PostgreSQL (another host, a container).
    backend_cpu_s = (
        None
        if any(x is None for reading in readings for x in reading)
        else sum(after - before for before, after in readings)
    )
    Path(out_path).write_text(
        json.dumps(
            {
                "deleted": run.deleted,
                "found": run.found,
                "batch_size": settings.ORPHAN_SWEEP_BATCH_SIZE,
                "workers": settings.ORPHAN_SWEEP_WORKERS,
                "started": started,
                "finished": finished,
                "batches": batches,
                "cpu_python_s": own_cpu,
                "cpu_postgres_s": backend_cpu_s,
            }
        )
    )


# ----------------------------------------------------------------- parent


class LoginLoad:
    """Open-loop logins at `rate` per second until stopped."""

    def __init__(self, base_url: str, dataset, rate: float) -> None:
        import random

        from django.utils import timezone

        self.base_url, self.rate = base_url, rate
        rng = random.Random(11)  # noqa: S311  (sampling, not secrets)
        self.requests = routes.requests_for(
            "login", dataset, 2000, rng=rng, now=timezone.now()
        )
        self.samples: list[tuple[float, float, int]] = []  # (due, latency, status)
        self._stop = threading.Event()
        self._local = threading.local()

    def _send(self, due: float, request) -> None:
        sender = getattr(self._local, "sender", None)
        if sender is None:
            sender = self._local.sender = routes.OverHttp(self.base_url)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        status = sender.send(request)
        self.samples.append((due, time.perf_counter() - due, status))

    def run(self, seconds: float | None = None) -> None:
        """Send at the rate for `seconds`, or until stop()."""
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            k = 0
            while not self._stop.is_set():
                due = start + k / self.rate
                if seconds is not None and due - start >= seconds:
                    break
                wait = due - time.perf_counter() - 0.005
                if wait > 0:
                    self._stop.wait(wait)
                pool.submit(self._send, due, self.requests[k % len(self.requests)])
                k += 1

    def stop(self) -> None:
        self._stop.set()

    def between(self, start: float, end: float) -> list[float]:
        return [lat for due, lat, _ in self.samples if start <= due <= end]

    def statuses(self) -> set[int]:
        return {status for _, _, status in self.samples}


def explain_batch(limit: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the batch statements, rolled back."""
    from django.db import connection, transaction
    from django.utils import timezone

    from orphans import selectors, services

    cutoff = timezone.now() - selectors.orphan_max_age()
    lines: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + services.LOCK_BATCH_SQL,
            {"cutoff": cutoff, "limit": limit, "ids": None},
        )
        lines += ["-- batch SELECT ... FOR UPDATE SKIP LOCKED"]
        lines += [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return "\n".join(lines)


def _sweep_in_child(env_extra: dict | None = None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    try:
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "bench.sweep", "--child", path],
            check=True,
            env={**os.environ, **(env_extra or {})},
        )
        return json.loads(Path(path).read_text())
    finally:
        Path(path).unlink(missing_ok=True)


def _sweep_figures(raw: dict) -> dict:
    batches = raw["batches"]
    durations = [d for _, d, n in batches if n]
    # Batches of parallel workers interleave: the span is first start to last end.
    first = min((s for s, _, _ in batches), default=raw["started"])
    last = max((s + d for s, d, _ in batches), default=raw["finished"])
    deleting = last - first
    total = raw["finished"] - raw["started"]
    return {
        "deleted": raw["deleted"],
        "found": raw["found"],
        "batch_size": raw["batch_size"],
        "workers": raw["workers"],
        "batches": len(durations),
        "total_seconds": round(total, 3),
        "deleting_seconds": round(deleting, 3),
        "orphans_per_second": round(raw["deleted"] / total, 1) if total else None,
        "orphans_per_second_deleting": round(raw["deleted"] / deleting, 1)
        if deleting
        else None,
        "batch": summary_ms(durations),
        "batches_over_100ms": sum(1 for d in durations if d > 0.1),
        # CPU per 1000 orphans: the sweep's own cost, which the load of other
        # programs changes far less than the wall-clock figures above.
        "cpu_ms_per_1000": {
            "python": _per_1000(raw["cpu_python_s"], raw["deleted"]),
            "postgres": _per_1000(raw["cpu_postgres_s"], raw["deleted"]),
        },
    }


def _per_1000(seconds, count):
    if seconds is None or not count:
        return None
    return round(seconds * 1e6 / count, 1)


def _check_after(dataset) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT
                (SELECT count(*) FROM accounts_authidentity
                 WHERE customer_id IS NULL),
                (SELECT count(*) FROM accounts_authidentity),
                (SELECT count(*) FROM accounts_provideridentity
                 WHERE entity_id LIKE 'orphan%%'),
                (SELECT count(*) FROM orphans_orphandeletion)"""
        )
        left, identities, orphan_providers, audit = cursor.fetchone()
    return {
        "orphans_left": left,
        "identities_left": identities,
        "orphan_provider_identities_left": orphan_providers,
        "audit_rows": audit,
        "customers_kept": identities == dataset.customers,
    }


def run(*, orphans: int, base_url: str = "", login_rate=LOGIN_RATE, idle=IDLE_SECONDS):
    """Load M orphans among 2M identities and sweep them; with a URL, also
    measure logins idle and during the sweep."""
    dataset, load_seconds = load_data.ensure(2 * orphans, orphan_share=0.5, fresh=True)
    say(
        f"\nsweep: {dataset.orphans:,} orphans among {dataset.n:,} identities "
        f"(loaded in {load_seconds:.1f} s); {load_note()}"
    )
    from django.conf import settings

    plan = explain_batch(settings.ORPHAN_SWEEP_BATCH_SIZE)
    result: dict = {
        "orphans": dataset.orphans,
        "identities": dataset.n,
        "load_seconds": round(load_seconds, 1),
        "explain": plan,
    }
    login = None
    if base_url:
        login = LoginLoad(base_url, dataset, login_rate)
        idle_start = time.perf_counter()
        login.run(idle)
        idle_samples = login.between(idle_start, time.perf_counter())
        result["login_idle"] = summary_ms(idle_samples)
        result["login_rate_per_s"] = login_rate
        thread = threading.Thread(target=login.run, daemon=True)
        thread.start()
    load_before = os.getloadavg()
    raw = _sweep_in_child()
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if login is not None:
        login.stop()
        thread.join()
        during = login.between(raw["started"], raw["finished"])
        result["login_during_sweep"] = summary_ms(during)
        if login.statuses() != {200}:
            raise RuntimeError(f"logins answered {login.statuses()}")
        idle_p99 = result["login_idle"]["p99_ms"]
        result["login_p99_ratio"] = round(
            result["login_during_sweep"]["p99_ms"] / idle_p99, 3
        )
    result["sweep"] = _sweep_figures(raw)
    result["after"] = _check_after(dataset)
    _report(result)
    return result


def _report(result: dict) -> None:
    s, after = result["sweep"], result["after"]
    batch = s["batch"]
    rows = [
        ["orphans deleted (audit rows)", f"{s['deleted']:,} ({after['audit_rows']:,})"],
        ["total time s (incl. counting)", s["total_seconds"]],
        ["orphans/s (total)", s["orphans_per_second"]],
        ["orphans/s (while deleting)", s["orphans_per_second_deleting"]],
        [
            "batches × size, workers",
            f"{s['batches']:,} × {s['batch_size']:,}, {s['workers']}",
        ],
        [
            "batch p50 / p99 / max ms",
            f"{batch['p50_ms']} / {batch['p99_ms']} / {batch['max_ms']}",
        ],
        ["batches over 100 ms", s["batches_over_100ms"]],
        [
            "CPU ms per 1000: sweep process / PostgreSQL",
            f"{s['cpu_ms_per_1000']['python']} / {s['cpu_ms_per_1000']['postgres']}",
        ],
        ["customers kept", after["customers_kept"]],
    ]
    if "login_idle" in result:
        idle, during = result["login_idle"], result["login_during_sweep"]
        rows += [
            [
                f"login p50 / p99 idle ms ({result['login_rate_per_s']:g}/s)",
                f"{idle['p50_ms']} / {idle['p99_ms']}",
            ],
            [
                "login p50 / p99 during sweep ms",
                f"{during['p50_ms']} / {during['p99_ms']}",
            ],
            ["login p99 during / idle", result["login_p99_ratio"]],
        ]
    before, after_load = result["load_average_before"], result["load_average_after"]
    rows.append(["load average before / after", f"{before} / {after_load}"])
    say(table([f"sweep of {result['orphans']:,}", "value"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orphans", type=int, default=100_000)
    parser.add_argument("--url", default="")
    parser.add_argument("--login-rate", type=float, default=LOGIN_RATE)
    parser.add_argument("--idle", type=float, default=IDLE_SECONDS)
    parser.add_argument("--name", default=None)
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    django_setup()
    result = run(
        orphans=args.orphans,
        base_url=args.url,
        login_rate=args.login_rate,
        idle=args.idle,
    )
    name = args.name or f"sweep-{args.orphans}"
    say(f"\nwrote {write_result(name, result)}")


if __name__ == "__main__":
    main()
