"""The Prometheus alerting rules (deploy/prometheus/alerts.yml) are valid and
pass their promtool unit tests (alerts_test.yml). ./dev test installs promtool
(Debian package `prometheus`); without it these tests fail rather than skip,
so CI cannot go green without checking the rules."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH: install the Debian package `prometheus` "
            "(./dev test does: apt-get install --no-install-recommends prometheus)",
            pytrace=False,
        )
    return subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [path, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_alert_rules_are_valid():
    assert_ok(promtool("check", "rules", str(RULES.relative_to(ROOT))))


def test_alert_rules_pass_their_unit_tests():
    assert_ok(promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT))))
