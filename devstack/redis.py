"""A private Redis on loopback. Its settings go to a file (rather than
flags), so a fault test can restart the same server with it."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.util import DevError, is_alive, log, stop_pids


def ping(port: int) -> bool:
    result = subprocess.run(  # noqa: S603
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "PONG"


@dataclass
class Redis:
    port: int
    conf: Path
    directory: Path
    pidfile: Path
    persist: bool
    process: subprocess.Popen | None = None
    started: bool = False  # this run must stop it on exit

    @classmethod
    def from_env(cls, environ=os.environ) -> Redis:
        """The test stack's server, from TEST_REDIS_PORT and TEST_REDIS_CONF."""
        conf = Path(environ["TEST_REDIS_CONF"])
        return cls(
            port=int(environ["TEST_REDIS_PORT"]),
            conf=conf,
            directory=conf.parent / "redis",
            pidfile=conf.parent / "redis.pid",
            persist=False,
        )

    def env(self) -> dict[str, str]:
        return {"TEST_REDIS_PORT": str(self.port), "TEST_REDIS_CONF": str(self.conf)}

    def conf_text(self) -> str:
        return (
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    "protected-mode yes",
                    f'dir "{self.directory}"',
                    f'pidfile "{self.pidfile}"',
                    "daemonize no",
                    "appendonly no",
                    "save 60 1" if self.persist else 'save ""',
                ]
            )
            + "\n"
        )

    def start(self, logfile: Path) -> None:
        """Starts redis-server as our child in a session of its own."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.conf_text())
        log(f"starting Redis on 127.0.0.1:{self.port}")
        with logfile.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                ["redis-server", str(self.conf)],  # noqa: S607
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = True
        for _ in range(60):
            if ping(self.port):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise DevError(f"Redis did not start (log: {logfile})")

    def pidfile_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def shutdown(self) -> None:
        """Stops our child and, in case a test restarted it, the server the
        pidfile names."""
        if not self.started:
            return
        pids = [self.process.pid] if self.process else []
        if (pid := self.pidfile_pid()) and pid not in pids:
            pids.append(pid)
        log("stopping Redis")
        stop_pids(pids, 15)
        if self.process:
            self.process.poll()

    # Fault tests take the server down and bring it back; each waits.
    def stop_now(self) -> None:
        subprocess.run(  # noqa: S603
            [
                "redis-cli",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "shutdown",
                "nosave",
            ],  # noqa: S607
            capture_output=True,
            check=False,
            timeout=30,
        )
        pid = self.pidfile_pid()
        for _ in range(100):
            if not ping(self.port) and not (pid and is_alive(pid)):
                return
            time.sleep(0.1)
        raise DevError(f"Redis on port {self.port} did not stop")

    def start_again(self) -> None:
        subprocess.run(  # noqa: S603
            ["redis-server", str(self.conf), "--daemonize", "yes"],  # noqa: S607
            check=True,
            capture_output=True,
            timeout=30,
        )
        for _ in range(50):
            if ping(self.port):
                return
            time.sleep(0.1)
        raise DevError(f"Redis on port {self.port} did not start again")
