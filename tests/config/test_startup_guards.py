"""Settings that cannot work together refuse to start the process."""

import os
import subprocess
import sys

import pytest


def _setup(
    changes: dict[str, str | None], code: str = "import django; django.setup()"
) -> subprocess.CompletedProcess:
    """Django set up with our environment changed (None: unset)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    for name, value in changes.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
        ({"SOCIAL_PROVIDERS": "apple"}, "cannot be a name"),
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
