"""Small helpers: messages, environment defaults, ports, processes, HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, MutableMapping
from pathlib import Path


class DevError(Exception):
    """A reason to stop, printed as `dev: error: ...` with exit status 1."""


def log(message: str) -> None:
    print(f"dev: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"dev: warning: {message}", file=sys.stderr, flush=True)


def set_default(env: MutableMapping[str, str], name: str, value: str) -> None:
    """Sets NAME unless `env` already has it (even empty): whatever the
    caller exported always wins over our defaults."""
    if name not in env:
        env[name] = value


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (no quoting; our generated values never need it)."""
    values = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key] = value
    return values


def is_alive(pid: int) -> bool:
    """True if PID runs. Zombies count as dead (a child not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_ports(count: int) -> list[int]:
    """COUNT distinct free TCP ports on 127.0.0.1 (all bound at once so they
    differ; a small race with other programs remains, as with any scheme)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if PORT can be bound on HOST (SO_REUSEADDR as servers use it, so
    a port in TIME_WAIT counts as free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def http_status(url: str) -> int:
    """The status of GET URL, or 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return 0


def wait_for_health(url: str, timeout: float, alive=lambda: None) -> bool:
    """Waits until GET URL answers 200; `alive()` raises DevError when a
    process the answer depends on died."""
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        alive()
        status = http_status(url)
        if status == 200:
            return True
        time.sleep(0.5)
    warn(
        f"{url} did not answer 200 within {timeout:.0f}s "
        f"(last status: {status or '000'})"
    )
    return False


def stop_pids(pids: Iterable[int], timeout: float, sig: int = signal.SIGTERM) -> None:
    """Sends SIG to each pid, waits up to TIMEOUT seconds, then kills what is
    left and the rest of each process group (workers of a killed master)."""
    pids = [pid for pid in pids if pid]
    for pid in pids:
        if is_alive(pid):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if is_alive(pid):
            warn(f"pid {pid} did not stop in {timeout:.0f}s; killing it")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        except OSError:
            pass
