"""The real Medusa 2.21.2 backend of `./dev test` (tests/e2e/medusa), for
the end-to-end tests of Medusa's commerce routes with our tokens.

It has a PostgreSQL cluster of its own, so that a fault test can stop
Medusa's database and not ours. The slow parts run in one child process,
`python -m devstack.medusa`, while our own database is prepared: `npm ci`
when node_modules is stale, `medusa db:migrate`, `medusa user` (the admin),
then it becomes `medusa start`.

`db:migrate` takes 20-60 s on two cores, so the migrated database is kept
as a pg_dump in var/medusa-db/, named by what it depends on (the npm
project's package files, medusa-config.js, the PostgreSQL binaries); later
runs load it in a second instead. Our worker must start on migrated tables
(the replica checks them once at its start), so the stack waits for
MIGRATED_MARK before it starts web, worker and beat.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.npm import VAR, npm_digest, npm_install
from devstack.postgres import SUPERUSER, Postgres
from devstack.util import DevError, log, warn

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "tests/e2e/medusa"
DATABASE = "medusa"
ADMIN_EMAIL = "admin@medusa.local"
MIGRATED_MARK = "medusa-migrated"  # in the stack's directory
# A cold `npm ci` of its thousand packages on two busy cores takes minutes.
HEALTH_TIMEOUT = 600
# All Medusa's processes get from ours: neither our secrets nor DATABASE_URL
# or REDIS_URL (its defineConfig reads both).
PASSED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "NODE_EXTRA_CA_CERTS")


def passed(name: str) -> bool:
    return (
        name in PASSED
        or name.lower().endswith("_proxy")
        or name.lower().startswith("npm_config_")
    )


def dump_path(pg_bin: Path, var: Path = VAR) -> Path:
    """Where the migrated database of this project and PostgreSQL is kept."""
    directory = ROOT / PROJECT
    digest = hashlib.sha256(npm_digest(directory).encode())
    digest.update((directory / "medusa-config.js").read_bytes())
    digest.update(str(pg_bin.resolve()).encode())
    return var / "medusa-db" / f"{digest.hexdigest()[:16]}.sql"


@dataclass
class Medusa:
    pg: Postgres
    port: int
    run_dir: Path
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    restored: bool = False  # its database came from the kept dump

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.pg.database_url(DATABASE)

    def start_database(self) -> None:
        """Its cluster, and its database from the kept dump if there is one."""
        self.pg.own_root()
        self.pg.initdb()
        self.pg.write_conf()
        self.pg.start()
        self.pg.ensure_database(DATABASE)
        dump = dump_path(self.pg.bin)
        if dump.is_file():
            self.restored = self._restore(dump)

    def _restore(self, dump: Path) -> bool:
        result = subprocess.run(
            [
                str(self.pg.bin / "psql"),
                *self._connection_args(),
                "-d",
                DATABASE,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                str(dump),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            log(f"Medusa's database loaded from {dump}")
            return True
        warn(f"{dump} did not load, migrating instead: {result.stderr.strip()}")
        dump.unlink(missing_ok=True)
        self.pg.psql(f"DROP DATABASE {DATABASE}")
        self.pg.ensure_database(DATABASE)
        return False

    def _connection_args(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.pg.port), "-U", SUPERUSER]

    def env(self, app_env: Mapping[str, str]) -> dict[str, str]:
        """The environment of the child: the JWT secret and CORS origins of
        our servers (Medusa must accept the tokens they sign)."""
        env = {name: value for name, value in app_env.items() if passed(name)}
        env.update(
            NODE_ENV="development",
            MEDUSA_DISABLE_TELEMETRY="true",
            DATABASE_URL=self.database_url,
            JWT_SECRET=app_env["JWT_SECRET"],
            COOKIE_SECRET=secrets.token_urlsafe(48),
            STORE_CORS=app_env["STORE_CORS"],
            AUTH_CORS=app_env["AUTH_CORS"],
            MEDUSA_PORT=str(self.port),
            MEDUSA_ADMIN_EMAIL=ADMIN_EMAIL,
            MEDUSA_ADMIN_PASSWORD=self.admin_password,
            MEDUSA_MIGRATED_MARK=str(self.run_dir / MIGRATED_MARK),
            # Empty: loaded from the dump, nothing to migrate or keep.
            MEDUSA_DUMP="" if self.restored else str(dump_path(self.pg.bin)),
            MEDUSA_PG_BIN=str(self.pg.bin),
            MEDUSA_PG_PORT=str(self.pg.port),
        )
        return env

    def migrated(self) -> bool:
        return self.restored or (self.run_dir / MIGRATED_MARK).exists()

    def test_env(self) -> dict[str, str]:
        """What tests need to reach it, and to stop and start its database."""
        return {
            "MEDUSA_URL": self.url,
            "MEDUSA_ADMIN_EMAIL": ADMIN_EMAIL,
            "MEDUSA_ADMIN_PASSWORD": self.admin_password,
            **self.pg.env("TEST_MEDUSA_PG_"),
        }


# ------------------------------------------------------------- the child


def step(argv: list[str], name: str, cwd: Path) -> None:
    log(name)
    started = time.monotonic()
    result = subprocess.run(argv, cwd=cwd, check=False)
    if result.returncode != 0:
        raise DevError(f"{name} failed (exit {result.returncode})")
    log(f"{name}: done in {time.monotonic() - started:.0f}s")


def dump_keep(env: Mapping[str, str], cwd: Path) -> None:
    """pg_dump of the migrated database for later runs, written whole (a
    failure only costs the next run its migrations)."""
    target = Path(env["MEDUSA_DUMP"])
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    argv = [
        str(Path(env["MEDUSA_PG_BIN"]) / "pg_dump"),
        *["-h", "127.0.0.1", "-p", env["MEDUSA_PG_PORT"], "-U", SUPERUSER],
        *["-d", DATABASE, "--no-owner", "--no-privileges", "-f", str(partial)],
    ]
    try:
        step(argv, "pg_dump of Medusa's database", cwd)
    except DevError as error:
        warn(f"{error}; the next run migrates again")
        partial.unlink(missing_ok=True)
        return
    for old in target.parent.glob("*.sql"):
        old.unlink(missing_ok=True)
    partial.replace(target)


def main() -> None:
    """The child: install, migrate, create the admin, become the server."""
    env = os.environ
    directory = ROOT / PROJECT
    node = shutil.which("node") or "node"
    cli = str(directory / "node_modules" / "@medusajs" / "cli" / "cli.js")
    try:
        npm_install(projects=(PROJECT,))
        if env["MEDUSA_DUMP"]:
            step([node, cli, "db:migrate"], "medusa db:migrate", directory)
            dump_keep(env, directory)
        Path(env["MEDUSA_MIGRATED_MARK"]).touch()
        # `--password=…`: a password starting with "-" would read as flags.
        admin = [
            "user",
            f"--email={env['MEDUSA_ADMIN_EMAIL']}",
            f"--password={env['MEDUSA_ADMIN_PASSWORD']}",
        ]
        step([node, cli, *admin], "medusa user", directory)
    except (DevError, subprocess.CalledProcessError) as error:
        log(f"error: {error}")
        sys.exit(1)
    log(f"medusa start on 127.0.0.1:{env['MEDUSA_PORT']}")
    os.chdir(directory)  # medusa-config.js is read from the working directory
    argv = [node, cli, "start", "--host", "127.0.0.1", "--port", env["MEDUSA_PORT"]]
    os.execv(node, argv)  # noqa: S606


if __name__ == "__main__":
    main()
