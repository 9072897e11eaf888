"""Settings that cannot work together refuse to start the process."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.settings_process import django_process as _setup


def test_a_token_lifetime_above_the_orphan_age_refuses_to_start():
    proc = _setup({"JWT_EXPIRES_IN": "90000", "ORPHAN_MAX_AGE": "24h"})

    assert proc.returncode != 0
    assert "JWT_EXPIRES_IN" in proc.stderr
    assert "must not exceed ORPHAN_MAX_AGE" in proc.stderr


GOOGLE = {
    "SOCIAL_PROVIDERS": "google",
    "SOCIAL_GOOGLE_ISSUER": "https://accounts.google.com",
    "SOCIAL_GOOGLE_CLIENT_ID": "id",
    "SOCIAL_GOOGLE_CLIENT_SECRET": "secret",
    "SOCIAL_GOOGLE_CALLBACK_URL": "https://shop.example/cb",
    "SOCIAL_ALLOW_HTTP_ISSUER": "0",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SOCIAL_GOOGLE_CLIENT_SECRET": None}, "SOCIAL_GOOGLE_CLIENT_SECRET"),
        ({"SOCIAL_GOOGLE_ISSUER": "http://idp.example"}, "must be an https:// URL"),
        ({"SOCIAL_PROVIDERS": "emailpass"}, "cannot be a name"),
        ({"SOCIAL_PROVIDERS": "email-otp"}, "cannot be a name"),
        ({"SOCIAL_PROVIDERS": "Not A Name"}, "cannot be a name"),
    ],
)
def test_a_social_provider_without_what_it_needs_refuses_to_start(change, message):
    proc = _setup({**GOOGLE, **change})

    assert proc.returncode != 0
    assert message in proc.stderr


def test_google_needs_no_issuer():
    proc = _setup(
        {**GOOGLE, "SOCIAL_GOOGLE_ISSUER": None},
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SOCIAL_LOGIN_PROVIDERS['google']['issuer'])",
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "https://accounts.google.com"


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


APPLE = {
    "SOCIAL_PROVIDERS": "apple",
    "SOCIAL_APPLE_ISSUER": None,
    "SOCIAL_APPLE_CLIENT_ID": "com.shop.example.web",
    "SOCIAL_APPLE_CLIENT_SECRET": None,
    "SOCIAL_APPLE_TEAM_ID": "A1B2C3D4E5",
    "SOCIAL_APPLE_KEY_ID": "F6G7H8I9J0",
    "SOCIAL_APPLE_PRIVATE_KEY": _pem(ec.generate_private_key(ec.SECP256R1())),
    "SOCIAL_APPLE_PRIVATE_KEY_FILE": None,
    "SOCIAL_APPLE_CALLBACK_URL": "https://shop.example/auth/apple/callback",
    "SOCIAL_APPLE_SCOPE": None,
    "SOCIAL_APPLE_RESPONSE_MODE": None,
    "SOCIAL_ALLOW_HTTP_ISSUER": "0",
}


def test_apple_is_a_preset_with_a_signed_client_secret(tmp_path):
    """No issuer, scope, mode or client secret to set: the key (here from
    a file, as a mounted .p8) signs it."""
    key_file = tmp_path / "AuthKey.p8"
    key_file.write_text(APPLE["SOCIAL_APPLE_PRIVATE_KEY"] or "")
    proc = _setup(
        {
            **APPLE,
            "SOCIAL_APPLE_PRIVATE_KEY": None,
            "SOCIAL_APPLE_PRIVATE_KEY_FILE": str(key_file),
        },
        "import django; django.setup(); from django.conf import settings; "
        "apple = settings.SOCIAL_LOGIN_PROVIDERS['apple']; "
        "print(apple['issuer'], apple['scope'], apple['response_mode'], "
        "repr(apple['client_secret']), apple['private_key'].startswith('-----'))",
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "https://appleid.apple.com",
        "openid",
        "name",
        "email",
        "form_post",
        "''",
        "True",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SOCIAL_APPLE_PRIVATE_KEY": None}, "SOCIAL_APPLE_PRIVATE_KEY (or _FILE)"),
        ({"SOCIAL_APPLE_TEAM_ID": None}, "SOCIAL_APPLE_TEAM_ID"),
        ({"SOCIAL_APPLE_KEY_ID": None}, "SOCIAL_APPLE_KEY_ID"),
        ({"SOCIAL_APPLE_PRIVATE_KEY": "not a key"}, "is no PEM key"),
        (
            {
                "SOCIAL_APPLE_PRIVATE_KEY": _pem(
                    rsa.generate_private_key(public_exponent=65537, key_size=2048)
                )
            },
            "must be a P-256 key",
        ),
        (
            {
                "SOCIAL_APPLE_PRIVATE_KEY": None,
                "SOCIAL_APPLE_PRIVATE_KEY_FILE": "/nonexistent/AuthKey.p8",
            },
            "PRIVATE_KEY_FILE cannot be read",
        ),
    ],
)
def test_apple_without_its_key_refuses_to_start(change, message):
    proc = _setup({**APPLE, **change})

    assert proc.returncode != 0
    assert message in proc.stderr
    assert "BEGIN PRIVATE KEY" not in proc.stderr


GITHUB = {
    "SOCIAL_PROVIDERS": "github",
    "SOCIAL_GITHUB_KIND": None,
    "SOCIAL_GITHUB_CLIENT_ID": "Ov23liexample",
    "SOCIAL_GITHUB_CLIENT_SECRET": "secret",
    "SOCIAL_GITHUB_CALLBACK_URL": "https://shop.example/auth/github/callback",
    "SOCIAL_GITHUB_AUTHORIZE_URL": None,
    "SOCIAL_GITHUB_TOKEN_URL": None,
    "SOCIAL_GITHUB_API_URL": None,
    "SOCIAL_GITHUB_SCOPE": None,
    "SOCIAL_GITHUB_PRIVATE_KEY": None,
    "SOCIAL_GITHUB_PRIVATE_KEY_FILE": None,
    "SOCIAL_ALLOW_HTTP_ISSUER": "0",
}


def test_github_is_a_preset_at_githubs_urls():
    proc = _setup(
        GITHUB,
        "import django; django.setup(); from django.conf import settings; "
        "github = settings.SOCIAL_LOGIN_PROVIDERS['github']; "
        "print(github['kind'], github['authorize_url'], github['token_url'], "
        "github['api_url'], github['scope'], github['display_name'])",
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "github",
        "https://github.com/login/oauth/authorize",
        "https://github.com/login/oauth/access_token",
        "https://api.github.com/",
        "user:email",
        "GitHub",
    ]


def test_any_name_may_be_a_github_kind_at_its_own_urls():
    """GitHub Enterprise Server: its own host, the API under /api/v3."""
    proc = _setup(
        {
            "SOCIAL_PROVIDERS": "ghe",
            "SOCIAL_GHE_KIND": "github",
            "SOCIAL_GHE_CLIENT_ID": "id",
            "SOCIAL_GHE_CLIENT_SECRET": "secret",
            "SOCIAL_GHE_CALLBACK_URL": "https://shop.example/auth/ghe/callback",
            "SOCIAL_GHE_AUTHORIZE_URL": "https://ghe.example/login/oauth/authorize",
            "SOCIAL_GHE_TOKEN_URL": "https://ghe.example/login/oauth/access_token",
            "SOCIAL_GHE_API_URL": "https://ghe.example/api/v3",
            "SOCIAL_ALLOW_HTTP_ISSUER": "0",
        },
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SOCIAL_LOGIN_PROVIDERS['ghe']['api_url'])",
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "https://ghe.example/api/v3/"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SOCIAL_GITHUB_CLIENT_SECRET": None}, "SOCIAL_GITHUB_CLIENT_SECRET"),
        ({"SOCIAL_GITHUB_CLIENT_ID": None}, "SOCIAL_GITHUB_CLIENT_ID"),
        (
            {"SOCIAL_GITHUB_TOKEN_URL": "http://github.example/token"},
            "SOCIAL_GITHUB_TOKEN_URL must be an https:// URL",
        ),
        (
            {"SOCIAL_GITHUB_API_URL": "http://api.github.example"},
            "SOCIAL_GITHUB_API_URL must be an https:// URL",
        ),
        ({"SOCIAL_GITHUB_KIND": "saml"}, "SOCIAL_GITHUB_KIND: oidc or github"),
        (
            {
                "SOCIAL_GITHUB_PRIVATE_KEY": _pem(
                    ec.generate_private_key(ec.SECP256R1())
                )
            },
            "GitHub takes a secret",
        ),
    ],
)
def test_github_without_what_it_needs_refuses_to_start(change, message):
    proc = _setup({**GITHUB, **change})

    assert proc.returncode != 0
    assert message in proc.stderr


def test_a_visibility_timeout_under_10_s_refuses_to_start():
    proc = _setup({"CELERY_VISIBILITY_TIMEOUT": "9"})

    assert proc.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must be at least 10 s" in proc.stderr


def test_retry_countdowns_stay_under_half_the_visibility_timeout():
    """A message a worker holds for its countdown is acknowledged before
    the broker hands it to another worker (docs/deploy.md)."""
    show = (
        "import django; django.setup();"
        "from core.tasks import retry_countdown;"
        "print(retry_countdown(120), retry_countdown(5))"
    )

    assert _setup({"CELERY_VISIBILITY_TIMEOUT": "30"}, show).stdout.split() == [
        "15",
        "5",
    ]
    assert _setup({"CELERY_VISIBILITY_TIMEOUT": None}, show).stdout.split() == [
        "120",
        "5",
    ]


def test_a_mail_claim_shorter_than_the_smtp_waits_refuses_to_start():
    proc = _setup({"MAIL_CLAIM_SECONDS": "30"})

    assert proc.returncode != 0
    assert "MAIL_CLAIM_SECONDS must be at least 60 s" in proc.stderr


PREPARED = (
    "import django; django.setup();"
    "from django.db import connection;"
    "from accounts.models import Customer;"
    "[Customer.objects.filter(email='nobody@example.com').first() for _ in range(6)];"
    "c = connection.cursor();"
    "c.execute('SELECT count(*) FROM pg_prepared_statements');"
    "print(c.fetchone()[0])"
)


def test_a_direct_connection_prepares_the_statements_it_repeats():
    proc = _setup({"DB_PGBOUNCER": None, "DB_PREPARED_STATEMENTS": None}, PREPARED)

    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 1


def test_behind_pgbouncer_nothing_is_prepared():
    """The settings for PgBouncer (checked here against PostgreSQL itself;
    tests/topology runs through a real PgBouncer): in transaction pooling
    the next transaction may get another server session, where a prepared
    statement does not exist."""
    proc = _setup({"DB_PGBOUNCER": "1", "DB_PREPARED_STATEMENTS": None}, PREPARED)

    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == 0


def test_prepared_statements_behind_pgbouncer_refuse_to_start():
    proc = _setup({"DB_PGBOUNCER": "1", "DB_PREPARED_STATEMENTS": "1"})

    assert proc.returncode != 0
    assert "DB_PREPARED_STATEMENTS needs DB_PGBOUNCER=0" in proc.stderr


def test_no_password_hashing_thread_refuses_to_start():
    proc = _setup({"PASSWORD_HASHING_THREADS": "0"})

    assert proc.returncode != 0
    assert "PASSWORD_HASHING_THREADS must be at least 1" in proc.stderr
