"""./dev up's banner: it shows the admin password only when ./dev generated
it, and only on that run; a password from the caller's environment is never
printed (terminal logs and CI output keep what is printed).

The secrets file and the banner are devstack.credentials' functions, run
here with a given environment (the rest of `up` starts a whole stack).
"""

import stat
from pathlib import Path

from devstack.credentials import banner, load_dev_secrets

CALLER_PASSWORD = "caller-chosen-8c1f2e"  # noqa: S105  (a test value)


def up_banner(var: Path, **env: str) -> str:
    """What `./dev up` prints once serving, with var/ at `var` and only
    `env` in the environment; each call is one run."""
    environ = {
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DATABASE_URL": "postgres://storefront@127.0.0.1:5432/storefront",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        **env,
    }
    source = load_dev_secrets(var, environ)
    text = banner(
        "http://127.0.0.1:8000",
        environ,
        source,
        mail_dir=var / "mail",
        pg_log=var / "pg" / "postgres.log",
        redis_log=var / "log" / "redis.log",
    )
    assert "Storefront Auth is running" in text
    return text


def stored_password(var: Path) -> str:
    for line in (var / "secrets.env").read_text().splitlines():
        if line.startswith("DJANGO_SUPERUSER_PASSWORD="):
            return line.split("=", 1)[1]
    raise AssertionError("no DJANGO_SUPERUSER_PASSWORD in secrets.env")


def test_a_password_from_the_environment_is_never_printed(tmp_path):
    for _ in range(2):  # the first run (secrets generated) and a later one
        output = up_banner(tmp_path, DJANGO_SUPERUSER_PASSWORD=CALLER_PASSWORD)

        assert CALLER_PASSWORD not in output
        assert "password       from your environment" in output


def test_a_generated_password_is_printed_once_and_where_it_is_kept(tmp_path):
    first = up_banner(tmp_path)
    password = stored_password(tmp_path)
    second = up_banner(tmp_path)

    assert len(password) >= 20
    assert first.count(password) == 1
    assert "shown this once; kept in var/secrets.env" in first
    assert password not in second
    assert "password       in var/secrets.env (DJANGO_SUPERUSER_PASSWORD)" in second
    assert stored_password(tmp_path) == password


def test_secrets_are_generated_once_private_and_lose_to_the_environment(tmp_path):
    environ = {"SECRET_KEY": "from-the-caller"}
    load_dev_secrets(tmp_path, environ)
    path = tmp_path / "secrets.env"
    first = path.read_text()
    again = {}
    load_dev_secrets(tmp_path, again)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first  # generated once, then reused
    assert environ["SECRET_KEY"] == "from-the-caller"
    assert again["SECRET_KEY"] != "from-the-caller"
    assert again["STORE_PUBLISHABLE_KEY"].startswith("pk_")
    assert len(again["STORE_PUBLISHABLE_KEY"]) == 3 + 64
    for name in ("SECRET_KEY", "JWT_SECRET", "COOKIE_SECRET", "EMAIL_HASH_KEY"):
        assert len(again[name]) >= 50


def test_a_secret_added_later_is_appended_and_the_rest_kept(tmp_path):
    (tmp_path / "secrets.env").write_text("# old file\nSECRET_KEY=kept\n")
    environ = {}
    source = load_dev_secrets(tmp_path, environ)

    assert environ["SECRET_KEY"] == "kept"
    assert source == "generated"  # the admin password was missing
    assert "JWT_SECRET=" in (tmp_path / "secrets.env").read_text()
