"""The throw-away stack's services, for tests that take one down and bring
it back (fault tests): built from the TEST_* variables that ./dev test, or
the devstack pytest plugin, exports. Each action waits until it is done.
Medusa's PostgreSQL is a cluster of its own: stopping it leaves ours up."""

import os

import pytest

from devstack.postgres import Postgres
from devstack.redis import Redis


def require_variables(*names: str) -> None:
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: "
            "run the suite with ./dev test or plain pytest"
        )


def postgres() -> Postgres:
    require_variables("TEST_PG_BIN", "TEST_PG_LOG", "TEST_PG_USER", "TEST_PG_PORT")
    return Postgres.from_env()


def medusa_postgres() -> Postgres:
    require_variables(
        "TEST_MEDUSA_PG_BIN",
        "TEST_MEDUSA_PG_LOG",
        "TEST_MEDUSA_PG_USER",
        "TEST_MEDUSA_PG_PORT",
    )
    pg = Postgres.from_env(prefix="TEST_MEDUSA_PG_")
    pg.name = "Medusa's PostgreSQL"
    return pg


def redis() -> Redis:
    require_variables("TEST_REDIS_PORT", "TEST_REDIS_CONF")
    return Redis.from_env()


def pg_stop() -> None:
    if not postgres().stop("fast"):
        raise RuntimeError("pg_ctl stop failed")


def pg_start() -> None:
    postgres().start_again()


def medusa_pg_stop() -> None:
    if not medusa_postgres().stop("fast"):
        raise RuntimeError("pg_ctl stop failed (Medusa's PostgreSQL)")


def medusa_pg_start() -> None:
    medusa_postgres().start_again()


def redis_stop() -> None:
    redis().stop_now()


def redis_start() -> None:
    redis().start_again()


ACTIONS = {
    "pg-stop": pg_stop,
    "pg-start": pg_start,
    "medusa-pg-stop": medusa_pg_stop,
    "medusa-pg-start": medusa_pg_start,
    "redis-stop": redis_stop,
    "redis-start": redis_start,
}
