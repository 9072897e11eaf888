"""OTP against the running web server, PostgreSQL, Redis and Celery worker,
with real concurrency."""

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import AuthIdentity, ProviderIdentity
from otp.models import OtpChallenge
from otp.services import otp_send
from tests.mailbox import delivered_text
from tests.otp.conftest import mailed_code, wrong


def code_for(email: str) -> str:
    """Open a challenge in this process (the task runs eagerly into the
    locmem outbox); the live server sees the committed row."""
    otp_send(email=email, ip="198.51.100.7", now=timezone.now())
    return mailed_code(email)


def in_parallel(count: int, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_30_parallel_verifies_of_one_code_for_a_new_email(live, email):
    code = code_for(email)

    responses = in_parallel(
        30,
        lambda: live.post(
            "/store/auth/otp/verify", json={"email": email, "code": code}
        ),
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1, statuses
    assert all(r.status_code < 500 for r in responses)
    assert {r.json()["code"] for r in responses if r.status_code != 200} == {
        "otp_not_found"
    }
    assert (
        AuthIdentity.objects.filter(provider_identities__entity_id=email).count() == 1
    )
    assert ProviderIdentity.objects.filter(entity_id=email).count() == 1


def test_20_parallel_sends_to_one_address_leave_one_open_challenge(live, email):
    """The open challenge is replaced and the new one inserted in one
    statement (otp/services.py); parallel sends race on the partial unique
    index, and the losers get the cooldown's 429, never a 500."""
    responses = in_parallel(
        20, lambda: live.post("/store/auth/otp/send", json={"email": email})
    )

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[200] >= 1
    open_challenges = OtpChallenge.objects.filter(
        email=email,
        consumed_at__isnull=True,
        locked_at__isnull=True,
        replaced_at__isnull=True,
    )
    assert open_challenges.count() == 1
    assert OtpChallenge.objects.filter(email=email).count() == statuses[200]


def test_40_parallel_wrong_codes_evaluate_at_most_five(live, email):
    bad = wrong(code_for(email))

    responses = in_parallel(
        40,
        lambda: live.post("/store/auth/otp/verify", json={"email": email, "code": bad}),
    )

    assert all(r.status_code == 400 for r in responses), Counter(
        r.status_code for r in responses
    )
    codes = Counter(r.json()["code"] for r in responses)
    assert codes == {"otp_invalid": 4, "otp_locked": 36}
    challenge = OtpChallenge.objects.get(email=email)
    assert challenge.attempts == 5
    assert challenge.locked_at is not None


def test_send_through_the_worker_then_verify(live, email, mail_dir):
    sent = live.post("/store/auth/otp/send", json={"email": email})

    assert sent.json() == {"success": True, "expiresIn": 600}
    text = delivered_text(mail_dir, to=email, subject="sign-in code")
    code = re.search(r"code is (\d+)", text).group(1)
    verified = live.post("/store/auth/otp/verify", json={"email": email, "code": code})
    assert verified.status_code == 200
    assert verified.json()["requiresProfile"] is True
    created = live.post(
        "/store/customers", token=verified.json()["token"], json={"email": email}
    )
    assert created.status_code == 200


@pytest.fixture(autouse=True)
def _empty_outbox():
    mail.outbox = []
