"""npm ci in the node projects the tests drive, only when a project's
package files changed since its node_modules was installed."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
from pathlib import Path

from devstack.util import log

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
# The node projects the tests drive: the JS SDK client, Medusa's own
# migrations and hasher for the import tests, and the Medusa backend of the
# end-to-end tests (devstack/medusa.py), and the OpenID Connect provider of
# the social login tests (devstack/oidc.py).
NPM_PROJECTS = (
    "tests/e2e/sdk",
    "tests/imports/medusa",
    "tests/e2e/medusa",
    "tests/e2e/oidc",
)
# In node_modules: the digest of what `npm ci` installed it from.
NPM_STAMP = ".storefront-npm-stamp"


def npm_install(
    var: Path = VAR, *, only_missing: bool = False, projects=NPM_PROJECTS
) -> None:
    """npm ci in each node project (npm install without a lockfile), in its
    directory so that its .npmrc applies; downloads cached in var/npm-cache.
    Skipped where node_modules was installed from the project's current
    package files by this Node (Medusa's thousand packages take minutes to
    put back); one install at a time per project, as Medusa's start-up
    installs its own while ./dev test installs the others."""
    var.mkdir(parents=True, exist_ok=True)
    for project in projects:
        directory = ROOT / project
        if not (directory / "package.json").is_file():
            continue
        lock_path = var / f"npm-{project.replace('/', '-')}.lock"
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if only_missing and (directory / "node_modules").is_dir():
                continue
            stamp = directory / "node_modules" / NPM_STAMP
            want = npm_digest(directory)
            if stamp.is_file() and stamp.read_text() == want:
                continue
            command = "ci" if (directory / "package-lock.json").is_file() else "install"
            log(f"npm {command} in {project}")
            subprocess.run(  # noqa: S603
                [
                    "npm",
                    command,
                    "--no-audit",
                    "--no-fund",
                    "--cache",
                    str(var / "npm-cache"),
                ],  # noqa: S607
                cwd=directory,
                check=True,
            )
            stamp.parent.mkdir(exist_ok=True)
            stamp.write_text(want)


def npm_digest(directory: Path) -> str:
    """What a project's node_modules was installed from: its package files
    and the Node version (native add-ons are built for one)."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json", ".npmrc"):
        path = directory / name
        digest.update(path.read_bytes() if path.is_file() else b"-")
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=False
    )
    digest.update(node.stdout.encode())
    return digest.hexdigest()
