"""The production topology on one machine (`./dev up --topology prod`, and
the throw-away one of tests/topology/): nginx in front with TLS, two web
nodes (two Granian masters, standing for two hosts), PgBouncer in
transaction pooling between Django and PostgreSQL, two Celery workers and
exactly one beat, on the stack's PostgreSQL and Redis. docs/deploy.md
describes the same layout for real hosts.

nginx and PgBouncer run as the PostgreSQL server's user when we are root
(PgBouncer refuses root; neither needs it on ports above 1024), from a
runtime directory that user owns: their configuration, the self-signed
certificate made at each start, nginx's buffers, pidfiles and logs."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack import local
from devstack.postgres import SUPERUSER, current_user
from devstack.stack import (
    WEB_KEEPALIVE_SECONDS,
    beat_argv,
    web_argv,
    web_env,
    worker_argv,
)
from devstack.util import DevError, free_ports, log, stop_pids, warn

# The names of the topology's processes, in start order.
NAMES = ("web1", "web2", "nginx", "worker1", "worker2", "beat")
# Django behind PgBouncer (config/settings/base.py, DB_PGBOUNCER).
DEFAULT_MAX_BODY_BYTES = 64 * 1024


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]


def as_user_argv(user: str, argv: list[str]) -> list[str]:
    """ARGV run as USER (setpriv execs it: the pid we hold is the server's,
    and a signal we send reaches it directly)."""
    if user == current_user():
        return argv
    entry = pwd.getpwnam(user)
    return [
        "setpriv",
        f"--reuid={entry.pw_uid}",
        f"--regid={entry.pw_gid}",
        "--init-groups",
        "--",
        *argv,
    ]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A fresh key and certificate for localhost and 127.0.0.1 (ECDSA P-256,
    7 days): TLS as in production, with a certificate clients can pin."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    result = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "7",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DevError(f"openssl could not make a certificate:\n{result.stderr}")
    return cert, key


def pgbouncer_ini(
    *, port: int, pg_port: int, root: Path, pool_size: int, max_clients: int
) -> str:
    """Transaction pooling: a server connection is a client's only for one
    transaction, so PostgreSQL holds pool_size backends however many web
    threads and worker processes keep a connection open. The local cluster
    trusts loopback; a real one takes a password (docs/deploy.md)."""
    return f"""\
