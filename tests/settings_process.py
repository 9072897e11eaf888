"""A fresh Python process that sets Django up with the environment changed:
for what settings do at start (refusals, derived settings, threads)."""

import os
import subprocess
import sys


def django_process(
    changes: dict[str, str | None], code: str = "import django; django.setup()"
) -> subprocess.CompletedProcess:
    """`code` run with our environment changed (None: unset), base settings
    unless `changes` name others."""
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
        timeout=120,
        check=False,
    )
