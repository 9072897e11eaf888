"""./dev's commands (the bash entry installs what is missing, then runs
`python -m devstack COMMAND ARGS`). See docs/development.md."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from bench import PARTS
from devstack import credentials
from devstack.local import LocalStack, check_web_port, stop_leftovers
from devstack.npm import npm_install
from devstack.peers import StartedPeer
from devstack.postgres import throwaway_root
from devstack.stack import (
    HEALTH_TIMEOUT,
    ROOT,
    STOP_TIMEOUT,
    VAR,
    VENV_BIN,
    ThrowawayStack,
    beat_argv,
    metrics_dir,
    prepare_database,
    python,
    web_argv,
    web_env,
    worker_argv,
)
from devstack.topology import Topology
from devstack.topology import stop_leftovers as topology_leftovers
from devstack.util import DevError, log, set_default, wait_for_health, warn


class Stop(Exception):  # noqa: N818
    """A stop signal (SIGTERM, SIGHUP) outside `up`'s process manager."""

    def __init__(self, signum: int):
        self.signum = signum


def raise_stop(signum, frame):
    raise Stop(signum)


UP_USAGE = "usage: ./dev up [--topology prod]"


def up_topology(args: list[str]) -> str:
    """`./dev up` runs web, worker and beat alone; `--topology prod` the
    production layout of devstack/topology.py."""
    if not args:
        return ""
    if args[:1] == ["--topology"] and args[1:] == ["prod"]:
        return "prod"
    raise DevError(UP_USAGE)


