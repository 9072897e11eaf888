"""The real Medusa 2.21.2 backend of `./dev test` (tests/e2e/medusa), for
the end-to-end tests of Medusa's commerce routes with our tokens.

It has a PostgreSQL cluster of its own, so that a fault test can stop
Medusa's database and not ours. Everything slow runs in one child process,
`python -m devstack.medusa`, while our own database is prepared: `npm ci`
when node_modules is stale, `medusa db:migrate`, `medusa user` (the admin),
then it becomes `medusa start`. The stack waits for Medusa's /health just
before pytest starts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.postgres import Postgres
from devstack.util import log

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "tests/e2e/medusa"
DATABASE = "medusa"
ADMIN_EMAIL = "admin@medusa.local"
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


@dataclass
class Medusa:
    pg: Postgres
    port: int
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.pg.database_url(DATABASE)

    def start_database(self) -> None:
        self.pg.own_root()
        self.pg.initdb()
        self.pg.write_conf()
        self.pg.start()
        self.pg.ensure_database(DATABASE)

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
        )
        return env

    def test_env(self) -> dict[str, str]:
        """What tests need to reach it, and to stop and start its database."""
        return {
            "MEDUSA_URL": self.url,
            "MEDUSA_ADMIN_EMAIL": ADMIN_EMAIL,
            "MEDUSA_ADMIN_PASSWORD": self.admin_password,
            **self.pg.env("TEST_MEDUSA_PG_"),
        }


def main() -> None:
    """The child: install, migrate, create the admin, become the server."""
    from devstack.stack import npm_install  # devstack.stack imports this module

    env = os.environ
    directory = ROOT / PROJECT
    npm_install(projects=(PROJECT,))
    node = shutil.which("node") or "node"
    cli = str(directory / "node_modules" / "@medusajs" / "cli" / "cli.js")
    # `--password=…`: a password starting with "-" would read as flags.
    admin = [
        "user",
        f"--email={env['MEDUSA_ADMIN_EMAIL']}",
        f"--password={env['MEDUSA_ADMIN_PASSWORD']}",
    ]
    for args in (["db:migrate"], admin):
        log(f"medusa {args[0]}")
        result = subprocess.run([node, cli, *args], cwd=directory, check=False)
        if result.returncode != 0:
            log(f"medusa {args[0]} failed (exit {result.returncode})")
            sys.exit(1)
    log(f"medusa start on 127.0.0.1:{env['MEDUSA_PORT']}")
    os.chdir(directory)  # medusa-config.js is read from the working directory
    argv = [node, cli, "start", "--host", "127.0.0.1", "--port", env["MEDUSA_PORT"]]
    os.execv(node, argv)  # noqa: S606


if __name__ == "__main__":
    main()
