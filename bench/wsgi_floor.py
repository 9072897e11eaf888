"""The web server's own cost per request: gunicorn, started with the
arguments `./dev up` gives it (devstack/stack.py's web_argv, the access log
off as in the benchmarks), serving this module's `application`, which
answers `{}` without Django; `--clients` threads on kept-alive HTTP/1.1
connections; the CPU of gunicorn's master and workers per request, from
/proc (bench.common.tree_cpu_seconds). What it prints is the floor under
every route's CPU in "What a request costs" (docs/performance.md, "A code
mail's cost, and the web server's floor").
The requests touch no database and no Redis; the app's settings are
needed only to stamp the result (bench.common.write_result).

    python -m bench.wsgi_floor [--requests 8000] [--clients 8]
        [--workers 2] [--threads 4]
"""

import argparse
import http.client
import subprocess
import tempfile
import threading
import time
from pathlib import Path

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


def _wait_up(server: subprocess.Popen, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        answers: list[int | str] = []
        _client(port, 1, answers)
        if answers == [200]:
            return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run(*, requests: int, clients: int, workers: int, threads: int) -> dict:
    from devstack.stack import web_argv

    (port,) = free_ports(1)
    with tempfile.TemporaryDirectory() as state:
        argv = web_argv("127.0.0.1", port, workers, threads, Path(state), quiet=True)
        argv[1] = "bench.wsgi_floor:application"
        server = subprocess.Popen(  # noqa: S603
            argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_up(server, port, time.monotonic() + 30)
            _load(port, 50 * clients, clients)  # the workers' threads warm
            cpu, started = tree_cpu_seconds(server.pid), time.perf_counter()
            answers = _load(port, requests, clients)
            seconds = time.perf_counter() - started
            cpu = tree_cpu_seconds(server.pid) - cpu
        finally:
            _stop(server)
    failures = [answer for answer in answers if answer != 200]
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200: {failures[:5]}")
    done = len(answers)
    result = {
        "server": f"gunicorn {workers} x {threads}",
        "clients": clients,
        "requests": done,
        "req_per_s": round(done / seconds),
        "server_cpu_ms_per_request": round(cpu * 1000 / done, 3),
        "load": load_note(),
    }
    say(
        f"\nweb server floor, {result['server']}, {clients} clients: "
        f"{result['req_per_s']} req/s, "
        f"{result['server_cpu_ms_per_request']} ms of server CPU per request; "
        f"{result['load']}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    django_setup()  # write_result reads PostgreSQL's version
    write_result(
        "wsgi-floor",
        run(
            requests=args.requests,
            clients=args.clients,
            workers=args.workers,
            threads=args.threads,
        ),
    )


if __name__ == "__main__":
    main()
