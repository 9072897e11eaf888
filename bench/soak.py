"""The web workers' memory over a long mixed run (issue 19's target: each
web worker at most 120 MB after 10,000 mixed requests, and flat over ten
minutes: no growth once warm).

    ./dev bench --soak [--minutes 10]

On the bench stack with one Celery worker, as `./dev bench --peers`, loops
until the minutes are up, each loop: M complete code logins at 8 clients
(bench/peers/bench-code-login.py, flow mode: the request, the mail through
the worker, the confirm, `/me`), then N password logins and N
`GET /store/customers/me` at 8 connections (bench/peers/bench-login.mjs).
Every 5 s the RSS of each web server worker (ps); after the last loop, a
few seconds at rest and once more, with each worker's PSS and private
memory (RSS counts the pages a worker shares with the others in each).
var/bench/soak.json holds the samples, the loops' rates and, per worker,
its RSS at the first sample, the least and the most over the warm minute
(the second) and over the last one, and at rest. The least of a minute is
the worker between password hashes: a hash holds Argon2id's 19 MiB until
it ends (docs/performance.md, "The hash buffer handed back"); growth is the
last minute's least minus the warm minute's.
"""

import argparse
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import OUT_DIR, git_revision, say, table, write_result
from bench.peer_compare import (
    WARMUP,
    Runner,
    Systems,
    load_customers,
    mail_path_check,
    stack_argv,
    stack_options,
    workers_rss_mib,
    workers_shared_mib,
)

# Often enough that each minute has samples between password hashes.
SAMPLE_SECONDS = 5
REST_SECONDS = 5
CONCURRENCY = 8
# Customers to load: a fresh slice a loop for this many loops a minute (a
# default loop took 28 s here); smaller loops may run out, and say so.
LOOPS_A_MINUTE = 10


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="./dev bench --soak", description=__doc__.split("\n\n")[0]
    )
    stack_options(p)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--m", type=int, default=100, help="code logins a loop")
    p.add_argument("--n", type=int, default=1500, help="logins and me a loop")
    return p


def parse(argv: Sequence[str]) -> argparse.Namespace:
    args = parser().parse_args(list(argv))
    if args.minutes <= 0 or args.m < 1 or args.n < 1:
        parser().error("--minutes, --m and --n must be above 0")
    return args


def soak_argv(
    args: argparse.Namespace, *, url: str, mail_dir: Path, web_pid: int
) -> list[str]:
    """This module's command line for `./dev bench --soak`."""
    return [
        *stack_argv(url=url, mail_dir=mail_dir, web_pid=web_pid),
        *("--minutes", str(args.minutes), "--m", str(args.m), "--n", str(args.n)),
    ]


def customers_needed(minutes: float, m: int) -> int:
    """Every code login a fresh address (the resend cooldown and the hourly
    budget count per address), and one for the check that mail comes."""
    return int(minutes * LOOPS_A_MINUTE + 1) * (WARMUP + m) + 1


def loop_offset(index: int, m: int) -> int:
    """The first address of loop `index` (its warm-up, then its M)."""
    return 1 + index * (WARMUP + m)


def loop_has_addresses(index: int, m: int, n: int) -> bool:
    """Whether loop `index` stays below customer n (the mail check's)."""
    return loop_offset(index, m) + WARMUP + m - 1 < n


class Sampler(threading.Thread):
    """Every SAMPLE_SECONDS: seconds since the start, load, workers' RSS."""

    def __init__(self, master_pid: int) -> None:
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.started = time.monotonic()
        self.samples: list[dict] = []
        self.stopping = threading.Event()

    def sample(self) -> dict:
        taken = {
            "second": round(time.monotonic() - self.started),
            "load_1m": round(os.getloadavg()[0], 2),
            "rss_mib": workers_rss_mib(self.master_pid),
        }
        self.samples.append(taken)
        return taken

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS - 0.001):
            self.sample()


