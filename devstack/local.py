"""The stack of `./dev up` and `./dev manage`: data kept in var/, ports
saved in var/ports.env, secrets generated once into var/secrets.env."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from devstack import credentials
from devstack.postgres import (
    Postgres,
    can_traverse,
    choose_user,
    current_user,
    find_bin,
)
from devstack.redis import Redis, ping
from devstack.stack import VAR, VENV_BIN, app_env
from devstack.util import (
    DevError,
    free_ports,
    is_alive,
    log,
    port_is_free,
    stop_pids,
    warn,
)

PG_PORT, REDIS_PORT = 54329, 63799


def owner(path: Path) -> int:
    return path.stat().st_uid


def pg_location(var: Path, environ: MutableMapping[str, str]) -> tuple[Path, str]:
    """var/pg (data dir + log) and the server's user. var/pg is used when
    that user can reach it; otherwise the data lives in a fresh mktemp dir
    under /var/tmp and var/pg is a symlink to it. A later run follows the
    symlink only to a directory this user made (a predictable name under
    /var/tmp could be a symlink another local user planted)."""
    link = var / "pg"
    root = None
    if link.is_symlink():
        target = Path(os.readlink(link))
        parent = target.parent
        if (
            target.is_dir()
            and not target.is_symlink()
            and not parent.is_symlink()
            and owner(parent) == os.geteuid()
        ):
            root = target
        else:
            if target.exists():
                raise DevError(
                    f"var/pg points to {target}, which this user did not make; "
                    "remove var/pg"
                )
            link.unlink()
    elif link.is_dir():
        root = link
    if root is not None:
        user = choose_user(root / "data", environ)
        if not can_traverse(user, root):
            raise DevError(
                f"{user} cannot reach {root}; move the checkout or remove var/pg"
            )
        return root, user
    user = choose_user(None, environ)
    if can_traverse(user, var):
        link.mkdir(parents=True, exist_ok=True)
        return link, user
    target = Path(tempfile.mkdtemp(prefix="storefront-auth.", dir="/var/tmp"))  # noqa: S108
    target.chmod(0o755)
    (target / "pg").mkdir()
    link.symlink_to(target / "pg")
    log(
        f"{user} cannot reach {var}; PostgreSQL data lives in {target / 'pg'} "
        "(var/pg links there)"
    )
    return target / "pg", user


def redis_running(run_dir: Path, port: int) -> bool:
    """True if the dev Redis (pid in var/run/redis.pid) is up on PORT."""
    try:
        pid = int((run_dir / "redis.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return is_alive(pid) and ping(port)


def choose_ports(
    var: Path, pg: Postgres, environ: MutableMapping[str, str]
) -> tuple[int, int]:
    """DEV_PG_PORT / DEV_REDIS_PORT if set, else the ports saved in
    var/ports.env if still free (54329 and 63799 at first), else free ones;
    a server still running keeps its port. Saved for the next run."""
    saved = {}
    path = var / "ports.env"
    if path.is_file():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if value.isdigit():
                saved[key] = int(value)
    spare_pg, spare_redis = free_ports(2)
    if pg.is_running() and (running := pg.running_port()):
        pg_port = running
    elif environ.get("DEV_PG_PORT"):
        pg_port = int(environ["DEV_PG_PORT"])
        if not port_is_free(pg_port):
            raise DevError(f"DEV_PG_PORT={pg_port} is in use")
    else:
        pg_port = saved.get("PG_PORT", PG_PORT)
        pg_port = pg_port if port_is_free(pg_port) else spare_pg
    saved_redis = saved.get("REDIS_PORT")
    if saved_redis and redis_running(var / "run", saved_redis):
        redis_port = saved_redis
    elif environ.get("DEV_REDIS_PORT"):
        redis_port = int(environ["DEV_REDIS_PORT"])
        if not port_is_free(redis_port):
            raise DevError(f"DEV_REDIS_PORT={redis_port} is in use")
    else:
        redis_port = saved_redis or REDIS_PORT
        redis_port = redis_port if port_is_free(redis_port) else spare_redis
    path.write_text(f"PG_PORT={pg_port}\nREDIS_PORT={redis_port}\n")
    return pg_port, redis_port


def stop_leftovers(
    run_dir: Path, names: Iterable[str] = ("web", "worker", "beat")
) -> None:
    """With the up lock held, web/worker/beat named in var/run are leftovers
    of a run killed hard (SIGKILL); they would hold the port: stop them."""
    pids = []
    for name in names:
        path = run_dir / f"{name}.pid"
        try:
            pid = int(path.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            path.unlink(missing_ok=True)
            continue
        if is_alive(pid) and str(VENV_BIN).encode() + b"/" in cmdline:
            warn(f"stopping {name} (pid {pid}) left over from a previous ./dev up")
            pids.append(pid)
        path.unlink(missing_ok=True)
    stop_pids(pids, 15)


class LocalStack:
    """PostgreSQL and Redis of var/. `adopt`: servers already running (left
    over from a killed run) are stopped with ours on exit (`up`); without
    it only what this run starts is stopped (`manage` beside a running up)."""

    def __init__(self, environ: MutableMapping[str, str], var: Path = VAR):
        self.env = environ
        self.var = var
        self.run_dir = var / "run"
        self.log_dir = var / "log"
        self.mail_dir = var / "mail"
        for directory in (self.run_dir, self.log_dir, self.mail_dir, var / "redis"):
            directory.mkdir(parents=True, exist_ok=True)
        self.pg: Postgres | None = None
        self.redis: Redis | None = None
        self.password_from = "file"

    def lock_up(self) -> None:
        self._lock = (self.run_dir / "up.lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevError(
                "another ./dev up is already running for this checkout"
            ) from None

    def load_secrets(self) -> None:
        self.password_from = credentials.load_dev_secrets(self.var, self.env)

    def start_services(self, *, adopt: bool) -> None:
        root, user = pg_location(self.var, self.env)
        self.pg = Postgres(find_bin(self.env.get("DEV_PG_BIN")), root, user)
        self.pg.own_root()
        pg_port, redis_port = choose_ports(self.var, self.pg, self.env)
        self.pg.port = pg_port
        if self.pg.is_running():
            log(f"PostgreSQL already running on port {pg_port}; using it")
            self.pg.started = adopt
            self.pg.wait_ready()
        else:
            if not (self.pg.data / "PG_VERSION").is_file():
                self.pg.initdb()
            self.pg.write_conf()
            self.pg.start()
        self.pg.ensure_database()

        self.redis = Redis(
            redis_port,
            self.run_dir / "redis.conf",
            self.var / "redis",
            self.run_dir / "redis.pid",
            persist=True,
        )
        if redis_running(self.run_dir, redis_port):
            log(f"Redis already running on port {redis_port}; using it")
            self.redis.started = adopt
        else:
            self.redis.start(self.log_dir / "redis.log")
        app_env(
            self.env,
            pg_url=self.pg.url,
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            mail_dir=self.mail_dir.resolve(),
        )

    def close(self) -> None:
        if self.redis:
            self.redis.shutdown()
        if self.pg:
            self.pg.shutdown()


def check_web_port(host: str, port: int) -> None:
    if not port_is_free(port, host):
        raise DevError(
            f"port {port} is in use on {host}; choose another: PORT=8001 ./dev up"
        )


__all__ = ["LocalStack", "check_web_port", "current_user", "stop_leftovers"]
