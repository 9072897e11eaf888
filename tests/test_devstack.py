"""devstack, the Python behind ./dev: ports, the environment it exports,
the servers' settings, processes, and the lock file's agreement with
pyproject.toml. (The whole stack runs under every ./dev test.)"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest

from devstack import local, stack
from devstack.__main__ import BENCH_USAGE, bench_args, bench_phases
from devstack.medusa import Medusa
from devstack.npm import npm_digest
from devstack.postgres import Postgres
from devstack.redis import Redis
from devstack.util import DevError, free_ports, is_alive, port_is_free, set_default
from tests.settings_process import django_process

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ ports


def test_free_ports_are_distinct_and_free():
    ports = free_ports(3)

    assert len(set(ports)) == 3
    assert all(port_is_free(port) for port in ports)


def test_a_bound_port_is_not_free():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not port_is_free(sock.getsockname()[1])


class NotRunning:
    def is_running(self):
        return False


def test_up_keeps_its_saved_ports_while_free(tmp_path):
    pg_port, redis_port = free_ports(2)
    (tmp_path / "ports.env").write_text(f"PG_PORT={pg_port}\nREDIS_PORT={redis_port}\n")

    assert local.choose_ports(tmp_path, NotRunning(), {}) == (pg_port, redis_port)


def test_up_moves_off_a_taken_port_and_saves_the_new_one(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        (tmp_path / "ports.env").write_text(f"PG_PORT={busy}\nREDIS_PORT={busy}\n")
        pg_port, redis_port = local.choose_ports(tmp_path, NotRunning(), {})

    assert busy not in (pg_port, redis_port)
    saved = (tmp_path / "ports.env").read_text()
    assert saved == f"PG_PORT={pg_port}\nREDIS_PORT={redis_port}\n"


def test_a_chosen_port_in_use_is_an_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        with pytest.raises(DevError, match="DEV_PG_PORT"):
            local.choose_ports(tmp_path, NotRunning(), {"DEV_PG_PORT": busy})


# ------------------------------------------------------------ environment


def test_what_the_caller_set_wins_even_empty():
    env = {"PORT": ""}
    set_default(env, "PORT", "8000")
    set_default(env, "DEBUG", "1")

    assert env == {"PORT": "", "DEBUG": "1"}


def test_app_env_defaults_and_the_callers_values(tmp_path, capsys):
    env = {"REDIS_URL": "redis://elsewhere:1/2", "STORE_CORS": "https://shop.example"}
    stack.app_env(
        env, pg_url="postgres://pg", redis_url="redis://ours", mail_dir=tmp_path
    )

    assert env["DATABASE_URL"] == "postgres://pg"
    assert env["REDIS_URL"] == "redis://elsewhere:1/2"
    assert "using REDIS_URL from your environment" in capsys.readouterr().err
    assert env["EMAIL_URL"] == f"filemail://{tmp_path}"
    assert env["EMAIL_URL"].startswith("filemail:///")
    assert env["STORE_CORS"] == "https://shop.example"
    assert env["AUTH_CORS"] == stack.DEFAULT_CORS
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.base"
    assert env["DJANGO_SUPERUSER_USERNAME"] == "admin"


def test_the_metrics_directory_starts_empty_unless_the_caller_chose(tmp_path):
    ours = tmp_path / "prometheus"
    ours.mkdir()
    (ours / "counter_1.db").write_text("old")
    env = {}
    stack.metrics_dir(env, ours)
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(ours)
    assert list(ours.iterdir()) == []

    off = {"PROMETHEUS_MULTIPROC_DIR": ""}
    stack.metrics_dir(off, ours)
    assert "PROMETHEUS_MULTIPROC_DIR" not in off

    theirs = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "theirs")}
    stack.metrics_dir(theirs, ours)
    assert theirs["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "theirs")
    assert (tmp_path / "theirs").is_dir()


def test_the_pytest_environment_of_a_throwaway_stack(tmp_path):
    throwaway = stack.ThrowawayStack("test", environ={"DJANGO_SETTINGS_MODULE": "x"})
    throwaway.dir = tmp_path
    throwaway.log_dir = tmp_path / "logs"
    throwaway.mail_dir = tmp_path / "mail"
    throwaway.web_url = "http://127.0.0.1:1234"
    throwaway.pg = Postgres(Path("/pg/bin"), tmp_path / "pg", "postgres", 5555, "test")
    throwaway.redis = Redis(6666, tmp_path / "redis.conf", tmp_path, tmp_path, False)
    medusa_pg = Postgres(Path("/pg/bin"), tmp_path / "mpg", "postgres", 7777, "test")
    throwaway.medusa = Medusa(medusa_pg, 9999, tmp_path, admin_password="pw")
    stack.metrics_dir(throwaway.env, tmp_path / "prometheus")
    env = throwaway.test_env()

    assert "DJANGO_SETTINGS_MODULE" not in env  # pytest's come from pyproject
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus-pytest")
    assert env["LIVE_SERVER_URL"] == "http://127.0.0.1:1234"
    assert env["TEST_STACK_DIR"] == str(tmp_path)
    assert env["TEST_LOG_DIR"] == str(tmp_path / "logs")
    assert env["TEST_PG_DATA"] == str(tmp_path / "pg" / "data")
    assert env["TEST_PG_LOG"] == str(tmp_path / "pg" / "postgres.log")
    assert env["TEST_PG_PORT"] == "5555"
    assert env["TEST_REDIS_PORT"] == "6666"
    assert env["DEV_TEST"] == "1"
    assert env["MEDUSA_URL"] == "http://127.0.0.1:9999"
    assert env["MEDUSA_ADMIN_EMAIL"] == "admin@medusa.local"
    assert env["MEDUSA_ADMIN_PASSWORD"] == "pw"
    assert env["TEST_MEDUSA_PG_PORT"] == "7777"
    # The fault tests rebuild the servers from these variables.
    assert Postgres.from_env(env).data == throwaway.pg.data
    assert Redis.from_env(env).conf == throwaway.redis.conf
    medusa_again = Postgres.from_env(env, prefix="TEST_MEDUSA_PG_")
    assert (medusa_again.data, medusa_again.port) == (medusa_pg.data, 7777)


def test_medusa_gets_our_jwt_secret_and_none_of_our_other_settings(tmp_path):
    pg = Postgres(Path("/pg/bin"), tmp_path, "postgres", 7777, "test")
    app = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "https_proxy": "http://proxy:3128",
        "JWT_SECRET": "shared",
        "COOKIE_SECRET": "ours",
        "SECRET_KEY": "ours",
        "DATABASE_URL": "postgres://ours",
        "REDIS_URL": "redis://ours",
        "STORE_CORS": "http://localhost:3000",
        "AUTH_CORS": "http://localhost:3000",
    }
    env = Medusa(pg, 9999, tmp_path).env(app)

    assert env["JWT_SECRET"] == "shared"  # it must accept our tokens
    assert env["DATABASE_URL"] == "postgres://storefront@127.0.0.1:7777/medusa"
    assert env["COOKIE_SECRET"] != "ours"
    assert "SECRET_KEY" not in env
    assert "REDIS_URL" not in env  # Medusa's defineConfig would use our Redis
    assert (env["PATH"], env["https_proxy"]) == ("/usr/bin", "http://proxy:3128")
    assert env["STORE_CORS"] == env["AUTH_CORS"] == "http://localhost:3000"
    assert env["MEDUSA_DISABLE_TELEMETRY"] == "true"


def test_npm_installs_again_only_when_a_package_file_changes(tmp_path):
    (tmp_path / "package.json").write_text('{"name": "x"}')
    before = npm_digest(tmp_path)

    assert npm_digest(tmp_path) == before
    (tmp_path / "package-lock.json").write_text("{}")
    assert npm_digest(tmp_path) != before


def test_bench_arguments():
    assert bench_args([]) == []
    assert bench_args(["--quick"]) == []
    assert bench_args(["--full", "--only", "sweep"]) == ["--full", "--only", "sweep"]
    for wrong in (["--only"], ["--fast"], ["--only", "latency,nothing"]):
        with pytest.raises(DevError) as error:
            bench_args(wrong)
        assert str(error.value) == BENCH_USAGE


def test_bench_runs_replication_alone_after_the_other_parts():
    # It needs a worker and MEDUSA_DATABASE_URL; the others must not have them.
    assert bench_phases(["--full", "--only", "replication,latency"]) == [
        (["--full", "--only", "latency"], False),
        (["--full", "--only", "replication", "--merge-summary"], True),
    ]
    assert bench_phases(["--only", "replication"]) == [
        (["--only", "replication"], True)
    ]
    assert bench_phases(["--only", "sweep"]) == [(["--only", "sweep"], False)]
    (others, _), (last, replication) = bench_phases([])
    assert "replication" not in others[-1]
    assert "addresses" in others[-1]
    assert last == ["--only", "replication", "--merge-summary"]
    assert replication


# ------------------------------------------------------------ servers


def test_postgres_settings_per_kind(tmp_path):
    def conf(kind, root=tmp_path):
        return Postgres(Path("/bin"), root, "postgres", 5555, kind).conf_text()

    assert "listen_addresses = '127.0.0.1'\nport = 5555\n" in conf("up")
    assert f"unix_socket_directories = '{tmp_path}/data'" in conf("up")
    assert "fsync" not in conf("up")
    assert "fsync = off" in conf("test")
    assert "synchronous_commit = off" in conf("test")
    assert "fsync" not in conf("bench")
    assert "max_wal_size = 4GB" in conf("bench")
    # A unix socket path must fit in 107 bytes: TCP only then.
    deep = tmp_path / ("x" * 100)
    assert "unix_socket_directories = ''" in conf("test", deep)


def test_redis_settings(tmp_path):
    kept = Redis(7777, tmp_path / "r.conf", tmp_path, tmp_path / "r.pid", True)
    thrown = Redis(7777, tmp_path / "r.conf", tmp_path, tmp_path / "r.pid", False)

    assert "port 7777\nbind 127.0.0.1\n" in kept.conf_text()
    assert "save 60 1" in kept.conf_text()
    assert 'save ""' in thrown.conf_text()
    assert f'pidfile "{tmp_path}/r.pid"' in thrown.conf_text()


def test_web_server_arguments(tmp_path):
    argv = stack.web_argv("127.0.0.1", 8000, 3, 4, pidfile=tmp_path / "web.pid")

    def value(flag):
        return argv[argv.index(flag) + 1]

    assert argv[1] == "config.wsgi:application"
    assert value("--interface") == "wsgi"
    assert (value("--host"), value("--port")) == ("127.0.0.1", "8000")
    assert (value("--workers"), value("--blocking-threads")) == ("3", "4")
    assert value("--pid-file") == str(tmp_path / "web.pid")
    assert "--respawn-failed-workers" in argv
    # An idle connection is closed after the header timeout, which nginx's
    # idle upstream timeout stays under (devstack/topology.py).
    assert value("--http1-header-read-timeout") == "5000"
    # The access log leaves out the query string (admin searches carry an
    # email in ?q=).
    log_format = value("--access-log-fmt")
    assert "%(path)s" in log_format
    assert "query_string" not in log_format

    quiet = stack.web_argv("127.0.0.1", 8000, 4, 2, quiet=True)
    assert "--access-log" not in quiet
    assert "--pid-file" not in quiet


def test_the_web_server_gets_malloc_tunables_only_with_huge_pages(tmp_path):
    thp = tmp_path / "enabled"
    env = {"A": "1"}
    tuned = {"A": "1", "GLIBC_TUNABLES": stack.WEB_MALLOC_TUNABLES}

    thp.write_text("always [madvise] never\n")
    assert stack.web_env(env, thp, "glibc 2.36") == tuned
    assert "GLIBC_TUNABLES" not in env
    own = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    assert stack.web_env(own, thp, "glibc 2.35") == {
        "GLIBC_TUNABLES": stack.WEB_MALLOC_TUNABLES + ":glibc.malloc.arena_max=2"
    }  # the caller's come last, and win
    # glibc before 2.35 would take the threshold without the huge pages.
    assert stack.web_env(env, thp, "glibc 2.31") == env
    assert stack.web_env(env, thp, "") == env  # not glibc (musl)

    thp.write_text("always madvise [never]\n")
    assert stack.web_env(env, thp, "glibc 2.36") == env
    assert stack.web_env(env, tmp_path / "no kernel file", "glibc 2.36") == env


HASH_AND_MEASURE = """
import django; django.setup()
from django.contrib.auth.hashers import make_password
def rss():
    status = open("/proc/self/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024
make_password("warm up the imports")
before = rss()
for _ in range(3):
    make_password("correct horse")
print(rss() - before)
"""


def test_with_the_web_servers_tunables_a_hash_hands_its_memory_back():
    """A password hash's 19 MiB stays in a process's RSS (accounts/hashers.py)
    unless glibc has the web server's tunables."""
    tunables = stack.web_env({}).get("GLIBC_TUNABLES")
    if tunables is None:
        pytest.skip("this kernel grants no transparent huge pages")

    malloc_env = {
        name: None for name in os.environ if name.startswith("MALLOC_")
    }  # glibc's other ways to tune it, which would upset the premise
    kept = django_process({**malloc_env, "GLIBC_TUNABLES": None}, HASH_AND_MEASURE)
    handed_back = django_process(
        {**malloc_env, "GLIBC_TUNABLES": tunables}, HASH_AND_MEASURE
    )

    assert kept.returncode == handed_back.returncode == 0, (
        kept.stderr + handed_back.stderr
    )
    assert int(kept.stdout) >= 15  # MiB: the premise
    assert int(handed_back.stdout) < 5


# --------------------------------------------------------------- processes


def test_children_are_started_in_their_own_session_and_stopped(tmp_path):
    children = stack.Children(tmp_path)
    children.start("sleeper", ["sleep", "60"], dict(os.environ), tmp_path / "s.log")
    pid = int((tmp_path / "sleeper.pid").read_text())

    assert is_alive(pid)
    assert os.getsid(pid) == pid  # a Ctrl-C at the terminal does not reach it
    children.check_alive("sleeper")
    children.stop("sleeper", timeout=5)
    assert not is_alive(pid)
    assert not (tmp_path / "sleeper.pid").exists()


def test_a_dead_child_is_reported(tmp_path):
    children = stack.Children(tmp_path)
    children.start("quitter", ["true"], dict(os.environ), tmp_path / "q.log")
    children.procs["quitter"].wait()

    with pytest.raises(DevError, match="quitter exited"):
        children.check_alive("quitter")


# --------------------------------------------------------------- the lock


def locked_packages() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s\\]+)", block)
        if match:
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
            found[name] = (match[2], block.count("--hash=sha256:"))
    return found