def worker_summary(samples: Sequence[dict], at_rest: dict) -> list[dict]:
    """Per worker: first sample, least and most over the warm minute (60 to
    120 s) and the last minute (from 60 s before the last sample), at rest,
    and the growth between the two least."""
    end = samples[-1]["second"]
    windows = {"warm": (60, 120), "last": (end - 60, end)}
    out = []
    # Every worker seen: one replaced (a crash) too.
    pids = {pid for s in [*samples, at_rest] for pid in s["rss_mib"]}
    for pid in sorted(pids):
        seen = [s["rss_mib"][pid] for s in samples if pid in s["rss_mib"]]
        entry: dict = {"pid": pid, "first": seen[0] if seen else None}
        for name, (since, until) in windows.items():
            values = [
                s["rss_mib"][pid]
                for s in samples
                if since <= s["second"] <= until and pid in s["rss_mib"]
            ]
            entry[f"{name}_least"] = min(values) if values else None
            entry[f"{name}_most"] = max(values) if values else None
        entry["at_rest"] = at_rest["rss_mib"].get(pid)
        entry["growth"] = (
            round(entry["last_least"] - entry["warm_least"], 1)
            if entry["last_least"] is not None and entry["warm_least"] is not None
            else None
        )
        out.append(entry)
    return out


def loop(runner: Runner, args: argparse.Namespace, index: int) -> None:
    """One loop: the code logins, then the password logins and `/me`."""
    offset = loop_offset(index, args.m)
    runner.code(
        "ours", "flow", index, args.m, concurrency=(CONCURRENCY,), offset=offset
    )
    for op in ("login", "me"):
        runner.node("ours", op, CONCURRENCY, args.n, index)


def main(argv: Sequence[str] | None = None) -> None:
    from bench.common import django_setup, load_note
    from bench.maildrop import MailDrop

    args = parse(sys.argv[1:] if argv is None else argv)
    if not args.url or not args.mail_dir or not args.web_pid:
        parser().error("--url, --mail-dir and --web-pid are required (our bench stack)")
    django_setup()
    n = customers_needed(args.minutes, args.m)
    say(f"soak of {args.minutes} minutes against {args.url}; {load_note()}")
    revision = git_revision()
    load_customers(n)
    drop = MailDrop(args.mail_dir).start()
    try:
        systems = Systems(args.url, drop.code_url, n)
        mail_path_check(systems, drop, n)
        runner = Runner(systems, args.web_pid, OUT_DIR / "soak" / "clients.log")
        sampler = Sampler(args.web_pid)
        say(f"start: {sampler.sample()['rss_mib']} MiB")
        sampler.start()
        deadline = sampler.started + args.minutes * 60
        loops = 0
        while time.monotonic() < deadline:
            if not loop_has_addresses(loops, args.m, n):
                say(f"no fresh addresses left after {loops} loops: stopped early")
                break
            loop(runner, args, loops)
            loops += 1
        sampler.stopping.set()
        sampler.join()
        last = sampler.sample()
        time.sleep(REST_SECONDS)
        at_rest = sampler.sample()
        at_rest["shared_mib"] = workers_shared_mib(args.web_pid)
    finally:
        drop.stop()
    samples = sampler.samples[:-1]
    workers = worker_summary(samples, at_rest)
    requests = sum(r.get("n") or 0 for r in runner.rows)
    errors = sum(r.get("errors") or 0 for r in runner.rows)
    failed_runs = [run["label"] for run in runner.runs if run["exit_status"] != 0]
    say(
        table(
            [
                "worker",
                "first",
                "warm least–most",
                "last least–most",
                "at rest",
                "growth",
            ],
            [
                [
                    str(w["pid"]),
                    w["first"],
                    f"{w['warm_least']}–{w['warm_most']}",
                    f"{w['last_least']}–{w['last_most']}",
                    w["at_rest"],
                    w["growth"],
                ]
                for w in workers
            ],
        )
    )
    say(f"at rest, PSS and private MiB: {at_rest['shared_mib']}")
    say(f"{loops} loops, {requests:,} requests timed, the last at {last['second']} s")
    if errors or failed_runs:
        say(f"failed requests: {errors}; clients that failed: {failed_runs}")
    payload = {
        "revision_at_start": revision,
        "config": {**vars(args), "mail_dir": str(args.mail_dir), "customers": n},
        "workers": workers,
        "samples": samples,
        "at_rest": at_rest,
        "loops": loops,
        "requests": requests,
        "errors": errors,
        "failed_runs": failed_runs,
        "rows": runner.rows,
    }
    say(f"wrote {write_result('soak', payload)}; {load_note()}")
    if errors or failed_runs:
        raise SystemExit(1)  # memory under load that did not load is no figure


if __name__ == "__main__":
    main()
