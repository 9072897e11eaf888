import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F

from otp.models import OtpChallenge

SEND = "/store/auth/otp/send"
VERIFY = "/store/auth/otp/verify"


def mailed_code(to: str) -> str:
    messages = [m for m in mail.outbox if m.to == [to]]
    assert messages, f"no code was mailed to the address ({len(mail.outbox)} in outbox)"
    return re.search(r"code is (\d+)", messages[-1].body).group(1)


def time_passes(seconds: int, **filters) -> None:
    """Move challenges into the past, as if `seconds` had gone by."""
    OtpChallenge.objects.filter(**filters).update(
        created_at=F("created_at") - timedelta(seconds=seconds),
        expires_at=F("expires_at") - timedelta(seconds=seconds),
    )


@pytest.fixture
def send_code(api, django_capture_on_commit_callbacks):
    """Ask for a code through the API; return it as the user reads it."""

    def send(email: str) -> str:
        response = api.post(SEND, {"email": email}, format="json")
        assert response.status_code == 200, response.content
        return mailed_code(email)

    return send


@pytest.fixture
def verify(api):
    def call(email: str, code: str):
        return api.post(VERIFY, {"email": email, "code": code}, format="json")

    return call


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
