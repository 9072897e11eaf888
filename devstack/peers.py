"""The peers of `./dev bench --peers` (bench/peer_compare.py), started from
their own start scripts (`run-peer.sh`: django-allauth's and Medusa's, from
the peer benchmark kit) with a work directory under var/bench/peers/ and
ports of their own, and stopped by the same script at the end. A peer
given by the peer.env of a running one is used as it is, never stopped."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from devstack.util import DevError, free_ports, log, set_default, stop_pids

PEERS_DIR = Path(__file__).resolve().parents[1] / "var" / "bench" / "peers"
START_TIMEOUT = 900  # Medusa's npm install with a cold cache takes minutes
STOP_TIMEOUT = 15


def peer_settings(name: str, ports: list[int], customers: int) -> dict[str, str]:
    """What a peer's start script reads: its ports; allauth's users (as
    many as ours); Medusa as Medusa recommends for production."""
    if name == "allauth":
        port, pg_port, redis_port = ports
        return {
            "PORT": str(port),
            "PGPORT": str(pg_port),
            "REDIS_PORT": str(redis_port),
            "N_USERS": str(customers),
        }
    if name == "medusa":
        port, pg_port, _ = ports
        return {
            "PORT": str(port),
            "PGPORT": str(pg_port),
            "MEDUSA_NODE_ENV": "production",
            "MEDUSA_CLUSTER": "2",
        }
    raise ValueError(name)


class StartedPeer:
    """One peer started by its run-peer.sh in WORK=var/bench/peers/NAME."""

    def __init__(
        self,
        name: str,
        script: Path,
        environ: Mapping[str, str],
        customers: int,
        root: Path = PEERS_DIR,
    ):
        self.name = name
        self.script = script.resolve()
        if not self.script.is_file():
            raise DevError(f"--{name} {script}: no such start script")
        self.work = root / name
        self.work.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{name}.log"
        self.env = dict(environ)
        for key, value in peer_settings(name, free_ports(3), customers).items():
            set_default(self.env, key, value)
        self.env["WORK"] = str(self.work)
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    @property
    def env_file(self) -> Path:
        return self.work / "peer.env"

    def start(self) -> None:
        """In the background; wait() waits for it."""
        self.env_file.unlink(missing_ok=True)
        log(f"starting {self.name} ({self.script}; log: {self.log_path})")
        self.started_at = time.monotonic()
        self.process = self._script()

    def _script(self, *args: str) -> subprocess.Popen:
        """`bash run-peer.sh ARGS` in a session of its own, output to the log."""
        with self.log_path.open("ab") as out:
            return subprocess.Popen(
                ["bash", str(self.script), *args],
                env=self.env,
                cwd=self.work,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self) -> Path:
        """Until the script has written peer.env; its path."""
        if self.process is None:
            raise DevError(f"{self.name} was not started")
        try:
            status = self.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DevError(f"{self.name} did not start in {START_TIMEOUT} s") from None
        if status != 0 or not self.env_file.is_file():
            tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
            raise DevError(
                f"{self.name}'s start script failed (exit {status}):\n"
                + "\n".join(tail)
            )
        took = time.monotonic() - self.started_at
        log(f"{self.name} ready ({took:.0f} s): {self.env_file}")
        return self.env_file

    def stop(self) -> None:
        """The script's own stop (it knows its PIDs and its cluster), then
        whatever it started that is still in the start script's process
        group (Medusa's cluster workers outlive their master's SIGTERM)."""
        if self.process is None:
            return
        log(f"stopping {self.name}")
        stopping = self._script("stop")
        try:
            stopping.wait(120)
        except subprocess.TimeoutExpired:
            stop_pids([stopping.pid], STOP_TIMEOUT)
        leftovers = group_members(self.process.pid)
        if leftovers:
            stop_pids(leftovers, STOP_TIMEOUT)
        self.process.poll()


def group_members(pgid: int) -> list[int]:
    """The live processes of process group PGID (from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members
