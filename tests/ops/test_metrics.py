"""/metrics protection, the start-up guard on token lifetimes, and the purge
of old OTP challenges."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from otp.models import OtpChallenge
from otp.tasks import otp_challenges_purge_task


@pytest.mark.django_db
def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"

    anonymous = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert anonymous.status_code == wrong.status_code == 401
    assert right.status_code == 200
    body = right.content.decode()
    for series in (
        "orphaned_auth_identities_created_total",
        "orphaned_auth_identities_cleaned_total",
        "orphaned_auth_identities ",
        "signup_attempts_total",
        "signups_paused ",
    ):
        assert series in body


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


@pytest.mark.django_db
def test_old_otp_challenges_are_purged(email):
    now = timezone.now()
    for age in (timedelta(hours=25), timedelta(hours=2)):
        OtpChallenge.objects.create(
            email=email,
            code_hash="0" * 64,
            max_attempts=5,
            created_at=now - age,
            expires_at=now - age + timedelta(minutes=10),
            replaced_at=now,
        )

    otp_challenges_purge_task()

    assert OtpChallenge.objects.filter(email=email).count() == 1
