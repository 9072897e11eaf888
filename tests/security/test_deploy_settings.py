"""Production settings: check --deploy is clean, weak or missing secrets
refuse to start, cookies carry Secure, HttpOnly and SameSite."""

import os
import secrets
import subprocess
import sys

import pytest

STRONG = {
    name: secrets.token_urlsafe(64)
    for name in (
        "SECRET_KEY",
        "JWT_SECRET",
        "COOKIE_SECRET",
        "EMAIL_HASH_KEY",
        "METRICS_TOKEN",
    )
}
PRODUCTION = {
    **STRONG,
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def run_argv(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argv
        argv, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    return run_argv([sys.executable, "-c", code], {**os.environ, **PRODUCTION, **env})


def test_check_deploy_is_clean():
    proc = run_argv(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**os.environ, **PRODUCTION},
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_SECRET", "supersecret"),
        ("SECRET_KEY", "x" * 60),
        ("EMAIL_HASH_KEY", ""),
        ("METRICS_TOKEN", ""),
        ("TASK_SEAL_KEYS", f"{STRONG['SECRET_KEY']},a short old key"),
    ],
)
def test_weak_secrets_refuse_to_start(name, value):
    proc = run("import django; django.setup()", **{name: value})

    assert proc.returncode != 0
    assert f"{name} must be a random value" in proc.stderr


def test_a_missing_secret_refuses_to_start():
    env = {**os.environ, **PRODUCTION}
    del env["COOKIE_SECRET"]

    proc = run_argv([sys.executable, "-c", "import django; django.setup()"], env)

    assert proc.returncode != 0
    assert "COOKIE_SECRET" in proc.stderr


@pytest.mark.parametrize("name", ["METRICS_TOKEN", "EMAIL_HASH_KEY"])
def test_an_empty_secret_refuses_to_start(name):
    proc = run("import django; django.setup()", **{name: ""})

    assert proc.returncode != 0
    assert f"{name} must be a random value" in proc.stderr


@pytest.mark.parametrize(
    "url", ["consolemail://", "filemail:///tmp/mail", "memorymail://", "dummymail://"]
)
def test_mail_that_never_leaves_the_machine_refuses_to_start(url):
    proc = run("import django; django.setup()", EMAIL_URL=url)

    assert proc.returncode != 0
    assert "EMAIL_URL must be an smtp://" in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        [
            sys.executable,
            "-c",
            "import config.wsgi; from django.conf import settings; "
            "print(settings.SETTINGS_MODULE)",
        ],
        [
            sys.executable,
            "-c",
            "import config.celery, django; django.setup(); "
            "from django.conf import settings; print(settings.SETTINGS_MODULE)",
        ],
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.SETTINGS_MODULE)",
        ],
    ],
    ids=["wsgi", "celery", "manage.py"],
)
def test_every_entry_point_defaults_to_production(argv):
    env = {**os.environ, **PRODUCTION}
    del env["DJANGO_SETTINGS_MODULE"]

    started = run_argv(argv, env)
    refused = run_argv(argv, {**env, "JWT_SECRET": "supersecret"})

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "config.settings.production"
    assert refused.returncode != 0
    assert "JWT_SECRET must be a random value" in refused.stderr


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


def test_production_requires_a_second_factor_and_throttles_staff_logins():
    code = """
import django, json
django.setup()
from django.conf import settings
print(json.dumps({
    "2fa": settings.ADMIN_REQUIRE_2FA,
    "handler": settings.AXES_HANDLER,
    "parameters": settings.AXES_LOCKOUT_PARAMETERS,
    "client_ip": settings.AXES_CLIENT_IP_CALLABLE,
    "backend": settings.AUTHENTICATION_BACKENDS[0],
}))
"""
    # An environment cannot turn the second factor off in production.
    proc = run(code, ADMIN_REQUIRE_2FA="0")

    assert proc.returncode == 0, proc.stderr
    import json

    values = json.loads(proc.stdout.strip().splitlines()[-1])
    assert values == {
        "2fa": True,
        "handler": "staff.lockout.StaffLoginAttempts",
        "parameters": ["username", "ip_address"],
        "client_ip": "staff.lockout.client_ip",
        "backend": "axes.backends.AxesStandaloneBackend",
    }
