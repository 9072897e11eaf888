"""Static types hold: mypy, with the django-stubs and DRF plugins, passes on
the application code with the configuration in pyproject.toml ([tool.mypy]):
strict flags on core/ and the services, selectors and use cases, mypy's
defaults on the rest (docs/development.md, "Static types"). A new untyped
service function, an unchecked None or a wrong argument fails here, and so
fails CI.

mypy keeps its cache in .mypy_cache/: a warm run takes a few seconds, a cold
one (a fresh clone, as in CI) some more."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_passes():
    mypy = Path(sys.executable).with_name("mypy")
    result = subprocess.run(  # noqa: S603  (our own venv's tool)
        # The files, flags and Django settings come from pyproject.toml.
        [str(mypy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
