"""What the stacks share: paths, the application's environment, the
commands of web, worker and beat, our child processes, and the throw-away
stack of `./dev test`, `./dev bench` and plain `pytest`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from devstack import credentials, github, medusa, oidc
from devstack.postgres import Postgres, choose_user, find_bin, throwaway_root
from devstack.redis import Redis
from devstack.util import (
    DevError,
    free_ports,
    log,
    port_is_free,
    set_default,
    stop_pids,
    wait_for_health,
    warn,
)

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_CORS = "http://localhost:8000,http://localhost:3000"
HEALTH_TIMEOUT = 60
STOP_TIMEOUT = 15

# Every live test comes from 127.0.0.1: per-IP flood limits would throttle
# the suite itself. Tests of the limits set their own (per-email limits keep
# their defaults).
TEST_LIMITS = (
    "LOGIN_LIMIT_PER_IP",
    "SIGNUP_LIMIT_PER_IP",
    "RESET_LIMIT_PER_IP",
    "OTP_SEND_LIMIT_PER_IP",
    "OTP_VERIFY_LIMIT_PER_IP",
    "SOCIAL_LOGIN_LIMIT_PER_IP",
)
# One client address logs in as the same accounts over and over: every
# request limit would answer 429 long before the figures mean anything.
BENCH_LIMITS = (
    *TEST_LIMITS,
    "LOGIN_FAILURES_PER_EMAIL_CLIENT",
    "LOGIN_FAILURES_PER_EMAIL",
    "SIGNUP_FAILURES_PER_EMAIL",
    "REFRESH_LIMIT_PER_IDENTITY",
    "RESET_LIMIT_PER_EMAIL",
    "OTP_SEND_LIMIT_PER_EMAIL",
)
# The replication benchmark's Medusa: a database of the bench stack's server.
MEDUSA_BENCH_DATABASE = "bench_medusa_replica"


def python() -> str:
    return (
        str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
    )


def app_env(
    env: MutableMapping[str, str], *, pg_url: str, redis_url: str, mail_dir: Path
) -> None:
    """The environment of every Django process (the caller's values win)."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        if name in env:
            warn(f"using {name} from your environment: {env[name]}")
    set_default(env, "DATABASE_URL", pg_url)
    set_default(env, "REDIS_URL", redis_url)
    # filemail:///abs/path (the settings read the path with urlsplit, as
    # django-environ alone would drop its leading "/").
    set_default(env, "EMAIL_URL", f"filemail://{mail_dir}")
    set_default(env, "DEFAULT_FROM_EMAIL", "no-reply@storefront.local")
    set_default(env, "DJANGO_SUPERUSER_USERNAME", "admin")
    set_default(env, "DJANGO_SUPERUSER_EMAIL", "admin@storefront.local")
    set_default(env, "STORE_CORS", DEFAULT_CORS)
    set_default(env, "AUTH_CORS", DEFAULT_CORS)
    set_default(env, "DJANGO_SETTINGS_MODULE", "config.settings.base")


def metrics_dir(env: MutableMapping[str, str], directory: Path) -> None:
    """prometheus_client's multiprocess mode (core/metrics.py): every web,
    worker and beat process writes its counters to files in this directory
    and /metrics sums them all, so it starts empty. A PROMETHEUS_MULTIPROC_DIR
    from the caller is used as it is; set empty, it turns multiprocess mode
    off (prometheus_client turns it on whenever the variable exists)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in env:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    elif not env["PROMETHEUS_MULTIPROC_DIR"]:
        warn(
            "PROMETHEUS_MULTIPROC_DIR is empty: "
            "each process serves only its own metrics"
        )
        del env["PROMETHEUS_MULTIPROC_DIR"]
    else:
        warn(
            "using PROMETHEUS_MULTIPROC_DIR from your environment: "
            + env["PROMETHEUS_MULTIPROC_DIR"]
        )
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


# glibc's malloc for the web server, whose password hashes each allocate
# Argon2id's 19 MiB (accounts/hashers.py). By default glibc raises its mmap
# threshold to fit the first such block freed and then keeps the block in
# the heap: 19 MiB of every worker's RSS for good. A fixed threshold hands
# the block back at each free, and transparent huge pages make faulting it
# in again cheap (about 6 % of a hash's CPU with them, 65 % without:
# docs/performance.md, "The hash buffer handed back"). glibc.malloc.hugetlb
# came with glibc 2.35; an older one would take the threshold alone.
WEB_MALLOC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"
THP_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")
HUGETLB_GLIBC = (2, 35)


def web_env(
    env: Mapping[str, str],
    thp: Path = THP_ENABLED,
    glibc: str | None = None,
) -> dict[str, str]:
    """The web server's environment: env with WEB_MALLOC_TUNABLES first in
    GLIBC_TUNABLES (the caller's own follow and win) when the kernel grants
    huge pages on request and glibc can ask for them; else env as it is
    (the fixed threshold alone costs more than the memory is worth).
    `glibc`: the C library's "glibc X.Y" (os.confstr's by default)."""
    web = dict(env)
    try:
        granted = "[never]" not in thp.read_text()
    except OSError:
        granted = False
    if glibc is None:
        glibc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    name, _, version = glibc.partition(" ")
    try:
        recent = tuple(map(int, version.split(".")[:2])) >= HUGETLB_GLIBC
    except ValueError:
        recent = False
    if granted and name == "glibc" and recent:
        own = web.get("GLIBC_TUNABLES", "")
        web["GLIBC_TUNABLES"] = ":".join(filter(None, [WEB_MALLOC_TUNABLES, own]))
    return web


# How long the web server waits for a request's headers, on a new
# connection or a kept-alive one between requests: an idle connection is
# closed after it, and a client trickling its headers is cut off. The
# proxy in front keeps its idle upstream connections for less
# (devstack/topology.py), so it never sends on one the server is closing.
WEB_KEEPALIVE_SECONDS = 5


def web_argv(
    host: str,
    port: int,
    workers: int,
    threads: int,
    *,
    quiet: bool = False,
    pidfile: Path | None = None,
) -> list[str]:
    """Granian serving Django's WSGI application: `workers` processes,
    each running the application on `threads` threads, with HTTP/1.1 in
    Rust (hyper) before the interpreter is entered: about a quarter of
    gunicorn's CPU per request (docs/performance.md, "Granian for
    gunicorn"). The access log leaves out the query string (admin
    searches carry an email in ?q=); `quiet` drops it (the benchmarks
    measure the application, not a log line). A worker that dies is
    started again; at a stop, requests in flight get 10 s to finish."""
    argv = [
        str(VENV_BIN / "granian"),
        "config.wsgi:application",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--http",
        "1",
        "--no-ws",
        "--http1-header-read-timeout",
        str(WEB_KEEPALIVE_SECONDS * 1000),
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        "10",
    ]
    if not quiet:
        argv += [
            "--access-log",
            "--access-log-fmt",
            '%(addr)s - [%(time)s] "%(method)s %(path)s %(protocol)s" '
            "%(status)d %(dt_ms).1f",
        ]
    if pidfile:
        argv += ["--pid-file", str(pidfile)]
    return argv


def worker_argv(
    pidfile: Path | None = None, *, concurrency: int = 2, name: str = ""
) -> list[str]:
    """A Celery worker; `name` (e.g. worker1@%h) tells two on one host apart."""
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
    ]
    argv += ["--hostname", name] if name else []
    return argv + (["--pidfile", str(pidfile)] if pidfile else [])


def beat_argv(state: Path, pidfile: Path | None = None) -> list[str]:
    """The schedule lives in the database; --schedule only keeps celery from
    writing celerybeat-schedule into the checkout."""
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(state / "celerybeat-schedule"),
    ]
    return argv + (["--pidfile", str(pidfile)] if pidfile else [])


def prepare_database(
    env: MutableMapping[str, str], *, disable_beat: bool, quiet: bool
) -> None:
    """migrate, collectstatic, ensure_bootstrap (and beat's jobs disabled)."""
    argv = [python(), "-m", "devstack.prepare", "--verbosity", "0" if quiet else "1"]
    if disable_beat:
        argv.append("--disable-beat")
    result = subprocess.run(argv, env=dict(env), cwd=ROOT, check=False)  # noqa: S603
    if result.returncode != 0:
        raise DevError(
            "preparing the database failed (migrate, collectstatic, ensure_bootstrap)"
        )


class Children:
    """Processes we start, each in a session of its own (a Ctrl-C at the
    terminal reaches only us, and we stop things in order), output to a
    log file, pid in RUN_DIR/NAME.pid."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(
        self, name: str, argv: list[str], env: MutableMapping[str, str], logfile: Path
    ):
        with logfile.open("ab") as out:
            self.procs[name] = subprocess.Popen(  # noqa: S603
                argv,
                env=dict(env),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.run_dir / f"{name}.pid").write_text(f"{self.procs[name].pid}\n")

    def check_alive(self, *names: str) -> None:
        for name in names:
            if self.procs[name].poll() is not None:
                raise DevError(f"{name} exited (status {self.procs[name].returncode})")

    def stop(self, *names: str, timeout: float = STOP_TIMEOUT) -> None:
        names = [name for name in names if name in self.procs]
        if not names:
            return
        log(f"stopping {' '.join(names)}")
        stop_pids([self.procs[name].pid for name in names], timeout)
        for name in names:
            self.procs.pop(name).poll()
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


class ThrowawayStack:
    """PostgreSQL and Redis on free ports in temporary directories, fresh
    secrets, the database prepared (beat's jobs disabled), then web, worker
    and beat (test) or the web server alone (bench); test adds a real Medusa with
    its own PostgreSQL (devstack/medusa.py). `close()` stops everything it
    started, also what a test restarted, and removes the directories.

    kind = "test": PostgreSQL without durability; "bench": durable, sized
    for millions of rows, every request limit lifted."""

    def __init__(self, kind: str, environ: MutableMapping[str, str] | None = None):
        self.kind = kind
        self.env = dict(os.environ if environ is None else environ)
        self.tmp_dirs: list[Path] = []
        self.pg: Postgres | None = None
        self.redis: Redis | None = None
        self.children: Children | None = None
        self.medusa: medusa.Medusa | None = None
        self.oidc: oidc.OidcProvider | None = None
        self.github: github.GithubServer | None = None
        self.medusa_started = 0.0
        self.web_url = ""

    # ------------------------------------------------------------ start

    def start_services(self) -> None:
        tmp = self.env.get("TMPDIR") or tempfile.gettempdir()
        self.dir = Path(tempfile.mkdtemp(prefix=f"storefront-{self.kind}.", dir=tmp))
        self.tmp_dirs.append(self.dir)
        self.log_dir = self.dir / "logs"
        self.mail_dir = self.dir / "mail"
        for directory in (self.log_dir, self.mail_dir, self.dir / "redis"):
            directory.mkdir()
        self.children = Children(self.dir)

        user = choose_user(environ=self.env)
        pg_root = throwaway_root(user)
        self.tmp_dirs.append(pg_root)
        ports = free_ports(7)
        pg_port, redis_port, web_port, medusa_pg_port, medusa_port = ports[:5]
        oidc_port, github_port = ports[5:]
        self.web_port = int(self.env.get("PORT") or web_port)
        if not port_is_free(self.web_port):
            raise DevError(f"PORT={self.web_port} is in use")
        self.pg = Postgres(
            find_bin(self.env.get("DEV_PG_BIN")), pg_root, user, pg_port, self.kind
        )
        self.pg.own_root()
        self.pg.initdb()
        self.pg.write_conf()
        self.pg.start()
        self.pg.ensure_database()

        self.redis = Redis(
            redis_port,
            self.dir / "redis.conf",
            self.dir / "redis",
            self.dir / "redis.pid",
            persist=False,
        )
        self.redis.start(self.log_dir / "redis.log")

        for key, value in credentials.generate().items():
            set_default(self.env, key, value)
        set_default(self.env, "PORT", str(self.web_port))
        app_env(
            self.env,
            pg_url=self.pg.url,
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            mail_dir=self.mail_dir,
        )
        for name in BENCH_LIMITS if self.kind == "bench" else TEST_LIMITS:
            set_default(
                self.env, name, "1000000000" if self.kind == "bench" else "1000000"
            )
        if self.kind == "test":
            self.start_oidc(oidc_port)
            self.start_github(github_port)
            self.start_medusa(medusa_pg_port, medusa_port)
        log("preparing the database")
        prepare_database(self.env, disable_beat=True, quiet=True)
        metrics_dir(self.env, self.dir / "prometheus")
        self.wait_for_medusa_tables()

    def start_medusa(self, pg_port: int, port: int) -> None:
        """Medusa's own cluster now; its install, migrations, admin and
        server in one child while we go on (devstack/medusa.py). Our servers
        and pytest get MEDUSA_DATABASE_URL: its database, even over the
        caller's, as no test customer may reach a real shop."""
        root = throwaway_root(self.pg.user)
        self.tmp_dirs.append(root)
        pg = Postgres(self.pg.bin, root, self.pg.user, pg_port, "test")
        pg.name = "Medusa's PostgreSQL"
        self.medusa = medusa.Medusa(pg, port, self.dir)
        self.medusa.start_database()
        url = self.medusa.database_url
        if self.env.get("MEDUSA_DATABASE_URL", url) != url:
            warn(f"MEDUSA_DATABASE_URL from your environment replaced by {url}")
        self.env["MEDUSA_DATABASE_URL"] = url
        log(f"starting Medusa in the background (log: {self.log_dir}/medusa.log)")
        self.medusa_started = time.monotonic()
        self.children.start(
            "medusa",
            [python(), "-m", "devstack.medusa"],
            self.medusa.env(self.env),
            self.log_dir / "medusa.log",
        )

    def _replace_settings(self, values: dict[str, str]) -> None:
        """A test provider's settings, over the caller's: no test may reach
        a real provider."""
        for name, value in values.items():
            if self.env.get(name, value) != value:
                warn(f"{name} from your environment replaced for the test stack")
            self.env[name] = value

    def start_oidc(self, port: int) -> None:
        """The OpenID Connect provider of the social login tests
        (devstack/oidc.py), in the background; our servers get it as their
        `google`, over the caller's SOCIAL_* settings."""
        self.oidc = oidc.OidcProvider(port)
        self._replace_settings(self.oidc.app_settings())
        log(f"starting oidc-provider (log: {self.log_dir}/oidc.log)")
        self.children.start(
            "oidc",
            [python(), "-m", "devstack.oidc"],
            self.oidc.env(self.env),
            self.log_dir / "oidc.log",
        )

    def wait_for_oidc(self) -> None:
        """Until the provider serves its discovery document."""
        if self.oidc is None:
            return
        if not wait_for_health(
            self.oidc.discovery_url,
            oidc.HEALTH_TIMEOUT,
            lambda: self.children.check_alive("oidc"),
        ):
            raise DevError("oidc-provider did not start")
        log(f"oidc-provider ready at {self.oidc.url}")

    def start_github(self, port: int) -> None:
        """The GitHub stand-in of the social login tests (devstack/github.py),
        in the background; our servers get it as their `github`, over the
        caller's SOCIAL_* settings."""
        self.github = github.GithubServer(port)
        self._replace_settings(self.github.app_settings())
        providers = [
            name for name in self.env.get("SOCIAL_PROVIDERS", "").split(",") if name
        ]
        self.env["SOCIAL_PROVIDERS"] = ",".join(
            [*providers, github.PROVIDER, github.WRONG_SECRET_PROVIDER]
        )
        log(f"starting the GitHub stand-in (log: {self.log_dir}/github.log)")
        self.children.start(
            "github",
            [python(), "-m", "devstack.github"],
            self.github.env(self.env),
            self.log_dir / "github.log",
        )

    def wait_for_github(self) -> None:
        """Until the GitHub stand-in answers."""
        if self.github is None:
            return
        if not wait_for_health(
            self.github.health_url,
            github.HEALTH_TIMEOUT,
            lambda: self.children.check_alive("github"),
        ):
            raise DevError("the GitHub stand-in did not start")

    def wait_for_medusa_tables(self) -> None:
        """Until Medusa's database is migrated: our worker checks its tables
        once, at its start (replica/tasks.py)."""
        if self.medusa is None or self.medusa.migrated():
            return
        log("waiting for Medusa's migrations")
        deadline = time.monotonic() + medusa.HEALTH_TIMEOUT
        while not self.medusa.migrated():
            self.children.check_alive("medusa")
            if time.monotonic() > deadline:
                raise DevError("Medusa's migrations did not finish in time")
            time.sleep(0.5)

    def wait_for_medusa(self) -> None:
        """Until Medusa answers /health (it exits on a failed step)."""
        if self.medusa is None:
            return
        log(f"waiting for Medusa at {self.medusa.url}")
        if not wait_for_health(
            f"{self.medusa.url}/health",
            medusa.HEALTH_TIMEOUT,
            lambda: self.children.check_alive("medusa"),
        ):
            raise DevError("Medusa did not become healthy")
        took = time.monotonic() - self.medusa_started
        log(f"Medusa ready at {self.medusa.url} ({took:.0f}s after its start)")

    def start_app(self) -> None:
        """web (2 workers x 4 threads), worker and beat, logs in logs/."""
        log(f"starting web, worker and beat (logs: {self.log_dir})")
        self.children.start(
            "web",
            web_argv("127.0.0.1", self.web_port, 2, 4),
            web_env(self.env),
            self.log_dir / "web.log",
        )
        self.children.start(
            "worker", worker_argv(), self.env, self.log_dir / "worker.log"
        )
        self.children.start(
            "beat", beat_argv(self.dir), self.env, self.log_dir / "beat.log"
        )
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        if not wait_for_health(
            f"{self.web_url}/health",
            HEALTH_TIMEOUT,
            lambda: self.children.check_alive("web", "worker", "beat"),
        ):
            raise DevError("the live stack did not become healthy")
        log(f"live stack ready at {self.web_url}")

    def start_bench_web(self) -> None:
        """The web server alone: beat would fire sweeps of its own, and the
        benchmarks need no worker (they open OTP challenges themselves),
        but for the replication benchmark (start_bench_replica)."""
        set_default(self.env, "BENCH_WEB_WORKERS", "4")
        set_default(self.env, "BENCH_WEB_THREADS", "2")
        workers, threads = (
            int(self.env["BENCH_WEB_WORKERS"]),
            int(self.env["BENCH_WEB_THREADS"]),
        )
        log(
            f"starting the web server: {workers} workers x {threads} threads "
            f"(log: {self.log_dir}/web.log)"
        )
        argv = web_argv("127.0.0.1", self.web_port, workers, threads, quiet=True)
        self.children.start("web", argv, web_env(self.env), self.log_dir / "web.log")
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env["BENCH_URL"] = self.web_url
        self.env["BENCH_LOG_DIR"] = str(self.log_dir)
        if not wait_for_health(
            f"{self.web_url}/health",
            HEALTH_TIMEOUT,
            lambda: self.children.check_alive("web"),
        ):
            raise DevError("the web server did not become healthy")

    def start_bench_replica(self) -> None:
        """For the replication benchmark alone: a database next to ours
        with Medusa's tables (tests/imports/medusa_schema.sql, so the
        worker's check at its start passes; the benchmark fills them),
        MEDUSA_DATABASE_URL naming it in the app env, the web server (re)started
        with it (its commits kick the drains) and a Celery worker, started
        as the test stack's, to run them. stop_bench_replica() stops the
        worker; close() would too."""
        if self.env.get("MEDUSA_DATABASE_URL"):
            warn("the replication benchmark replaces MEDUSA_DATABASE_URL")
        self.pg.psql(f"CREATE DATABASE {MEDUSA_BENCH_DATABASE}")
        schema = ROOT / "tests" / "imports" / "medusa_schema.sql"
        self.pg.psql(schema.read_text(), database=MEDUSA_BENCH_DATABASE)
        server = self.pg.url.rsplit("/", 1)[0]
        self.env["MEDUSA_DATABASE_URL"] = f"{server}/{MEDUSA_BENCH_DATABASE}"
        self.children.stop("web")
        self.start_bench_web()
        self.start_bench_worker()

    def start_bench_worker(self) -> None:
        """One Celery worker, started as the test stack's (2 processes), its
        mail in the stack's mail directory (EMAIL_URL)."""
        log(f"starting a Celery worker (log: {self.log_dir}/worker.log)")
        self.children.start(
            "worker", worker_argv(), self.env, self.log_dir / "worker.log"
        )

    def stop_bench_replica(self) -> None:
        self.children.stop("worker")

    def test_env(self) -> dict[str, str]:
        """The environment of the pytest process: the servers' one without
        DJANGO_SETTINGS_MODULE (pytest takes config.settings.test from
        pyproject.toml), the stack's variables (docs/development.md), and a
        metrics directory of its own, so the live stack's /metrics shows
        only what the live stack did."""
        env = {k: v for k, v in self.env.items() if k != "DJANGO_SETTINGS_MODULE"}
        if env.get("PROMETHEUS_MULTIPROC_DIR") == str(self.dir / "prometheus"):
            (self.dir / "prometheus-pytest").mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.dir / "prometheus-pytest")
        env.update(
            {
                "LIVE_SERVER_URL": self.web_url,
                "MAIL_DIR": str(self.mail_dir),
                "DEV_TEST": "1",
                "TEST_STACK_DIR": str(self.dir),
                "TEST_LOG_DIR": str(self.log_dir),
                **self.pg.env(),
                **self.redis.env(),
                **(self.medusa.test_env() if self.medusa else {}),
                **(self.oidc.test_env() if self.oidc else {}),
                **(self.github.test_env() if self.github else {}),
            }
        )
        return env

    # ------------------------------------------------------------- stop

    def dump_logs(self) -> None:
        """The last 50 lines of each log, for diagnosing a failed run."""
        logs = sorted(self.log_dir.glob("*.log")) if hasattr(self, "log_dir") else []
        pg_logs = [
            pg.log_path for pg in (self.pg, self.medusa and self.medusa.pg) if pg
        ]
        for path in [*logs, *pg_logs]:
            try:
                lines = path.read_text(errors="replace").splitlines()[-50:]
            except OSError:
                continue
            if lines:
                print(f"\n----- last 50 lines of {path} -----", file=sys.stderr)
                print("\n".join(lines), file=sys.stderr, flush=True)

    def close(self) -> None:
        try:
            if self.children:
                self.children.stop("web", "worker", "beat", "medusa", "oidc", "github")
            if self.redis:
                self.redis.shutdown()
            if self.medusa:
                self.medusa.pg.shutdown()
            if self.pg:
                self.pg.shutdown()
        finally:
            for directory in self.tmp_dirs:
                shutil.rmtree(directory, ignore_errors=True)
            self.tmp_dirs = []
