"""No plain email, password, one-time code or token in any log line the
whole suite produced: the test process's own records and the live stack's
web, worker and beat logs. Runs last (tests/conftest.py orders it)."""

import os
import re
import time
from pathlib import Path

from tests.conftest import _LogCollector

PATTERNS = {
    # Every test address is @example.com (tests/conftest.py, factories).
    # Also as a URL or an admin URL encodes it (%40, _40).
    "email": re.compile(r"[\w.+-]+(@|%40|_40)example\.com", re.IGNORECASE),
    "token": re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}"),
    "otp code": re.compile(r"code is \d{4,8}|'code': '\d{4,8}'|\"code\": \"\d{4,8}\""),
    "password": re.compile(
        r"correct horse battery staple|a brand new passphrase|"
        r"the squatters passphrase|old medusa password|another passphrase"
    ),
}


def log_lines() -> list[tuple[str, str]]:
    lines = [("pytest", line) for line in _LogCollector.lines]
    log_dir = os.environ.get("TEST_LOG_DIR")
    if log_dir:
        for name in ("web.log", "worker.log", "beat.log"):
            path = Path(log_dir, name)
            if path.exists():
                lines += [
                    (name, line)
                    for line in path.read_text(errors="replace").splitlines()
                ]
    return lines


def test_an_admin_search_by_email_leaves_only_the_path_in_the_access_log(live, email):
    log = Path(os.environ["TEST_LOG_DIR"], "web.log")
    start = log.stat().st_size

    response = live.request(
        "GET", "/admin/accounts/customer/", params={"q": email}, allow_redirects=False
    )
    written = wait_for_access_line(log, start, '"GET /admin/accounts/customer/ ')

    assert response.status_code == 302  # to the login page
    assert not PATTERNS["email"].search(written), written


def wait_for_access_line(log: Path, start: int, needle: str) -> str:
    """What the log gained since `start`, once it holds `needle` (the server
    writes the line after the response)."""
    for _ in range(100):
        with log.open("rb") as stream:
            stream.seek(start)
            written = stream.read().decode(errors="replace")
        if needle in written:
            return written
        time.sleep(0.05)
    raise AssertionError(f"no access line {needle!r} in {written!r}")


def test_no_secret_or_plain_email_in_any_log_line():
    lines = log_lines()
    leaks = [
        f"{source}: {kind}: {line[:300]}"
        for source, line in lines
        for kind, pattern in PATTERNS.items()
        if pattern.search(line)
    ]

    assert len(lines) > 100, "too few log lines collected: is the collector attached?"
    assert not leaks, "\n".join(leaks[:20])


def test_the_scan_would_catch_a_leak():
    line = '{"message": "login", "email": "shopper.1@example.com"}'

    assert PATTERNS["email"].search(line)
    assert PATTERNS["email"].search('"GET /admin/?q=shopper.1%40example.com HTTP/1.1"')
    assert PATTERNS["token"].search(
        "Bearer eyJhbGciOiJIUzI1NiIs.eyJhY3Rvcl9pZCI6.SWzB6MB-pawMSfP5"
    )
