"""What the replication benchmark reads from the stack besides Medusa's
tables (bench/replica_lag.py): the outbox's backlog, the worker's
`replica_lag_seconds` and applied changes from /metrics, the drains in the
worker's log, and the CPU time of every process of the stack, from /proc.
The worker's log and the processes are found through BENCH_LOG_DIR, which
./dev bench's stack sets (its directory holds web.pid and worker.pid)."""

import os
import re
import time
from pathlib import Path

from bench import routes
from bench.common import proc_stat, summary_ms, tree_cpu_seconds


def _now():
    from django.utils import timezone

    return timezone.now()


class WorkerLog:
    """The drains the worker finished since this was made, from its log
    (BENCH_LOG_DIR/worker.log: ./dev bench's stack)."""

    PATTERN = re.compile(r"replica_drain_task\[[^\]]+\] succeeded in ([0-9.e-]+)s")

    def __init__(self) -> None:
        directory = os.environ.get("BENCH_LOG_DIR")
        self.path = Path(directory) / "worker.log" if directory else None
        self.offset = self.path.stat().st_size if self.path else 0

    def drains(self, applied: float | None) -> dict:
        if self.path is None:
            return {}
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
        seconds = [float(x) for x in self.PATTERN.findall(text)]
        return {
            "count": len(seconds),
            "task_ms": summary_ms(seconds),
            "changes_per_drain": (
                round(applied / len(seconds), 2) if applied and seconds else None
            ),
        }


def outbox_backlog() -> dict:
    from replica.selectors import backlog

    now = backlog()
    oldest = now.oldest_pending_at
    return {
        "pending": now.pending,
        "parked": now.parked,
        "oldest_pending_seconds": (
            round((_now() - oldest).total_seconds(), 3) if oldest else None
        ),
    }


def metrics_read(base_url: str) -> dict:
    """replica_lag_seconds and replica_changes_applied from /metrics."""
    from django.conf import settings
    from prometheus_client.parser import text_string_to_metric_families

    headers = {"authorization": f"Bearer {settings.METRICS_TOKEN}"}
    status, body = routes.OverHttp(base_url).exchange(
        routes.Request("GET", "/metrics", None, headers)
    )
    if status != 200:
        return {}
    out: dict = {"buckets": {}}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "replica_lag_seconds_bucket":
                out["buckets"][sample.labels["le"]] = sample.value
            elif sample.name in (
                "replica_lag_seconds_count",
                "replica_lag_seconds_sum",
            ):
                out[sample.name.rsplit("_", 1)[1]] = sample.value
            elif sample.name == "replica_changes_applied_total":
                out["applied"] = sample.value
    return out


def metrics_delta(before: dict, after: dict) -> dict:
    """What the step added: the drain's lag histogram (per customer and
    batch) as count, mean and the bucket bounds of its p50 and p99."""
    if not before or not after:
        return {}
    count = after.get("count", 0) - before.get("count", 0)
    buckets = {
        le: after["buckets"][le] - before["buckets"].get(le, 0)
        for le in after["buckets"]
    }

    def bound(q: float) -> str | None:
        for le, seen in sorted(buckets.items(), key=lambda kv: float(kv[0])):
            if count and seen >= q * count:
                return le
        return None

    return {
        "observations": count,
        "mean_s": round((after["sum"] - before["sum"]) / count, 4) if count else None,
        "p50_at_most_s": bound(0.5),
        "p99_at_most_s": bound(0.99),
        "changes_applied": after.get("applied", 0) - before.get("applied", 0),
    }


class StackCpu:
    """CPU seconds (user + system) of the web server, of the Celery worker, of
    PostgreSQL and of Redis, each a master and its children, the exited ones included
    (as the master reaped them: a backend per connection, a drain task's
    reconnection), and of this process (client threads and poller).
    `delta(before, after)` is what was spent in between."""

    def __init__(self) -> None:
        directory = os.environ.get("BENCH_LOG_DIR")
        self.run_dir = Path(directory).parent if directory else None

    def read(self) -> dict[str, float]:
        masters = {name: self._master(name) for name in ("web", "worker", "redis")}
        masters["postgres"] = _postmaster()
        reading = {"client": time.process_time()}
        for name, master in masters.items():
            if master is not None:
                reading[name] = tree_cpu_seconds(master)
        return reading

    def _master(self, name: str) -> int | None:
        if self.run_dir is None:
            return None
        try:
            return int((self.run_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {
            name: round(after[name] - before[name], 2)
            for name in after
            if name in before
        }


def _postmaster() -> int | None:
    """The parent of this connection's backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        fields = proc_stat(cursor.fetchone()[0])
    return int(fields[1]) if fields else None