[databases]
* = host=127.0.0.1 port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {root}/userlist.txt
admin_users = {SUPERUSER}
pool_mode = transaction
default_pool_size = {pool_size}
reserve_pool_size = 2
reserve_pool_timeout = 2
max_client_conn = {max_clients}
server_lifetime = 3600
server_idle_timeout = 600
server_connect_timeout = 5
query_wait_timeout = 30
log_connections = 0
log_disconnections = 0
client_tls_sslmode = disable
pidfile = {root}/pgbouncer.pid
"""


def nginx_conf(
    *,
    root: Path,
    log_dir: Path,
    port: int,
    web_ports: list[int],
    cert: Path,
    key: Path,
    max_body_bytes: int,
    workers: str,
) -> str:
    """nginx in front of the web nodes: TLS, the body limit of the app,
    the client's address appended to X-Forwarded-For (the app reads it with
    TRUSTED_PROXY_COUNT=1), a request retried on the other node only when
    the first could not be reached (never a POST the first may have run)."""
    too_large = '{"type":"invalid_data","message":"Request body is too large"}'
    # What nginx refuses before any node sees it, in the app's JSON shape
    # rather than nginx's HTML page: (its status, what it answers, message).
    refusals = (
        ("414", "414", "Request line is too long"),
        # A header line over large_client_header_buffers: nginx's own 494,
        # answered as 400.
        ("494", "400", "Request header is too large"),
        ("400", "400", "Bad request"),
        # Plain HTTP to the TLS port: nginx's own 497.
        ("497", "400", "This port takes HTTPS"),
    )
    # A URI, not a named location: a request line nginx could not read has
    # no URI of its own, and a named location would need one (a 500). Not
    # `internal`: asked for directly, it answers its JSON, not a 404 page.
    refused = "\n".join(
        f"""        error_page {status} ={answer} /.refused/{status};
        location = /.refused/{status} {{
            default_type application/json;
            return {answer} '{{"type":"invalid_data","message":"{message}"}}';
        }}"""
        for status, answer, message in refusals
    )
    no_node = (
        '{"type":"unavailable","message":'
        '"The service is temporarily unavailable, please try again"}'
    )
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;" for p in web_ports
    )
    temp = "\n".join(
        f"    {kind}_temp_path {root}/nginx-{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {log_dir}/nginx-error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    # No query strings in the log: admin searches carry an email in ?q=.
    log_format upstream '$remote_addr [$time_local] "$request_method $uri '
                        '$server_protocol" $status $body_bytes_sent '
                        'upstream=$upstream_addr/$upstream_status '
                        'rt=$request_time urt=$upstream_response_time';
    access_log {log_dir}/nginx-access.log upstream;
{temp}
    server_tokens off;
    default_type application/octet-stream;

    # The app's MAX_BODY_BYTES: a larger body is refused here, before a
    # web node's thread sees it, and buffered bodies reach the node whole.
    client_max_body_size {max_body_bytes};
    client_body_buffer_size {max_body_bytes};
    client_body_timeout 10s;
    client_header_timeout 10s;
    # After an early answer (a 413), read and discard what the client still
    # sends, so it gets the answer rather than a reset.
    lingering_close on;
    lingering_time 10s;
    lingering_timeout 5s;
    keepalive_timeout 65s;

    upstream web {{
{servers}
        # Kept connections to the nodes; nginx closes an idle one before
        # the node would ({WEB_KEEPALIVE_SECONDS} s), so a POST never meets a
        # connection the node just closed (a 502 nginx may not retry).
        keepalive 16;
        keepalive_timeout {WEB_KEEPALIVE_SECONDS - 3}s;
    }}

    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:TLS:10m;
        ssl_session_timeout 1h;

        error_page 413 @too_large;
        location @too_large {{
            default_type application/json;
            return 413 '{too_large}';
        }}
{refused}
        # No node could be reached (or one failed mid-answer): the app's
        # JSON error shape, and when to try again.
        error_page 502 @no_node;
        location @no_node {{
            default_type application/json;
            add_header Retry-After 5 always;
            return 502 '{no_node}';
        }}

        location / {{
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Another node only when this one could not be reached or did
            # not answer in time; nginx never resends a POST or PATCH once
            # it reached a node (no non_idempotent).
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            proxy_next_upstream_timeout 10s;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


@dataclass
class Topology:
    """Configuration and commands of the topology's processes. `env` is the
    application's environment with DATABASE_URL pointing at PostgreSQL
    itself (migrations run there); the servers get PgBouncer's.

    kind "up": 2 web workers x 4 threads a node, worker concurrency 2;
    "test": 1 x 4 and 1, to spare the two cores the suite shares."""

    env: Mapping[str, str]
    pg_port: int
    user: str
    root: Path  # runtime directory, reachable by `user`
    log_dir: Path
    port: int  # nginx's HTTPS port
    kind: str = "up"
    web_ports: list[int] = field(default_factory=list)
    pgbouncer_port: int = 0
    cert: Path | None = None
    pgbouncer: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def database_url(self) -> str:
        name = self.env["DATABASE_URL"].rsplit("/", 1)[1]
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.pgbouncer_port}/{name}"

    def server_env(self) -> dict[str, str]:
        """What web, worker and beat run with: PgBouncer's address and the
        settings for it, one trusted proxy (nginx)."""
        env = dict(self.env)
        env.update(
            DATABASE_URL=self.database_url,
            DB_PGBOUNCER="1",
            TRUSTED_PROXY_COUNT="1",
        )
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
        return env

    def prepare(self) -> list[Process]:
        """Writes the configuration and the certificate; the processes to
        start, in order."""
        self.pgbouncer_port, *self.web_ports = free_ports(3)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.cert, key = self_signed_certificate(self.root)
        (self.root / "userlist.txt").write_text(f'"{SUPERUSER}" ""\n')
        up = self.kind == "up"
        # Every web thread and worker process may hold a client connection.
        (self.root / "pgbouncer.ini").write_text(
            pgbouncer_ini(
                port=self.pgbouncer_port,
                pg_port=self.pg_port,
                root=self.root,
                pool_size=10 if up else 6,
                max_clients=400,
            )
        )
        max_body = int(self.env.get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
        (self.root / "nginx.conf").write_text(
            nginx_conf(
                root=self.root,
                log_dir=self.root,
                port=self.port,
                web_ports=self.web_ports,
                cert=self.cert,
                key=key,
                max_body_bytes=max_body,
                workers="auto" if up else "1",
            )
        )
        self._give_to_user()

        server = self.server_env()
        processes = []
        workers, concurrency = (2, 2) if up else (1, 1)
        for index, port in enumerate(self.web_ports, 1):
            argv = web_argv(
                "127.0.0.1", port, workers, 4, pidfile=self.pidfile(f"web{index}")
            )
            processes.append(Process(f"web{index}", argv, web_env(server)))
        processes.append(
            Process(
                "nginx",
                as_user_argv(
                    self.user,
                    [
                        nginx_bin(),
                        "-e",
                        "stderr",
                        "-p",
                        str(self.root),
                        "-c",
                        str(self.root / "nginx.conf"),
                    ],
                ),
                {"PATH": "/usr/sbin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            )
        )
        for index in (1, 2):
            argv = worker_argv(
                self.pidfile(f"worker{index}"),
                concurrency=concurrency,
                name=f"worker{index}@%h",
            )
            processes.append(Process(f"worker{index}", argv, server))
        beat_state = self.log_dir / "beat"
        beat_state.mkdir(exist_ok=True)
        processes.append(
            Process("beat", beat_argv(beat_state, self.pidfile("beat")), server)
        )
        if up:
            # For the next ./dev up, should this one be killed (SIGKILL).
            (self.log_dir / "runtime").write_text(f"{self.root}\n")
        return processes

    def pidfile(self, name: str) -> Path | None:
        """`up` only (the test's Children write their own): where a killed
        run's leftovers are found (stop_leftovers)."""
        if self.kind != "up":
            return None
        path = self.log_dir / f"{name}.pid"
        path.unlink(missing_ok=True)  # celery refuses a live one
        return path

    def start_pgbouncer(self, logfile: Path) -> None:
        """PgBouncer as a service beside PostgreSQL and Redis, not with the
        application's processes: it stops after them (SIGINT, its safe
        shutdown), so the last writes of web, worker and beat still pass."""
        log(f"starting PgBouncer on 127.0.0.1:{self.pgbouncer_port} (log: {logfile})")
        argv = as_user_argv(
            self.user, [pgbouncer_bin(), str(self.root / "pgbouncer.ini")]
        )
        with logfile.open("ab") as out:
            self.pgbouncer = subprocess.Popen(  # noqa: S603
                argv,
                env={"PATH": "/usr/sbin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not self._pgbouncer_ready():
            if self.pgbouncer.poll() is not None or time.monotonic() > deadline:
                raise DevError(f"PgBouncer did not start (log: {logfile})")
            time.sleep(0.2)

    def stop_pgbouncer(self) -> None:
        if self.pgbouncer is not None:
            log("stopping PgBouncer")
            stop_pids([self.pgbouncer.pid], 10, signal.SIGINT)
            self.pgbouncer.poll()
            self.pgbouncer = None

    def _give_to_user(self) -> None:
        if os.geteuid() != 0 or self.user == current_user():
            return
        entry = pwd.getpwnam(self.user)
        for path in [self.root, *self.root.rglob("*")]:
            os.lchown(path, entry.pw_uid, entry.pw_gid)

    # ------------------------------------------------------------ health

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def wait_ready(self, alive, timeout: float = 90) -> None:
        """Until each web node answers /health and nginx answers it over
        TLS; `alive()` raises when a process died."""
        deadline = time.monotonic() + timeout
        checks = [
            *(
                (f"web node {i}", lambda p=p: status(f"http://127.0.0.1:{p}/health"))
                for i, p in enumerate(self.web_ports, 1)
            ),
            (
                "nginx",
                lambda: status(f"{self.url}/health", self.ssl_context()),
            ),
        ]
        for label, check in checks:
            while not check():
                alive()
                if time.monotonic() > deadline:
                    raise DevError(f"{label} did not become ready in {timeout:.0f}s")
                time.sleep(0.3)
        log(f"topology ready at {self.url}")

    def _pgbouncer_ready(self) -> bool:
        psql = shutil.which("psql") or "psql"
        result = subprocess.run(  # noqa: S603
            [psql, self.database_url, "-Atqc", "SELECT 1"],
            env={**os.environ, "PGCONNECT_TIMEOUT": "2"},
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() == "1"


def stop_leftovers(state: Path) -> None:
    """After a `./dev up --topology prod` killed hard: its web nodes,
    workers and beat (pidfiles in STATE), its nginx and PgBouncer (pidfiles
    in the runtime directory STATE/runtime names), and that directory."""
    local.stop_leftovers(state, NAMES)
    try:
        root = Path((state / "runtime").read_text().strip())
    except OSError:
        return
    pids = []
    for name in ("nginx", "pgbouncer"):
        try:
            pid = int((root / f"{name}.pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if name.encode() in cmdline and str(root).encode() in cmdline:
            warn(f"stopping {name} (pid {pid}) left over from a previous ./dev up")
            pids.append(pid)
    stop_pids(pids, 10)
    if root.name.startswith("storefront-pg."):
        shutil.rmtree(root, ignore_errors=True)
    (state / "runtime").unlink(missing_ok=True)


def status(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:  # noqa: S310
            return response.status == 200
    except (OSError, ValueError, urllib.error.HTTPError):
        return False


def pgbouncer_bin() -> str:
    return shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def nginx_bin() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


__all__ = ["NAMES", "Process", "Topology"]
