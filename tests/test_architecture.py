"""The layers of docs/architecture.md hold: the import contracts in
pyproject.toml ([tool.importlinter]) are kept. A new upward import (a domain
app importing a view, core importing an app, an app speaking DRF) fails
here, and so fails CI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_layers_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(  # noqa: S603  (our own venv's tool)
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
