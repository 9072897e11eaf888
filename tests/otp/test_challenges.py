"""Codes and challenges: one live code per address, its TTL, five tries,
resend cooldown and hourly cap, the failure ceiling (hard stop) until a
login, and no code or address in the logs."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import AuthIdentity
from otp.mail import mails_drain
from otp.models import OtpChallenge, OtpFailureBudget, OtpMail
from otp.tasks import otp_challenges_purge_task
from tests.db_faults import refusing_trigger
from tests.factories import (
    customer_create,
)
from tests.otp.conftest import SEND, mailed_code, time_passes, wrong

pytestmark = pytest.mark.django_db


def claims(token):
    return jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])


def test_send_answers_alike_for_known_and_unknown_emails(api, email):
    customer_create(email=email)

    known = api.post(SEND, {"email": email}, format="json")
    unknown = api.post(SEND, {"email": "nobody." + email}, format="json")

    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {"success": True, "expiresIn": 600}
    assert len(mail.outbox) == 2
    code = mailed_code(email)
    assert len(code) == 6
    assert code.isdigit()
    assert code not in OtpChallenge.objects.get(email=email).code_hash


def test_wrong_code_counts_the_attempt_and_the_count_survives_the_400(
    api, email, send_code, verify
):
    code = send_code(email)

    response = verify(email, wrong(code))

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid code",
        "code": "otp_invalid",
        "remainingAttempts": 4,
    }
    assert OtpChallenge.objects.get(email=email).attempts == 1


def test_fifth_wrong_code_locks_and_every_try_after_is_locked(
    api, email, send_code, verify
):
    code = send_code(email)
    answers = [verify(email, wrong(code)) for _ in range(5)]

    after = verify(email, code)

    assert [a.json()["remainingAttempts"] for a in answers[:4]] == [4, 3, 2, 1]
    assert answers[4].status_code == 400
    assert answers[4].json()["code"] == "otp_locked"
    assert answers[4].json()["type"] == "not_allowed"
    assert (after.status_code, after.json()["code"]) == (400, "otp_locked")
    challenge = OtpChallenge.objects.get(email=email)
    assert challenge.attempts == 5
    assert challenge.locked_at is not None


def test_expired_code_is_refused_at_the_ttl_and_not_before(
    api, email, send_code, verify, monkeypatch
):
    # One instant for the whole test: the second of margin must not depend
    # on how fast the host runs between the send and the verifies.
    instant = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: instant)
    code = send_code(email)
    time_passes(599, email=email)
    before = verify(email, wrong(code))
    time_passes(1, email=email)

    at_ttl = verify(email, code)

    assert before.json()["code"] == "otp_invalid"
    assert (at_ttl.status_code, at_ttl.json()["code"]) == (400, "otp_expired")
    assert at_ttl.json()["type"] == "invalid_data"


def test_no_challenge_and_used_code_are_not_found(api, email, send_code, verify):
    none = verify(email, "123456")
    code = send_code(email)
    verify(email, code)

    used = verify(email, code)

    expected = (400, "invalid_data", "otp_not_found")
    assert (none.status_code, none.json()["type"], none.json()["code"]) == expected
    assert (used.status_code, used.json()["type"], used.json()["code"]) == expected


def test_a_new_send_replaces_the_live_challenge(api, email, send_code, verify):
    first = send_code(email)
    time_passes(61, email=email)
    second = send_code(email)

    old = verify(email, first) if first != second else verify(email, wrong(second))

    assert old.status_code == 400
    assert verify(email, second).status_code == 200
    assert (
        OtpChallenge.objects.filter(email=email, replaced_at__isnull=False).count() == 1
    )


def test_resend_cooldown_is_429_with_retry_after(api, email, send_code):
    send_code(email)

    again = api.post(SEND, {"email": email}, format="json")

    assert again.status_code == 429
    assert again.json()["type"] == "too_many_requests"
    assert 1 <= int(again["Retry-After"]) <= 60
    assert OtpChallenge.objects.filter(email=email).count() == 1


def test_at_most_five_codes_an_hour(api, email, send_code):
    for _ in range(5):
        send_code(email)
        time_passes(61, email=email)

    sixth = api.post(SEND, {"email": email}, format="json")

    assert sixth.status_code == 429
    assert int(sixth["Retry-After"]) > 60
    time_passes(3600, email=email)
    assert api.post(SEND, {"email": email}, format="json").status_code == 200


def test_hard_stop_after_the_failure_ceiling_until_a_login(
    api, email, password, send_code, verify
):
    customer = customer_create(email=email, password=password)
    # A password whose owner proved the mailbox
    # (tests/flows/test_pre_registration.py shows that an unproven one does not
    # lift the stop).
    AuthIdentity.objects.filter(customer=customer).update(
        email_verified_at=timezone.now()
    )
    code = send_code(email)
    OtpFailureBudget.objects.create(email=email, consecutive_failures=100)

    refused_verify = verify(email, code)
    time_passes(61, email=email)
    refused_send = api.post(SEND, {"email": email}, format="json")
    api.post(
        "/auth/customer/emailpass",
        {"email": email, "password": password},
        format="json",
    )

    assert refused_verify.json()["code"] == "otp_locked"
    assert refused_send.status_code == 429
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 0
    assert verify(email, send_code(email)).status_code == 200


def test_failures_accumulate_across_challenges_and_success_resets(
    api, email, send_code, verify
):
    code = send_code(email)
    verify(email, wrong(code))
    verify(email, wrong(code))
    time_passes(61, email=email)
    code = send_code(email)
    verify(email, wrong(code))

    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 3
    verify(email, code)
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid request: Field 'email' is required; Field 'code' is required"),
        (
            {"email": 5, "code": "123456"},
            "Invalid request: Expected type: 'string' for field 'email', got: '5'",
        ),
        (
            {"email": "a@example.com", "code": 123456},
            "Invalid request: Expected type: 'string' for field 'code', got: '123456'",
        ),
        (
            {"email": "a@example.com", "code": "1", "x": 1},
            "Invalid request: Unrecognized fields: 'x'",
        ),
    ],
)
def test_verify_input_errors(api, body, message):
    response = api.post("/store/auth/otp/verify", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"type": "invalid_data", "message": message}


def test_send_refuses_a_malformed_email(api):
    response = api.post(SEND, {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    assert OtpChallenge.objects.count() == 0


def test_malformed_code_counts_as_a_wrong_attempt(api, email, send_code, verify):
    send_code(email)

    response = verify(email, "abcdef")

    assert response.json()["code"] == "otp_invalid"
    assert OtpChallenge.objects.get(email=email).attempts == 1


def test_code_and_email_never_reach_the_logs(api, email, send_code, verify, caplog):
    customer_create(email=email)
    code = send_code(email)
    verify(email, wrong(code))

    verify(email, code)

    assert code not in caplog.text
    assert email not in caplog.text
    assert any(
        r.getMessage() == "Existing user logged in via OTP" for r in caplog.records
    )


def test_a_code_asked_for_while_the_broker_is_down_is_mailed_once_it_is_back(
    api, email, broker_down, caplog
):
    response = api.post(SEND, {"email": email}, format="json")

    assert response.status_code == 200
    challenge = OtpChallenge.objects.get(email=email)
    assert OtpMail.objects.filter(challenge=challenge).count() == 1
    assert "otp-mail_kick_failed" in caplog.text
    assert not [m for m in mail.outbox if m.to == [email]]
    # What beat's minute kick starts once the broker answers again.
    assert mails_drain().sent == 1
    assert mailed_code(email)
    assert not OtpMail.objects.filter(challenge=challenge).exists()


@pytest.mark.django_db(transaction=True)
def test_a_mail_that_cannot_be_written_leaves_no_challenge(api, email):
    # Committed, as a request's statements are (no transaction wraps the
    # challenge and its mail: one statement writes both).
    with refusing_trigger(table="otp_otpmail", event="INSERT"):
        response = api.post(SEND, {"email": email}, format="json")

    assert response.status_code == 503
    assert response.json()["type"] == "unavailable"
    assert int(response["Retry-After"]) >= 1
    assert not OtpChallenge.objects.filter(email=email).exists()


def test_otp_sends_from_one_client_address_are_limited(api, settings):
    settings.OTP_SEND_LIMIT_PER_IP = 2

    answers = [
        api.post(SEND, {"email": f"ip{n}@example.com"}, format="json") for n in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0


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
