"""The web server's own cost per request: Granian, started with the
arguments `./dev up` gives it (devstack/stack.py's web_argv, the access log
off as in the benchmarks), and gunicorn's threaded worker (the server before
it, for comparison), each serving this module's `application`, which answers
`{}` without Django; `--clients` threads on kept-alive HTTP/1.1 connections;
the CPU of the server's master and workers per request, from /proc
(bench.common.tree_cpu_seconds); `--rounds` rounds, the servers alternated.
What it prints is the floor under every route's CPU in "What a request
costs" (docs/performance.md, "Granian for gunicorn").
The requests touch no database and no Redis; the app's settings are
needed only to stamp the result (bench.common.write_result).

    python -m bench.wsgi_floor [--requests 8000] [--clients 8]
        [--workers 2] [--threads 4] [--rounds 3]
"""

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import threading
import time

from bench.common import (
    ROOT,
    django_setup,
    load_note,
    say,
    tree_cpu_seconds,
    write_result,
)
from devstack.util import free_ports


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def _client(port: int, count: int, answers: list[int | str]) -> None:
    """`count` GETs on one kept-alive connection; each answer's status (or
    the error that ended the connection's run) goes to `answers`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(count):
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            answers.append(response.status)
    except (OSError, http.client.HTTPException) as exc:
        answers.append(type(exc).__name__)
    finally:
        connection.close()


def _load(port: int, requests: int, clients: int) -> list[int | str]:
    """`requests` GETs from `clients` threads at once: their answers."""
    answers: list[int | str] = []  # list.append is atomic: the threads share it
    threads = [
        threading.Thread(target=_client, args=(port, requests // clients, answers))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


SERVERS = ("granian", "gunicorn")


def _argv(server: str, port: int, workers: int, threads: int) -> list[str]:
    from devstack.stack import VENV_BIN, web_argv

    if server == "granian":
        argv = web_argv("127.0.0.1", port, workers, threads, quiet=True)
        argv[1] = "bench.wsgi_floor:application"
        return argv
    return [
        str(VENV_BIN / "gunicorn"),
        "bench.wsgi_floor:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--no-control-socket",
    ]


def start(
    argv: list[str], port: int, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A server from the checkout, in a session of its own (stop() ends its
    whole group), once it answers on `port`."""
    server = subprocess.Popen(  # noqa: S603
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_up(server, port, time.monotonic() + 30)
    except BaseException:
        stop(server)
        raise
    return server


def wait_up(server: subprocess.Popen, port: int, deadline: float) -> None:
    """Until the server answers a GET with 200; raises if it exits first or
    the deadline passes."""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        answers: list[int | str] = []
        _client(port, 1, answers)
        if answers == [200]:
            return
        time.sleep(0.1)
    raise RuntimeError("the server did not answer")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to a server started in a session of its own, then SIGKILL to
    the whole group (its workers too) if it has not stopped in 30 s."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def measure(
    server: str, *, requests: int, clients: int, workers: int, threads: int
) -> dict:
    """One round against one server: its requests per second and CPU per
    request. Raises unless every answer was a 200."""
    (port,) = free_ports(1)
    process = start(_argv(server, port, workers, threads), port)
    try:
        _load(port, 50 * clients, clients)  # the workers' threads warm
        cpu, started = tree_cpu_seconds(process.pid), time.perf_counter()
        answers = _load(port, requests, clients)
        seconds = time.perf_counter() - started
        cpu = tree_cpu_seconds(process.pid) - cpu
    finally:
        stop(process)
    failures = [answer for answer in answers if answer != 200]
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200: {failures[:5]}")
    return {
        "requests": len(answers),
        "req_per_s": round(len(answers) / seconds),
        "server_cpu_ms_per_request": round(cpu * 1000 / len(answers), 3),
    }


def run(
    *, requests: int, clients: int, workers: int, threads: int, rounds: int
) -> dict:
    rounds_of: dict[str, list[dict]] = {server: [] for server in SERVERS}
    for _ in range(rounds):
        for server in SERVERS:
            rounds_of[server].append(
                measure(
                    server,
                    requests=requests,
                    clients=clients,
                    workers=workers,
                    threads=threads,
                )
            )
    result = {
        "servers": f"{workers} x {threads}",
        "clients": clients,
        "rounds": rounds_of,
        "median_cpu_ms_per_request": {
            server: statistics.median(
                one["server_cpu_ms_per_request"] for one in measured
            )
            for server, measured in rounds_of.items()
        },
        "load": load_note(),
    }
    say(f"\nweb server floor, {workers} x {threads}, {clients} clients:")
    for server, measured in rounds_of.items():
        say(
            f"  {server}: "
            + ", ".join(
                f"{one['req_per_s']} req/s {one['server_cpu_ms_per_request']} ms"
                for one in measured
            )
            + f"; median {result['median_cpu_ms_per_request'][server]} ms "
            "of server CPU per request"
        )
    say(f"  {result['load']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    django_setup()  # write_result reads PostgreSQL's version
    write_result(
        "wsgi-floor",
        run(
            requests=args.requests,
            clients=args.clients,
            workers=args.workers,
            threads=args.threads,
            rounds=args.rounds,
        ),
    )


if __name__ == "__main__":
    main()
