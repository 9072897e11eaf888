"""Through the production topology (tests/topology/conftest.py): HTTPS at
nginx, both web nodes, PgBouncer in transaction pooling, the client's
address through X-Forwarded-For, the body limit at nginx, a worker."""

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import time
import uuid

import pytest

from devstack.util import wait_for_health
from tests.mailbox import delivered_text
from tests.topology.conftest import LOGIN_LIMIT_PER_IP

pytestmark = pytest.mark.topology


def _new_log_lines(topology, before: int) -> list[str]:
    with topology.access_log.open("rb") as log:
        log.seek(before)
        return log.read().decode(errors="replace").splitlines()


def _log_lines_until(topology, before: int, done) -> list[str]:
    """The lines nginx's access log gained since BEFORE, once done(lines):
    nginx writes a line when the request is over, after the answer (after
    the lingering close of a refused body)."""
    deadline = time.monotonic() + 15
    lines = _new_log_lines(topology, before)
    while not done(lines) and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = _new_log_lines(topology, before)
    return lines


def _upstreams(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := re.search(r"upstream=(\S+)/", line))}


def _pgbouncer_transactions(topology) -> int:
    """Transactions PgBouncer has passed to the storefront database."""
    prod = topology.prod
    result = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "psql",
            f"postgres://storefront@127.0.0.1:{prod.pgbouncer_port}/pgbouncer",
            "-Atc",
            "SHOW STATS",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in result.stdout.splitlines():
        fields = line.split("|")
        if fields[0] == "storefront":
            return int(fields[1])  # total_xact_count
    return 0


def _post_from(topology, source: str, path: str, body: dict, headers=None):
    """A POST over TLS from the loopback address SOURCE (127.0.0.0/8 is all
    ours), so nginx sees another client."""
    context = ssl.create_default_context(cafile=topology.cert)
    connection = http.client.HTTPSConnection(
        "localhost",
        topology.prod.port,
        source_address=(source, 0),
        context=context,
        timeout=30,
    )
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"content-type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_https_requests_reach_both_web_nodes(topology, through):
    before = topology.access_log.stat().st_size

    answers = [through.get("/health") for _ in range(6)]

    assert [(a.status_code, a.text) for a in answers] == [(200, "OK")] * 6
    assert answers[0].url.startswith("https://")
    web_nodes = {f"127.0.0.1:{port}" for port in topology.prod.web_ports}
    lines = _log_lines_until(
        topology, before, lambda lines: _upstreams(lines) == web_nodes
    )
    assert _upstreams(lines) == web_nodes


def test_the_admin_knows_its_client_came_over_https(topology, through):
    """nginx says so in X-Forwarded-Proto, trusted with TRUSTED_PROXY_COUNT:
    the admin's login form, posted over HTTPS with its browser's Origin,
    passes Django's CSRF check (a wrong password: the form again, not 403)."""
    form = through.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)

    answer = through.post(
        "/admin/login/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": "nobody",
            "password": "wrong",
        },
        headers={"Origin": topology.url, "Referer": f"{topology.url}/admin/login/"},
        allow_redirects=False,
    )

    assert topology.url.startswith("https://")
    assert answer.status_code == 200, answer.text[:300]
    assert "Please enter the correct username and password" in answer.text


def test_signup_login_and_me_through_pgbouncer(topology, through, email, password):
    transactions = _pgbouncer_transactions(topology)

    registered = through.post(
        "/auth/customer/emailpass/register",
        json={"email": email, "password": password},
    )
    assert registered.status_code == 200, registered.text
    created = through.post(
        "/store/customers", token=registered.json()["token"], json={"email": email}
    )
    assert created.status_code == 200, created.text
    login = through.post(
        "/auth/customer/emailpass", json={"email": email, "password": password}
    )
    assert login.status_code == 200, login.text
    # More than psycopg's prepare_threshold (5) times on each node: prepared
    # statements would be lost between transactions under PgBouncer.
    mes = [
        through.get("/store/customers/me", token=login.json()["token"])
        for _ in range(12)
    ]

    assert {me.status_code for me in mes} == {200}
    assert {me.json()["customer"]["email"] for me in mes} == {email}
    assert _pgbouncer_transactions(topology) > transactions + 12


def test_x_forwarded_for_gives_request_limits_the_client_address(topology, through):
    def login(source: str, headers=None) -> int:
        stranger = f"nobody.{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": stranger, "password": "x" * 12}
        path = "/auth/customer/emailpass"
        status, _ = _post_from(topology, source, path, body, headers)
        return status

    statuses = [login("127.0.0.2") for _ in range(LOGIN_LIMIT_PER_IP)]
    assert statuses == [401] * LOGIN_LIMIT_PER_IP

    # Over the limit for this client, whatever it claims to be...
    assert login("127.0.0.2") == 429
    assert login("127.0.0.2", {"X-Forwarded-For": "203.0.113.9"}) == 429
    # ...while another client is not limited.
    assert login("127.0.0.3") == 401


