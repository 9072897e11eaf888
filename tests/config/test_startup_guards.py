"""Settings that cannot work together refuse to start the process."""

import os
import subprocess
import sys


def test_a_token_lifetime_above_the_orphan_age_refuses_to_start():
    env = {
        **os.environ,
        "JWT_EXPIRES_IN": "90000",
        "ORPHAN_MAX_AGE": "24h",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
    }

    proc = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode != 0
    assert "JWT_EXPIRES_IN" in proc.stderr
    assert "must not exceed ORPHAN_MAX_AGE" in proc.stderr
