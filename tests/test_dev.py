"""./dev up's banner: it shows the admin password only when ./dev generated
it, and only on that run; a password from the caller's environment is never
printed (terminal logs and CI output keep what is printed).

The banner and the secrets file are the dev script's own functions, run in
bash with a given environment (the rest of `up` starts a whole stack).
"""

import os
import subprocess
import sys
from pathlib import Path

DEV = Path(__file__).resolve().parents[1] / "dev"
CALLER_PASSWORD = "caller-chosen-8c1f2e"  # noqa: S105  (a test value)


def up_banner(var: Path, **env: str) -> str:
    """What `./dev up` prints once serving, with var/ at `var` and only
    `env` (plus PATH) in the environment; each call is one run."""
    script = 'source "$1"; VAR=$2; BASE_PYTHON=$3; dev_load_secrets; up_banner "$4"'
    result = subprocess.run(  # noqa: S603  (fixed argv)
        [
            "/bin/bash", "-c", script, "bash",
            str(DEV), str(var), sys.executable, "http://127.0.0.1:8000",
        ],
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SUPERUSER_USERNAME": "admin",
            "DATABASE_URL": "postgres://storefront@127.0.0.1:5432/storefront",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Storefront Auth is running" in result.stderr
    return result.stdout + result.stderr


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