def test_a_body_over_the_limit_is_refused_by_nginx(topology, through):
    from django.conf import settings

    before = topology.access_log.stat().st_size
    body = b"{" + b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b"}"

    refused = through.post(
        "/auth/customer/emailpass",
        data=body,
        headers={"content-type": "application/json"},
    )

    assert refused.status_code == 413
    assert refused.json() == {
        "type": "invalid_data",
        "message": "Request body is too large",
    }
    lines = _log_lines_until(
        topology, before, lambda lines: any('" 413 ' in line for line in lines)
    )
    (line,) = [line for line in lines if '" 413 ' in line]
    assert "upstream=-/-" in line  # no web node saw it


def _raw_exchange(topology, request: bytes, *, tls: bool = True) -> bytes:
    """REQUEST's bytes to nginx as they are, its whole answer back."""
    import socket

    raw = socket.create_connection(("localhost", topology.prod.port), timeout=15)
    if tls:
        context = ssl.create_default_context(cafile=topology.cert)
        raw = context.wrap_socket(raw, server_hostname="localhost")
    with raw:
        raw.sendall(request)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    ("request_bytes", "tls", "status", "message"),
    [
        (
            b"GET /store/customers/me?q=" + b"x" * 9000 + b" HTTP/1.1\r\n"
            b"Host: localhost\r\nConnection: close\r\n\r\n",
            True,
            414,
            "Request line is too long",
        ),
        (
            b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: "
            + b"x" * 9000
            + b"\r\nConnection: close\r\n\r\n",
            True,
            400,
            "Request header is too large",
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", True, 400, "Bad request"),
        (
            b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            False,
            400,
            "This port takes HTTPS",
        ),
    ],
    ids=["request line", "header", "garbage", "plain HTTP"],
)
def test_what_nginx_refuses_itself_gets_the_apps_json(
    topology, request_bytes, tls, status, message
):
    """Refused before any node sees it, yet in the app's error shape rather
    than nginx's HTML page."""
    before = topology.access_log.stat().st_size

    answer = _raw_exchange(topology, request_bytes, tls=tls)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {"type": "invalid_data", "message": message}
    lines = _log_lines_until(
        topology, before, lambda lines: any(f" {status} " in line for line in lines)
    )
    refused = [line for line in lines if f" {status} " in line]
    assert refused
    assert all("upstream=-/-" in line for line in refused)


def test_a_mail_task_is_run_by_a_worker(topology, through, email, password):
    registered = through.post(
        "/auth/customer/emailpass/register",
        json={"email": email, "password": password},
    )
    assert registered.status_code == 200, registered.text

    reset = through.post(
        "/auth/customer/emailpass/reset-password", json={"identifier": email}
    )

    assert (reset.status_code, reset.text) == (201, "Created")
    text = delivered_text(topology.mail_dir, to=email, subject="Reset your password")
    assert "token=" in text
    workers = "".join(
        (topology.log_dir / f"worker{i}.log").read_text(errors="replace")
        for i in (1, 2)
    )
    assert re.search(r"password_reset_email_send_task\[[^\]]+\] succeeded", workers)


def _kill(topology, name: str) -> None:
    """SIGKILL to a node's master and workers: a host gone."""
    node = topology.children.procs[name]
    os.killpg(node.pid, signal.SIGKILL)
    node.wait()


def test_a_dead_web_node_is_passed_over_until_it_is_back(topology, through, email):
    """nginx sends a request the dead node could not take, a sign-up
    included (it was never sent), to the other node; with no node left it
    answers 502 with Retry-After; nodes restarted take requests again."""
    port = topology.prod.web_ports[1]
    _kill(topology, "web2")
    before = topology.access_log.stat().st_size

    answers = [through.get("/health") for _ in range(4)]
    registered = through.post(
        "/auth/customer/emailpass/register",
        json={"email": email, "password": "a long enough passphrase"},
    )

    assert [a.status_code for a in answers] == [200] * 4
    assert registered.status_code == 200, registered.text
    tried = f"127.0.0.1:{port}, "  # the dead node tried, then the other one
    lines = _log_lines_until(
        topology, before, lambda lines: any(tried in line for line in lines)
    )
    assert any(tried in line for line in lines)

    _kill(topology, "web1")  # and now no node at all
    nothing = through.get("/health")
    assert nothing.status_code == 502
    assert nothing.headers["Retry-After"] == "5"
    assert nothing.json()["type"] == "unavailable"

    for name in ("web1", "web2"):
        process = topology.processes[name]
        log = topology.log_dir / f"{name}.log"
        topology.children.start(name, process.argv, process.env, log)
    for port in topology.prod.web_ports:
        assert wait_for_health(f"http://127.0.0.1:{port}/health", 60)


def test_the_topologys_logs_hold_no_email_token_or_password(topology, through):
    """As tests/security/test_logs.py for the test stack's logs: nginx's,
    PgBouncer's and every node's, after the tests above (it runs last)."""
    from tests.security.test_logs import PATTERNS

    logs = [
        *topology.log_dir.glob("*.log"),
        *topology.prod.root.glob("nginx-*.log"),
    ]
    assert len(logs) >= 9
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            for kind, pattern in PATTERNS.items():
                assert not pattern.search(line), f"{kind} in {path.name}: {line}"