def test_the_lock_pins_every_dependency_of_pyproject_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + project["optional-dependencies"]["dev"]
    locked = locked_packages()

    assert len(locked) > len(pins)  # the transitive ones too
    assert all(hashes for _, hashes in locked.values())
    for pin in pins:
        name, version = re.match(
            r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(.+)", pin
        ).groups()
        name = re.sub(r"[-_.]+", "-", name).lower()
        assert locked.get(name, (None,))[0] == version, (
            f"{pin} is not in requirements.lock: run ./dev lock"
        )


def test_the_dev_script_stays_a_thin_entry():
    script = (ROOT / "dev").read_text()
    assert len(script.splitlines()) < 300
    result = subprocess.run(  # noqa: S603
        ["bash", str(ROOT / "dev"), "help"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    for command in (
        "up",
        "manage ARGS",
        "test [ARGS]",
        "bench [--full]",
        "bench --peers",
        "lock",
    ):
        assert f"  {command}" in result.stdout


# ------------------------------------------------------------ var/pg


@pytest.fixture
def open_dir():
    """A directory every user can reach (pytest's tmp_path is private, and
    the server's user must reach var/pg when ./dev runs as root)."""
    path = Path(tempfile.mkdtemp(prefix="devstack-test.", dir="/tmp"))  # noqa: S108
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_var_pg_is_used_when_the_server_user_reaches_it(open_dir):
    (open_dir / "pg").mkdir()

    assert local.pg_location(open_dir, {})[0] == open_dir / "pg"


def test_var_pg_follows_a_link_only_to_a_directory_this_user_made(open_dir):
    made = open_dir / "made"
    (made / "pg").mkdir(parents=True)
    made.chmod(0o755)
    (open_dir / "var").mkdir()
    (open_dir / "var" / "pg").symlink_to(made / "pg")

    assert local.pg_location(open_dir / "var", {})[0] == made / "pg"

    if os.geteuid() == 0:  # a directory another user made: a planted link
        os.chown(made, 65534, 65534)
        with pytest.raises(DevError, match="which this user did not make"):
            local.pg_location(open_dir / "var", {})


def test_a_link_to_a_removed_directory_is_replaced(open_dir):
    var = open_dir / "var"
    var.mkdir()
    (var / "pg").symlink_to(open_dir / "gone" / "pg")

    root, _ = local.pg_location(var, {})

    assert root == var / "pg"
    assert root.is_dir()
    assert not root.is_symlink()


@pytest.mark.skipif(
    os.geteuid() != 0, reason="only root runs PostgreSQL as another user"
)
def test_a_var_the_server_user_cannot_reach_links_to_a_fresh_var_tmp_dir(open_dir):
    var = open_dir / "private" / "var"
    var.mkdir(parents=True)
    (open_dir / "private").chmod(0o700)

    root, _ = local.pg_location(var, {})
    try:
        assert root.parent.parent == Path("/var/tmp")  # noqa: S108
        assert root.parent.name.startswith("storefront-auth.")
        assert (var / "pg").resolve() == root
        assert local.pg_location(var, {})[0] == root  # the next run follows it
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
