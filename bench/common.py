"""What every benchmark shares: Django set-up, percentiles, tables, the JSON
written under var/bench/, and the machine facts recorded with each figure."""

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "var" / "bench"


def django_setup() -> None:
    """Django with the servers' settings; the application's log lines (one
    per OTP login, for instance) go to var/bench/app.log instead of the
    terminal, so in-process requests still pay for writing them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import logging

    import django

    django.setup()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    log_file = (OUT_DIR / "app.log").open("a")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setStream(log_file)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, as numpy does."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(samples_s: Sequence[float]) -> dict:
    """p50/p90/p99/max/mean in milliseconds of samples in seconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 3) if ms else None,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (prints readably and pastes into the docs)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(headers)
    ]

    def line(values):
        return (
            "| "
            + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))
            + " |"
        )

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def machine() -> dict:
    """The facts docs/performance.md prints with every figure."""
    cpu = ""
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for text in Path("/proc/meminfo").read_text().splitlines():
            if text.startswith("MemTotal:"):
                mem_kb = int(text.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "kernel": platform.release(),
    }


def _postgres_version() -> str:
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    except Exception:  # noqa: BLE001  (a fact for the report, never fatal)
        return "unknown"


def git_revision() -> str:
    try:
        head = subprocess.run(  # noqa: S603
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def cpu_probe_ms(rounds: int = 3) -> float:
    """Milliseconds of one core for a fixed piece of work (50,000 HMACs),
    best of `rounds`. This virtual machine's speed drifts by a quarter from
    minute to minute (neighbours on the host, invisible to the load
    average); the probe next to each figure says how fast it was then."""
    import hashlib
    import hmac

    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for i in range(50_000):
            hmac.digest(b"bench-probe-key", b"user%d@bench.example" % i, hashlib.sha256)
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def write_result(name: str, payload: dict) -> Path:
    """var/bench/NAME.json, stamped with time, machine, load and revision."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": [round(x, 2) for x in load_average()],
        "cpu_probe_ms": cpu_probe_ms(),
        "revision": git_revision(),
        "machine": machine(),
        **payload,
    }
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def manage_timed(*argv: str) -> dict:
    """One `manage.py ARGV` process, as an operator runs it: wall seconds,
    peak RSS (its own), its output; a failure raises with the output."""
    import sys

    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603  (fixed argv)
        [sys.executable, str(ROOT / "manage.py"), *argv],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"manage.py {argv[0]} failed:\n{output}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "output": output,
    }


def sizes_main(doc: str, *, name: str, run, default_sizes: str) -> None:
    """The `python -m bench.PART --sizes 10000,100000` entry point of a part
    whose `run(sizes=...)` returns its JSON: run, then write var/bench/NAME."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--sizes", default=default_sizes)
    args = parser.parse_args()
    django_setup()
    say(f"{name} benchmark; {load_note()}")
    result = run(sizes=[int(size) for size in args.sizes.split(",")])
    say(f"wrote {write_result(name, result)}; {load_note()}")


def latency_args(doc: str) -> tuple[list[int], int, str]:
    """`python -m bench.PART --sizes 1000,100000 --samples 200 --url URL`
    of a one-client latency part: the sizes, the samples, the web server's URL
    (BENCH_URL by default); Django set up."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--url", default=os.environ.get("BENCH_URL", ""))
    args = parser.parse_args()
    django_setup()
    return [int(x) for x in args.sizes.split(",")], args.samples, args.url


def say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201  (benchmarks report on stdout)


def load_note() -> str:
    one, five, fifteen = load_average()
    return (
        f"load average {one:.2f} {five:.2f} {fifteen:.2f}, "
        f"CPU probe {cpu_probe_ms()} ms"
    )


def proc_stat(pid: int | str) -> list[str] | None:
    """/proc/PID/stat's fields after the command (state is [0], ppid [1],
    utime [11], stime [12]); None when the process is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a local process, e.g. the PostgreSQL
    backend of a connection (`SELECT pg_backend_pid()`): a cost that load
    from other programs on the machine hardly changes, unlike wall time."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_seconds(master: int) -> float:
    """CPU time of a master process (the web server's, a Celery worker's,
    PostgreSQL's): its own and its reaped children's, and its live
    children's."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = proc_stat(master)
    if fields is None:
        return 0.0
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if (
            entry.name.isdigit()
            and (child := proc_stat(entry.name))
            and (int(child[1]) == master)
        ):
            total += int(child[11]) + int(child[12])
    return total / ticks


class Stopwatch:
    """perf_counter intervals: `with watch: ...` appends one sample."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.samples.append(time.perf_counter() - self._start)
