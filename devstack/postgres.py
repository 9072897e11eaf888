"""A private PostgreSQL server: initdb, a per-run config, start and stop.

PostgreSQL refuses to run as root, so as root the server and its tools run
as an unprivileged user (choose_user), from /, with a minimal environment:
the server must not inherit our secrets, nor a cwd it cannot enter.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.util import DevError, log, warn

SUPERUSER = "storefront"
DATABASE = "storefront"
TOOLS = ("initdb", "pg_ctl", "postgres", "psql", "pg_isready")


def current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def find_bin(preferred: str | None = None) -> Path:
    """The newest PostgreSQL bin dir with all the tools we use."""
    candidates = [Path(preferred)] if preferred else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.name.split(".")],
        reverse=True,
    )
    if pg_ctl := shutil.which("pg_ctl"):
        candidates.append(Path(pg_ctl).resolve().parent)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in TOOLS):
            return directory
    raise DevError("PostgreSQL server binaries not found (set DEV_PG_BIN=/path/to/bin)")


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_system_user(name: str) -> bool:
    if user_exists(name):
        return True
    log(f"creating system user {name} to run PostgreSQL")
    result = subprocess.run(  # noqa: S603
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",  # noqa: S607
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def choose_user(data: Path | None = None, environ=os.environ) -> str:
    """The user the server runs as: ourselves unless root; as root,
    DEV_PG_USER, else the owner of an existing data dir, else `postgres`,
    then a system user `storefront-pg`, then `nobody`."""
    if os.geteuid() != 0:
        return current_user()
    if wanted := environ.get("DEV_PG_USER"):
        if not ensure_system_user(wanted):
            raise DevError(f"cannot create user {wanted}")
        return wanted
    if data is not None and data.is_dir():
        try:
            owner = pwd.getpwuid(data.stat().st_uid).pw_name
        except KeyError:
            owner = None
        if owner and owner != "root":
            return owner
    if user_exists("postgres"):
        return "postgres"
    if ensure_system_user("storefront-pg"):
        return "storefront-pg"
    return "nobody"


def as_user(user: str, argv: list[str]) -> list[str]:
    if user == current_user():
        return argv
    return ["runuser", "-u", user, "--", *argv]


def can_traverse(user: str, directory: Path) -> bool:
    """True if USER can reach DIRECTORY (every parent searchable)."""
    if user == current_user():
        return True
    result = subprocess.run(
        as_user(user, ["test", "-x", str(directory)]), cwd="/", check=False
    )  # noqa: S603
    return result.returncode == 0


def throwaway_root(user: str) -> Path:
    """A fresh directory for data that USER can reach, outside the checkout
    (a fresh CI clone may sit in a private mktemp dir)."""
    for parent in dict.fromkeys(
        [os.environ.get("TMPDIR") or "/tmp", "/tmp", "/var/tmp"]
    ):  # noqa: S108
        try:
            directory = Path(tempfile.mkdtemp(prefix="storefront-pg.", dir=parent))
        except OSError:
            continue
        directory.chmod(0o755)
        if can_traverse(user, directory):
            return directory
        shutil.rmtree(directory, ignore_errors=True)
    raise DevError(f"found no temporary directory that {user} can reach")


@dataclass
class Postgres:
    """A server with its data in ROOT/data and its log in ROOT/postgres.log.
    `kind`: "up" (durable, defaults), "test" (no fsync) or "bench" (durable,
    sized for millions of rows)."""

    bin: Path
    root: Path
    user: str
    port: int = 0
    kind: str = "up"
    started: bool = False  # this run must stop it on exit
    name: str = "PostgreSQL"  # in messages: which of a stack's servers

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return self.database_url(DATABASE)

    def database_url(self, name: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    @classmethod
    def from_env(cls, environ=os.environ, prefix: str = "TEST_PG_") -> Postgres:
        """A test stack's server, from the PREFIX* variables (TEST_PG_* for
        ours, TEST_MEDUSA_PG_* for Medusa's)."""
        return cls(
            bin=Path(environ[f"{prefix}BIN"]),
            root=Path(environ[f"{prefix}LOG"]).parent,
            user=environ[f"{prefix}USER"],
            port=int(environ[f"{prefix}PORT"]),
            kind="test",
        )

    def env(self, prefix: str = "TEST_PG_") -> dict[str, str]:
        return {
            f"{prefix}BIN": str(self.bin),
            f"{prefix}DATA": str(self.data),
            f"{prefix}LOG": str(self.log_path),
            f"{prefix}USER": self.user,
            f"{prefix}PORT": str(self.port),
        }

    def run(self, tool: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Runs a PostgreSQL tool as the server's user, from /, with a
        minimal environment, closing every inherited descriptor."""
        clean = [
            "env",
            "-i",
            f"PATH={self.bin}:/usr/bin:/bin",
            "LC_ALL=C.UTF-8",
            "TZ=UTC",
        ]
        kwargs.setdefault("check", False)
        return subprocess.run(  # noqa: S603
            as_user(self.user, [*clean, str(self.bin / tool), *args]), cwd="/", **kwargs
        )

    def own_root(self) -> None:
        """Gives ROOT to the server's user, readable so it reaches data/."""
        self.root.chmod(0o755)
        if os.geteuid() != 0:
            return
        uid = pwd.getpwnam(self.user).pw_uid
        gid = pwd.getpwnam(self.user).pw_gid
        if self.root.stat().st_uid != uid or (
            self.data.is_dir() and self.data.stat().st_uid != uid
        ):
            for path in [self.root, *self.root.rglob("*")]:
                os.lchown(path, uid, gid)

    def initdb(self) -> None:
        extra = ["--no-sync"] if self.kind in ("test", "bench") else []
        log(
            f"initializing {self.name} data in {self.data} (server runs as {self.user})"
        )
        result = self.run(
            "initdb",
            "-D",
            str(self.data),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            *extra,
            capture_output=True,
            text=True,
        )
        (self.root / "initdb.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise DevError(f"initdb failed:\n{result.stdout}{result.stderr}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# Added by ./dev (port, sockets, durability):\n"
                "include_if_exists = 'storefront-dev.conf'\n"
            )

    def conf_text(self) -> str:
        """storefront-dev.conf: TCP on 127.0.0.1 only, our port, the unix
        socket inside the data dir (TCP only when the path would not fit
        in 107 bytes); test turns durability off, bench keeps it."""
        sockets = "" if len(str(self.data)) > 90 else str(self.data).replace("'", "''")
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{sockets}'",
        ]
        if self.kind == "test":
            lines += [
                "fsync = off",
                "synchronous_commit = off",
                "full_page_writes = off",
            ]
        elif self.kind == "bench":
            lines += [
                "shared_buffers = 4GB",
                "wal_compression = lz4",
                "max_wal_size = 4GB",
                "checkpoint_timeout = 15min",
            ]
        return "\n".join(lines) + "\n"

    def write_conf(self) -> None:
        conf = self.data / "storefront-dev.conf"
        conf.write_text(self.conf_text())
        if os.geteuid() == 0:
            os.chown(conf, pwd.getpwnam(self.user).pw_uid, -1)

    def is_running(self) -> bool:
        if not (self.data / "PG_VERSION").is_file():
            return False
        return (
            self.run(
                "pg_ctl", "-D", str(self.data), "status", capture_output=True
            ).returncode
            == 0
        )

    def running_port(self) -> int | None:
        """The port of the running server, from line 4 of postmaster.pid."""
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def start(self) -> None:
        log(f"starting {self.name} on 127.0.0.1:{self.port}")
        result = self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            "60",
            "-s",
            "start",
        )
        if result.returncode != 0:
            raise DevError(
                f"PostgreSQL did not start (log: {self.log_path}):\n{self.tail()}"
            )
        self.started = True
        self.wait_ready()

    def stop(self, mode: str = "fast") -> bool:
        result = self.run(
            "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "-s", "stop"
        )
        return result.returncode == 0

    def start_again(self) -> None:
        """Starts the server a fault test stopped (waits until it answers)."""
        self.start()

    def shutdown(self) -> None:
        """Stops the server if this run started (or adopted) it."""
        if not self.started or not self.is_running():
            return
        log(f"stopping {self.name}")
        if not (self.stop("fast") or self.stop("immediate")):
            warn(f"could not stop {self.name} (data: {self.data})")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(  # noqa: S603
                [str(self.bin / "pg_isready"), "-q", *self._connection_args()],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.5)
        raise DevError(
            f"PostgreSQL on port {self.port} is not ready after {timeout:.0f}s"
        )

    def _connection_args(self, database: str = "postgres") -> list[str]:
        """The superuser's connection to the maintenance database (or
        another), over TCP."""
        return [
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
        ]

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(  # noqa: S603
            [str(self.bin / "psql"), *self._connection_args(database), "-Atqc", sql],
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DevError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def ensure_database(self, name: str = DATABASE) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        if exists != "1":
            self.psql(f"CREATE DATABASE {name}")

    def tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(
                self.log_path.read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return ""
