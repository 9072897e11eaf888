"""The topology's configuration, without starting it."""

from pathlib import Path

import pytest

from devstack.__main__ import up_topology
from devstack.topology import nginx_conf, pgbouncer_ini
from devstack.util import DevError


def test_nginx_takes_the_apps_body_limit_and_never_resends_a_post():
    conf = nginx_conf(
        root=Path("/r"),
        log_dir=Path("/l"),
        port=8443,
        web_ports=[1, 2],
        cert=Path("/c"),
        key=Path("/k"),
        max_body_bytes=65536,
        workers="1",
    )

    assert "client_max_body_size 65536;" in conf
    (retry,) = [line for line in conf.splitlines() if "proxy_next_upstream " in line]
    assert retry.split() == ["proxy_next_upstream", "error", "timeout;"]
    assert "X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "server 127.0.0.1:1 " in conf
    assert "server 127.0.0.1:2 " in conf


def test_pgbouncer_pools_transactions():
    ini = pgbouncer_ini(
        port=6432, pg_port=5432, root=Path("/r"), pool_size=10, max_clients=400
    )

    assert "pool_mode = transaction" in ini
    assert "listen_addr = 127.0.0.1" in ini


def test_up_takes_the_prod_topology_only():
    assert up_topology([]) == ""
    assert up_topology(["--topology", "prod"]) == "prod"
    with pytest.raises(DevError):
        up_topology(["--topology", "staging"])