def cmd_up(args: list[str]) -> int:
    import honcho.manager
    from honcho.manager import Manager

    topology = up_topology(args)
    env = dict(os.environ)
    stack = LocalStack(env)
    stack.lock_up()
    stop_leftovers(stack.run_dir)
    topology_leftovers(stack.run_dir / "topology")
    stack.load_secrets()
    set_default(env, "PORT", "8443" if topology else "8000")
    set_default(env, "DEBUG", "0" if topology else "1")
    host, port = env.get("HOST") or "127.0.0.1", int(env["PORT"])
    check_web_port(host, port)
    cleanup: list[Path] = []
    prod: Topology | None = None
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    try:
        stack.start_services(adopt=True)
        log("migrating")
        prepare_database(env, disable_beat=False, quiet=False)
        metrics_dir(env, VAR / "prometheus")

        # Web, worker and beat in the foreground, their output prefixed
        # with their names; one exiting stops the others.
        honcho.manager.KILL_WAIT = STOP_TIMEOUT
        manager = Manager()
        run = stack.run_dir
        if topology:
            prod = Topology(
                env,
                pg_port=stack.pg.port,
                user=stack.pg.user,
                root=throwaway_root(stack.pg.user),
                log_dir=run / "topology",
                port=port,
            )
            cleanup.append(prod.root)
            processes = prod.prepare()
            prod.start_pgbouncer(stack.log_dir / "pgbouncer.log")
            for process in processes:
                manager.add_process(
                    process.name,
                    "exec " + shlex.join(process.argv),
                    env=process.env,
                    cwd=str(ROOT),
                )
        for name, argv, process_env in (
            ()
            if prod
            else (
                (
                    "web",
                    web_argv(host, port, 3, 4, pidfile=run / "web.pid"),
                    web_env(env),
                ),
                ("worker", worker_argv(pidfile=run / "worker.pid"), env),
                ("beat", beat_argv(run, pidfile=run / "beat.pid"), env),
            )
        ):
            (run / f"{name}.pid").unlink(missing_ok=True)  # celery refuses a live one
            manager.add_process(
                name, "exec " + shlex.join(argv), env=process_env, cwd=str(ROOT)
            )
        stopping = threading.Event()
        signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))

        def announce():
            local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
            base = f"http://{local}:{port}"
            if prod:
                base = prod.url
                try:
                    prod.wait_ready(lambda: None)
                except DevError as error:
                    warn(f"{error}; continuing, see the output above")
            elif not wait_for_health(f"{base}/health", HEALTH_TIMEOUT):
                warn("continuing; see the web output above")
            if not stopping.is_set():
                print(
                    credentials.banner(
                        base,
                        env,
                        stack.password_from,
                        mail_dir=stack.mail_dir.resolve(),
                        pg_log=stack.pg.log_path,
                        redis_log=stack.log_dir / "redis.log",
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                if prod:
                    log(
                        f"TLS certificate (self-signed, made at this start): "
                        f"{prod.cert}; curl --cacert {prod.cert} {prod.url}/health"
                    )

        def watch_services():
            services = {"redis": stack.redis.process}
            if prod:
                services["pgbouncer"] = prod.pgbouncer
            while not stopping.wait(1):
                for name, process in services.items():
                    if process and process.poll() is not None:
                        warn(f"{name} exited unexpectedly; stopping everything")
                        manager.returncode = 1
                        manager.terminate()
                        return

        threading.Thread(target=announce, daemon=True).start()
        threading.Thread(target=watch_services, daemon=True).start()
        manager.loop()
        stopping.set()
        if manager.returncode in (130, 143):
            log("stopped")
            return 0
        warn("a process exited unexpectedly; stopped everything")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if prod:
            prod.stop_pgbouncer()
            (prod.log_dir / "runtime").unlink(missing_ok=True)
        stack.close()
        for directory in cleanup:
            shutil.rmtree(directory, ignore_errors=True)


def cmd_manage(args: list[str]) -> int:
    if not args:
        raise DevError("usage: ./dev manage COMMAND [ARGS...]")
    env = dict(os.environ)
    stack = LocalStack(env)
    stack.load_secrets()
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    try:
        # Only what this run starts is stopped at exit; a running `./dev up`
        # stack is used as is.
        stack.start_services(adopt=False)
        env["PATH"] = f"{stack.pg.bin}:{env.get('PATH', '')}"  # for dbshell
        # Ctrl-C reaches the command (same terminal group); a SIGTERM to us
        # alone takes effect when it finishes. We ignore SIGINT with a
        # handler, not SIG_IGN: an ignored signal stays ignored in the
        # child, and the command would never see its Ctrl-C.
        pending = []
        signal.signal(signal.SIGINT, lambda signum, _: None)
        signal.signal(signal.SIGTERM, lambda signum, _: pending.append(signum))
        signal.signal(signal.SIGHUP, lambda signum, _: pending.append(signum))
        result = subprocess.run(
            [python(), str(ROOT / "manage.py"), *args], env=env, check=False
        )  # noqa: S603
        return 143 if pending else result.returncode
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()


def run_test(stack: ThrowawayStack, pytest_args: list[str]) -> int:
    stack.start_services()
    stack.start_app()
    npm_install()
    stack.wait_for_oidc()
    stack.wait_for_github()
    stack.wait_for_medusa()
    env = stack.test_env()
    failed = []
    for label, argv in (
        ("ruff check", [str(VENV_BIN / "ruff"), "check", "."]),
        ("ruff format", [str(VENV_BIN / "ruff"), "format", "--check", "."]),
        ("pytest", [str(VENV_BIN / "pytest"), *pytest_args]),
    ):
        log(label)
        rc = subprocess.run(argv, env=env, cwd=ROOT, check=False).returncode  # noqa: S603
        if rc != 0:
            failed.append(f"{label} (exit {rc})" if label == "pytest" else label)
    if failed:
        log(f"FAILED: {'; '.join(failed)}")
        stack.dump_logs()
        return 1
    log("all checks passed")
    return 0


def cmd_test(args: list[str]) -> int:
    stack = ThrowawayStack("test")
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    try:
        return run_test(stack, args)
    except DevError:
        stack.dump_logs()
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()


BENCH_PARTS = PARTS
BENCH_USAGE = (
    f"usage: ./dev bench [--full] [--only {','.join(BENCH_PARTS)}]\n"
    "       ./dev bench --peers [--allauth RUN_PEER_SH | --allauth-env PEER_ENV] "
    "[--medusa RUN_PEER_SH | --medusa-env PEER_ENV] [--rounds 3] [--m 200] "
    "(./dev bench --peers --help)\n"
    "       ./dev bench --soak [--minutes 10] (./dev bench --soak --help)"
)


def bench_args(args: list[str]) -> list[str]:
    out, rest = [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--full":
            out.append(arg)
        elif arg == "--quick":
            pass
        elif arg == "--only" and rest and set(rest[0].split(",")) <= {*BENCH_PARTS}:
            out += [arg, rest.pop(0)]
        else:
            raise DevError(BENCH_USAGE)
    return out


def bench_phases(run_args: list[str]) -> list[tuple[list[str], bool]]:
    """bench.run's arguments for each run, and whether it is the
    replication run: the other parts first, then replication on its own,
    since it needs a worker and MEDUSA_DATABASE_URL (its summary keeps the
    first run's results)."""
    full = [arg for arg in run_args if arg == "--full"]
    parts = (
        run_args[run_args.index("--only") + 1].split(",")
        if "--only" in run_args
        else list(BENCH_PARTS)
    )
    others = [part for part in parts if part != "replication"]
    phases = [([*full, "--only", ",".join(others)], False)] if others else []
    if "replication" in parts:
        merge = ["--merge-summary"] if others else []
        phases.append(([*full, "--only", "replication", *merge], True))
    return phases


def cmd_bench(args: list[str]) -> int:
    if args[:1] == ["--peers"]:
        return cmd_bench_peers(args[1:])
    if args[:1] == ["--soak"]:
        return cmd_bench_soak(args[1:])
    phases = bench_phases(bench_args(args))
    stack = ThrowawayStack("bench")
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    try:
        stack.start_services()
        status = 0
        for run_args, replication in phases:
            if replication:
                stack.start_bench_replica()
            elif not stack.web_url:
                stack.start_bench_web()
            load = " ".join(open("/proc/loadavg").read().split()[:3])  # noqa: PTH123, SIM115
            log(f"load average now: {load} (other programs skew the figures)")
            returncode = subprocess.run(
                [python(), "-m", "bench.run", *run_args],
                env=stack.env,
                cwd=ROOT,  # noqa: S603
                check=False,
            ).returncode
            status = status or returncode
            if replication:
                stack.stop_bench_replica()
        return status
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()


def cmd_bench_peers(args: list[str]) -> int:
    """bench/peer_compare.py on the throw-away bench stack with one Celery
    worker (the code mail), and the peers whose start scripts are given
    (devstack/peers.py), started and stopped around it."""
    from bench import peer_compare

    options = peer_compare.parse(args)
    customers = options.n or peer_compare.customers_needed(options.rounds, options.m)
    started = [
        StartedPeer(name, Path(script), os.environ, customers)
        for name in ("allauth", "medusa")
        if (script := getattr(options, name))
    ]
    return bench_with_worker(
        "bench.peer_compare", partial(peer_compare.compare_argv, options), started
    )


def cmd_bench_soak(args: list[str]) -> int:
    """bench/soak.py on the throw-away bench stack with one Celery worker."""
    from bench import soak

    options = soak.parse(args)
    return bench_with_worker(
        "bench.soak", lambda envs, **ours: soak.soak_argv(options, **ours)
    )


def bench_with_worker(
    module: str,
    argv: Callable[..., list[str]],
    peers: Sequence[StartedPeer] = (),
) -> int:
    """`python -m module ARGV` on the bench stack with one Celery worker,
    the peers started and stopped around it; ARGV is `argv(url=, mail_dir=,
    web_pid=, envs=)`: our server, its mail, the web server's master, the peers'
    env files."""
    stack = ThrowawayStack("bench")
    signal.signal(signal.SIGTERM, raise_stop)
    signal.signal(signal.SIGHUP, raise_stop)
    try:
        for peer in peers:
            peer.start()
        stack.start_services()
        stack.start_bench_web()
        stack.start_bench_worker()
        envs = {peer.name: peer.wait() for peer in peers}
        ours = {
            "url": stack.web_url,
            "mail_dir": stack.mail_dir,
            "web_pid": stack.children.procs["web"].pid,
        }
        return subprocess.run(
            [python(), "-m", module, *argv(**ours, envs=envs)],
            env=stack.env,
            cwd=ROOT,  # noqa: S603
            check=False,
        ).returncode
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for peer in peers:
            peer.stop()
        stack.close()


COMMANDS = {"up": cmd_up, "manage": cmd_manage, "test": cmd_test, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(
            "usage: python -m devstack {up|manage|test|bench} [ARGS...]",
            file=sys.stderr,
        )
        return 2
    os.chdir(ROOT)
    started = time.monotonic()
    try:
        return COMMANDS[argv[0]](argv[1:])
    except DevError as error:
        print(f"dev: error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        log("interrupted (SIGINT)")
        return 130
    except Stop as stop:
        log(f"interrupted ({signal.Signals(stop.signum).name})")
        return 143
    finally:
        if argv[0] == "test":
            log(f"took {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
