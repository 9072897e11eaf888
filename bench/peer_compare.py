"""This server against its peers, with the peers' own clients, in one run:
django-allauth's "login by code" for the OTP login, Medusa 2.21 for
email+password login and `GET /store/customers/me`
(docs/performance.md, "Against the peers").

    python -m bench.peer_compare --url URL --mail-dir DIR \\
        [--allauth-env FILE] [--medusa-env FILE] [--rounds 3] [--m 200]

`./dev bench --peers` starts our throw-away bench stack with one Celery
worker (the code mail goes through its drain in Celery, into the stack's mail
directory), starts the peers when it is given their start scripts, and
runs this. Here: load N customers (every one an OTP user, no orphans),
start the mail drop (bench/maildrop.py) that serves our codes to the code
client, then run the rounds, interleaved: in each round, every client run
goes to us and then to its peer (A B A B), so a drift of the machine's
speed touches both sides alike.

Per round and system:
- bench/peers/bench-code-login.py (stdlib Python), ours against allauth:
  phased (code request, code confirm, the authenticated read "me", each
  timed apart; reading the code is not timed) and flow (complete logins:
  request, the mail arrives, confirm, me), at 8 and 32 concurrent clients,
  a fresh slice of M addresses for each (never an address twice in a run:
  our code request has a per-address resend cooldown);
- bench/peers/bench-login.mjs (Node's fetch), ours against Medusa:
  `GET /store/customers/me` at 8 and 32 connections and email+password
  login at 8 (the client registers its own customer on each side).

The 1-minute load average is read before each run, and our web server's
workers' RSS (ps) after each of ours. var/bench/peers.json holds every row
and, per metric, the median over the rounds of ours and of the peer and
their ratio (ours / peer, throughput: above 1 we are faster).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import OUT_DIR, ROOT, git_revision, say, table, write_result

if TYPE_CHECKING:
    from bench.maildrop import MailDrop

CODE_CLIENT = ROOT / "bench" / "peers" / "bench-code-login.py"
NODE_CLIENT = ROOT / "bench" / "peers" / "bench-login.mjs"
CONCURRENCY = (8, 32)
WARMUP = 20  # the code client's default: addresses it uses before timing
OUR_EMAIL = "user{i}@bench.example"  # bench/load_data.py's customer i (1..N)
CLIENT_TIMEOUT = 900
CLIENTS_LOG = OUT_DIR / "peers" / "clients.log"  # each run's clients' own reports

NODE_RUNS = (("me", 8), ("me", 32), ("login", 8))
# Issue 19's targets for ours / peer (the other metrics are reported only).
TARGETS: dict[str, float] = {
    "code request @8": 2.0,
    "code request @32": 2.0,
    "code confirm @8": 2.0,
    "code confirm @32": 2.0,
    "code flow @8": 1.5,
    "code flow @32": 1.5,
    "me @32": 3.0,
    "login @8": 4.0,
}


def parser() -> argparse.ArgumentParser:
    """The options of this module, and of `./dev bench --peers` (which
    takes --allauth and --medusa, the peers' start scripts, itself)."""
    p = argparse.ArgumentParser(
        prog="./dev bench --peers", description=__doc__.split("\n\n")[0]
    )
    stack_options(p)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--m", type=int, default=200, help="code logins per run and C")
    p.add_argument("--me-n", type=int, default=1000, help="Node client: me requests")
    p.add_argument("--login-n", type=int, default=100, help="Node client: logins")
    p.add_argument("--n", type=int, help="customers to load (default: what is used)")
    for peer in ("allauth", "medusa"):
        name = peer.upper()
        p.add_argument(
            f"--{peer}",
            metavar="RUN_PEER_SH",
            default=os.environ.get(f"BENCH_{name}") or None,
            help=f"start {peer} with this script (env BENCH_{name})",
        )
        p.add_argument(
            f"--{peer}-env",
            metavar="PEER_ENV",
            type=Path,
            default=os.environ.get(f"BENCH_{name}_ENV") or None,
            help=f"a running {peer}'s peer.env (env BENCH_{name}_ENV)",
        )
    return p


def stack_options(p: argparse.ArgumentParser) -> None:
    """The options naming our bench stack, which ./dev sets (stack_argv)."""
    ours = f"({p.prog} sets it)"
    p.add_argument(
        "--url", default=os.environ.get("BENCH_URL", ""), help=f"our server {ours}"
    )
    p.add_argument("--mail-dir", type=Path, help=f"our worker's mail {ours}")
    p.add_argument("--web-pid", type=int, help=f"our web server, for RSS {ours}")


def stack_argv(*, url: str, mail_dir: Path, web_pid: int | None) -> list[str]:
    """stack_options' part of a command line."""
    argv = ["--url", url, "--mail-dir", str(mail_dir)]
    return argv + (["--web-pid", str(web_pid)] if web_pid else [])


def parse(argv: Sequence[str]) -> argparse.Namespace:
    args = parser().parse_args(list(argv))
    for peer in ("allauth", "medusa"):
        if getattr(args, peer) and getattr(args, f"{peer}_env"):
            parser().error(f"--{peer} and --{peer}-env: give one")
    if args.rounds < 1 or args.m < 1:
        parser().error("--rounds and --m must be at least 1")
    return args


def compare_argv(
    args: argparse.Namespace,
    *,
    url: str,
    mail_dir: Path,
    web_pid: int | None,
    envs: dict[str, Path],
) -> list[str]:
    """This module's command line for `./dev bench --peers`: its options
    but the start scripts, our stack, the peers' env files."""
    argv = stack_argv(url=url, mail_dir=mail_dir, web_pid=web_pid)
    for option in ("rounds", "m", "me_n", "login_n", "n"):
        if getattr(args, option) is not None:
            argv += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    for peer in ("allauth", "medusa"):
        env_file = envs.get(peer) or getattr(args, f"{peer}_env")
        if env_file:
            argv += [f"--{peer}-env", str(env_file)]
    return argv


def read_peer_env(path: Path) -> dict[str, str]:
    """A run-peer.sh's peer.env: KEY=VALUE lines, a value maybe in quotes."""
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip('"')
    return values


def per_run(m: int) -> int:
    """Addresses one run of the code client uses (warm-up, then M per C)."""
    return WARMUP + len(CONCURRENCY) * m


def code_offset(round_index: int, mode_index: int, m: int) -> int:
    """The first address of a code client's run: each run its own slice
    (ours are user1..userN, so the first slice starts at 1)."""
    return 1 + (2 * round_index + mode_index) * per_run(m)


def customers_needed(rounds: int, m: int) -> int:
    """Our customers for `rounds` rounds: two code runs each, and the last
    one for the check that the mail gets through (mail_path_check)."""
    return 2 * rounds * per_run(m) + 1


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ratio(ours: float | None, peer: float | None) -> float | None:
    if ours is None or not peer:
        return None
    return round(ours / peer, 2)


def comparison(rows: Sequence[dict]) -> list[dict]:
    """Per metric and peer: the medians over the rounds of ours and of the
    peer (throughput, p50 and p99) and the throughput ratio ours / peer."""
    metrics: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for r in rows:
        key = (r["metric"], r["peer"])
        metrics.setdefault(key, {"ours": [], "peer": []})
        metrics[key]["ours" if r["system"] == "ours" else "peer"].append(r)
    out = []
    for (metric, peer), sides in metrics.items():
        entry: dict = {"metric": metric, "peer": peer}
        for side, side_rows in sides.items():
            ok = [r for r in side_rows if not r["errors"]]
            for field in ("req_per_s", "p50_ms", "p99_ms"):
                values = [r[field] for r in ok if r.get(field) is not None]
                entry[f"{side}_{field}"] = median(values)
            steps = [r["in_flow_p50_ms"] for r in ok if "in_flow_p50_ms" in r]
            if steps:
                entry[f"{side}_in_flow_p50_ms"] = {
                    step: median([s[step] for s in steps if step in s])
                    for step in steps[0]
                }
            entry[f"{side}_runs"] = len(side_rows)
            entry[f"{side}_failed_runs"] = len(side_rows) - len(ok)
        entry["ratio"] = ratio(entry.get("ours_req_per_s"), entry.get("peer_req_per_s"))
        entry["target"] = TARGETS.get(metric)
        entry["met"] = (
            None
            if entry["target"] is None or entry["ratio"] is None
            else entry["ratio"] >= entry["target"]
        )
        out.append(entry)
    return out


def comparison_table(entries: Sequence[dict]) -> str:
    def cell(value):
        return "–" if value is None else value

    return table(
        [
            "metric",
            "peer",
            "ours /s",
            "peer /s",
            "ours / peer",
            "target",
            "ours p99 ms",
            "peer p99 ms",
        ],
        [
            [
                e["metric"],
                e["peer"],
                cell(e.get("ours_req_per_s")),
                cell(e.get("peer_req_per_s")),
                cell(e["ratio"]),
                "–"
                if e["target"] is None
                else f"≥ {e['target']}" + (" met" if e["met"] else " NOT met"),
                cell(e.get("ours_p99_ms")),
                cell(e.get("peer_p99_ms")),
            ]
            for e in entries
        ],
    )


def client_rows(stdout: str) -> list[dict]:
    """The JSON rows a client printed (one object a line)."""
    rows = []
    for text in stdout.splitlines():
        if text.startswith("{"):
            try:
                rows.append(json.loads(text))
            except ValueError:
                continue
    return rows


IN_FLOW = re.compile(r"in-flow (\w+)\s+p50 ([0-9.]+) ms")


def in_flow_p50_ms(stderr: str) -> list[dict[str, float]]:
    """The code client's flow mode prints, after each flow row, the p50 of
    each step inside the flows (request, read_code, confirm, me): one dict
    per flow row, in order."""
    blocks: list[dict[str, float]] = []
    for text in stderr.splitlines():
        if text.lstrip().startswith("flow "):
            blocks.append({})
        elif (found := IN_FLOW.search(text)) and blocks:
            blocks[-1][found.group(1)] = float(found.group(2))
    return blocks


def workers_rss_mib(master_pid: int) -> dict[int, float]:
    """Each web server worker's (the master's children) RSS, by PID, from ps."""
    result = subprocess.run(  # noqa: S603
        ["ps", "-o", "pid=,rss=", "--ppid", str(master_pid)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    rows = (line.split() for line in result.stdout.splitlines())
    return {int(pid): round(int(kb) / 1024, 1) for pid, kb in rows}


def workers_shared_mib(master_pid: int) -> dict[int, dict[str, float]]:
    """Each web server worker's proportional set size (its shared pages,
    the server's code and what the master had before the fork, divided
    among the processes mapping them) and private memory, by PID, from
    /proc/PID/smaps_rollup: what a worker more costs a host, where RSS
    counts every shared page in each worker."""
    out = {}
    for pid in workers_rss_mib(master_pid):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # gone since ps saw it
        kib = {
            name: int(value.split()[0])
            for name, _, value in (line.partition(":") for line in text.splitlines())
            if name in ("Pss", "Private_Clean", "Private_Dirty")
        }
        out[pid] = {
            "pss": round(kib["Pss"] / 1024, 1),
            "private": round((kib["Private_Clean"] + kib["Private_Dirty"]) / 1024, 1),
        }
    return out


def web_rss_mib(master_pid: int | None) -> list[float]:
    """RSS of each web server worker, least first."""
    return sorted(workers_rss_mib(master_pid).values()) if master_pid else []


class Systems:
    """What each client needs to reach us and the peers."""

    def __init__(
        self,
        url: str,
        code_url: str,
        n: int,
        *,
        allauth_env: Path | None = None,
        medusa_env: Path | None = None,
    ) -> None:
        from django.conf import settings

        self.url = url.rstrip("/")
        self.key = settings.STORE_PUBLISHABLE_KEY
        self.code_url = code_url
        self.n = n
        self.allauth = read_peer_env(allauth_env) if allauth_env else None
        self.medusa = read_peer_env(medusa_env) if medusa_env else None

    def code_env(self, system: str) -> dict[str, str]:
        if system == "ours":
            return {
                "PROFILE": "generic",
                "BASE_URL": self.url,
                "REQUEST_PATH": "/store/auth/otp/send",
                "CONFIRM_PATH": "/store/auth/otp/verify",
                "ME_PATH": "/store/customers/me",
                "EXTRA_HEADERS": json.dumps({"x-publishable-api-key": self.key}),
                "CODE_URL": self.code_url,
                "EMAIL_FMT": OUR_EMAIL,
                # user1..userN: the client takes (OFFSET + j) mod N_USERS.
                "N_USERS": str(self.n + 1),
            }
        peer = self.allauth or {}
        return {
            "PROFILE": "allauth",
            "BASE_URL": peer["BASE_URL"],
            "MAIL_DIR": peer["MAIL_DIR"],
            "N_USERS": peer.get("N_USERS", "1000"),
            "WORKERS": peer.get("WORKERS", ""),
        }

    def node_env(self, system: str) -> dict[str, str]:
        if system == "ours":
            return {"BASE_URL": self.url, "PUBLISHABLE_KEY": self.key}
        peer = self.medusa or {}
        return {
            "BASE_URL": peer["BASE_URL"],
            "PUBLISHABLE_KEY": peer["PUBLISHABLE_KEY"],
        }


class Runner:
    """Runs the clients, keeps every row, the load before each run and our
    workers' RSS after each of ours."""

    def __init__(
        self, systems: Systems, web_pid: int | None, log: Path = CLIENTS_LOG
    ) -> None:
        self.systems = systems
        self.web_pid = web_pid
        self.rows: list[dict] = []
        self.runs: list[dict] = []
        self.log = log
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text("")

    def run(self, argv: list[str], env: dict[str, str], label: str) -> dict:
        load = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        try:
            result = subprocess.run(  # noqa: S603  (our clients)
                argv,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
                timeout=CLIENT_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            result = subprocess.CompletedProcess(
                argv, -1, "", f"no end after {CLIENT_TIMEOUT} s\n"
            )
        with self.log.open("a") as log:
            log.write(f"== {label} (load {load})\n{result.stderr}{result.stdout}\n")
        run = {
            "label": label,
            "load_1m_before": load,
            "seconds": round(time.perf_counter() - started, 1),
            "exit_status": result.returncode,
            "rows": client_rows(result.stdout),
        }
        flows = [r for r in run["rows"] if r.get("op") == "flow"]
        for r, steps in zip(flows, in_flow_p50_ms(result.stderr), strict=False):
            r["in_flow_p50_ms"] = steps
        if result.returncode != 0:
            tail = "\n".join(result.stderr.splitlines()[-5:])
            say(f"  {label}: client exit {result.returncode}\n{tail}")
        return run

    def record(self, run: dict, *, round_index: int, system: str, peer: str) -> None:
        if system == "ours":
            run["web_rss_mib"] = web_rss_mib(self.web_pid)
        run.update(round=round_index + 1, system=system, peer=peer)
        self.runs.append(run)
        for r in run["rows"]:
            self.rows.append(
                {
                    "round": round_index + 1,
                    "system": system,
                    "peer": peer,
                    "metric": r["metric"],
                    "req_per_s": r.get("req_per_s"),
                    "p50_ms": r.get("p50_ms"),
                    "p99_ms": r.get("p99_ms"),
                    "n": r.get("n"),
                    # The Node client stops at its first failure, before
                    # the failed phase's row: only the Python one counts.
                    "errors": r.get("errors", 0),
                    "load_1m_before": run["load_1m_before"],
                    **(
                        {"in_flow_p50_ms": r["in_flow_p50_ms"]}
                        if "in_flow_p50_ms" in r
                        else {}
                    ),
                }
            )
        rates = ", ".join(f"{r['metric']} {r.get('req_per_s')}/s" for r in run["rows"])
        say(f"  {run['label']} (load {run['load_1m_before']}): {rates}")

    def code(
        self,
        system: str,
        mode: str,
        round_index: int,
        m: int,
        *,
        concurrency: Sequence[int] = CONCURRENCY,
        offset: int | None = None,
    ) -> None:
        """The code client; its addresses from `offset` (by default the
        round's and mode's own slice, code_offset)."""
        if offset is None:
            offset = code_offset(round_index, ("phased", "flow").index(mode), m)
        env = {
            **self.systems.code_env(system),
            "MODE": mode,
            "M": str(m),
            "CONCURRENCY": ",".join(map(str, concurrency)),
            "OFFSET": str(offset),
            "WARMUP": str(WARMUP),
            "LABEL": f"{system} round {round_index + 1}",
            # No peer.env of a peer's work directory is read: all is given.
            "WORK": str(OUT_DIR / "peers"),
        }
        run = self.run(
            [sys.executable, str(CODE_CLIENT)],
            env,
            f"round {round_index + 1} {system} code {mode}",
        )
        for r in run["rows"]:
            r["metric"] = f"code {r['op']} @{r['concurrency']}"
        self.record(run, round_index=round_index, system=system, peer="allauth")

    def node(self, system: str, op: str, c: int, n: int, round_index: int) -> None:
        env = {
            **self.systems.node_env(system),
            "N": str(n),
            "CONCURRENCY": str(c),
            "PHASES": f"{op}-conc",
        }
        run = self.run(
            ["node", str(NODE_CLIENT)],
            env,
            f"round {round_index + 1} {system} node {op} @{c}",
        )
        for r in run["rows"]:
            r["metric"] = f"{r['op']} @{r['concurrency']}"
        self.record(run, round_index=round_index, system=system, peer="medusa")


def rounds(runner: Runner, args: argparse.Namespace) -> None:
    """A B A B: each client run against us, then against its peer."""
    allauth, medusa = runner.systems.allauth, runner.systems.medusa
    for i in range(args.rounds):
        say(f"round {i + 1} of {args.rounds}")
        for mode in ("phased", "flow"):
            for system in ("ours", "allauth") if allauth else ("ours",):
                runner.code(system, mode, i, args.m)
        for op, c in NODE_RUNS:
            n = args.me_n if op == "me" else args.login_n
            for system in ("ours", "medusa") if medusa else ("ours",):
                runner.node(system, op, c, n, i)


def mail_path_check(systems: Systems, drop: "MailDrop", n: int) -> float:
    """One code request for customer N (no run uses it) and its mail, before
    any timing: the worker is up and the mail comes. Seconds it took."""
    import http.client
    from urllib.parse import urlsplit

    started = time.perf_counter()
    url = urlsplit(systems.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    connection.request(
        "POST",
        "/store/auth/otp/send",
        body=json.dumps({"email": OUR_EMAIL.format(i=n)}),
        headers={
            "content-type": "application/json",
            "x-publishable-api-key": systems.key,
        },
    )
    status = connection.getresponse().status
    connection.close()
    if (
        status >= 300
        or drop.watch.take_code(OUR_EMAIL.format(i=n), timeout=120) is None
    ):
        raise SystemExit(f"no code mail came for a code request (status {status})")
    return time.perf_counter() - started


def load_customers(n: int) -> None:
    """N customers, every one an OTP user, no orphans (bench/load_data.py)."""
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.load_data", "--n", str(n)]
        + ["--orphan-share", "0", "--otp-every", "1", "--reset"],
        cwd=ROOT,
        check=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    from bench.common import django_setup, load_note
    from bench.maildrop import MailDrop

    args = parse(sys.argv[1:] if argv is None else argv)
    if not args.url or not args.mail_dir:
        parser().error("--url and --mail-dir are required (our bench stack)")
    django_setup()
    needed = customers_needed(args.rounds, args.m)
    n = args.n or needed
    if n < needed:
        parser().error(f"--n {n}: {args.rounds} rounds need {needed} customers")
    say(f"peers benchmark against {args.url}; {load_note()}")
    revision = git_revision()  # write_result stamps the one at the end
    load_customers(n)
    drop = MailDrop(args.mail_dir).start()
    try:
        systems = Systems(
            args.url,
            drop.code_url,
            n,
            allauth_env=args.allauth_env,
            medusa_env=args.medusa_env,
        )
        peers = [p for p in ("allauth", "medusa") if getattr(systems, p)]
        took = mail_path_check(systems, drop, n)
        say(f"a code mail came through the worker in {took:.1f} s")
        say(f"peers: {', '.join(peers) or 'none (ours only)'}; {args.rounds} rounds")
        runner = Runner(systems, args.web_pid)
        started = time.perf_counter()
        rounds(runner, args)
    finally:
        drop.stop()
    entries = comparison(runner.rows)
    say("\n" + comparison_table(entries))
    for e in entries:
        if "ours_in_flow_p50_ms" in e:
            peer = e.get("peer_in_flow_p50_ms", {})
            steps = ", ".join(
                f"{step} {ms} / {peer.get(step, '–')}"
                for step, ms in e["ours_in_flow_p50_ms"].items()
            )
            say(f"{e['metric']}, p50 ms of each step (ours / {e['peer']}): {steps}")
    rss = [mib for run in runner.runs for mib in run.get("web_rss_mib", [])]
    if rss:
        say(f"\nour web workers' RSS over the runs: {min(rss)} to {max(rss)} MiB")
    for i in range(args.rounds):
        loads = [r["load_1m_before"] for r in runner.runs if r["round"] == i + 1]
        say(f"round {i + 1}: load average (1 min) {min(loads)} to {max(loads)}")
    payload = {
        "revision_at_start": revision,
        "config": {
            "rounds": args.rounds,
            "m": args.m,
            "me_n": args.me_n,
            "login_n": args.login_n,
            "customers": n,
            "concurrency": list(CONCURRENCY),
            "web_workers": os.environ.get("BENCH_WEB_WORKERS"),
            "web_threads": os.environ.get("BENCH_WEB_THREADS"),
            "peers": {
                p: {k: v for k, v in getattr(systems, p).items() if "KEY" not in k}
                for p in peers
            },
        },
        "comparison": entries,
        "rows": runner.rows,
        "runs": runner.runs,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    say(f"wrote {write_result('peers', payload)}; {load_note()}")


if __name__ == "__main__":
    main()
