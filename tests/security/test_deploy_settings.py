"""Production settings: check --deploy is clean, weak or missing secrets
refuse to start, cookies carry Secure, HttpOnly and SameSite."""

import os
import secrets
import subprocess
import sys

import pytest

STRONG = {
    name: secrets.token_urlsafe(64)
    for name in ("SECRET_KEY", "JWT_SECRET", "COOKIE_SECRET", "EMAIL_HASH_KEY")
}


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            **STRONG,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean():
    proc = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            **STRONG,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [("JWT_SECRET", "supersecret"), ("SECRET_KEY", "x" * 60), ("EMAIL_HASH_KEY", "")],
)
def test_weak_secrets_refuse_to_start(name, value):
    proc = run("import django; django.setup()", **{name: value})

    assert proc.returncode != 0
    assert f"{name} must be a random value" in proc.stderr


def test_a_missing_secret_refuses_to_start():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        **STRONG,
    }
    del env["COOKIE_SECRET"]

    proc = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert proc.returncode != 0
    assert "COOKIE_SECRET" in proc.stderr


def test_production_cookies_are_secure_httponly_and_lax():
    code = """
import django, json
django.setup()
from django.conf import settings
print(json.dumps({
    "session": [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY,
                settings.SESSION_COOKIE_SAMESITE],
    "csrf": [settings.CSRF_COOKIE_SECURE, settings.CSRF_COOKIE_HTTPONLY,
             settings.CSRF_COOKIE_SAMESITE],
    "customer": settings.CUSTOMER_SESSION_COOKIE_SECURE,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
}))
"""
    proc = run(code)

    assert proc.returncode == 0, proc.stderr
    import json

    values = json.loads(proc.stdout.strip().splitlines()[-1])
    assert values["session"] == [True, True, "Lax"]
    assert values["csrf"] == [True, True, "Lax"]
    assert values["customer"] is True
    assert values["hsts"] >= 31536000
    assert values["ssl_redirect"] is True
