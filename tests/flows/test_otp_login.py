"""Every row of seed 003's edge table, and the limits around it."""

import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import AuthIdentity, ProviderIdentity
from otp.models import OtpChallenge, OtpFailureBudget
from tests.factories import (
    customer_create,
    identity_create,
    profile_create,
    registration_token,
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


def test_first_otp_login_of_a_customer_adds_the_provider_identity(
    api, email, send_code, verify
):
    customer = customer_create(email=email)

    response = verify(email.upper(), send_code(email))

    assert response.status_code == 200
    body = response.json()
    assert body["isNewUser"] is False
    assert body["customer"]["id"] == customer.id
    payload = claims(body["token"])
    assert payload["auth_provider"] == "email-otp"
    assert payload["actor_id"] == customer.id
    assert payload["auth_identity_id"] == customer.auth_identity.id
    providers = set(
        ProviderIdentity.objects.filter(entity_id=email).values_list(
            "provider", flat=True
        )
    )
    assert providers == {"emailpass", "email-otp"}
    assert (
        AuthIdentity.objects.filter(provider_identities__entity_id=email)
        .distinct()
        .count()
        == 1
    )


def test_a_registered_customer_without_any_login_logs_in_by_code(
    api, email, send_code, verify
):
    """An import brings such customers (their Medusa login was Google's, or
    none): the code proves the address, so the new identity is theirs."""
    from accounts.models import Customer

    customer = Customer.objects.create(email=email, has_account=True)

    first = verify(email, send_code(email))
    time_passes(61, email=email)
    second = verify(email, send_code(email))

    assert first.status_code == 200
    assert (first.json()["isNewUser"], first.json()["customer"]["id"]) == (
        False,
        customer.id,
    )
    assert claims(first.json()["token"])["actor_id"] == customer.id
    identity = AuthIdentity.objects.get(customer=customer)
    assert identity.provider_identities.get().provider == "email-otp"
    assert second.json()["customer"]["id"] == customer.id
    assert AuthIdentity.objects.filter(customer__isnull=True).count() == 0


def test_a_customer_without_login_claims_the_identity_a_failed_register_left(
    api, email, password, send_code, verify
):
    """They tried to register first: the password made an identity, and the
    profile step refused a second customer. The code links it to them."""
    from accounts.models import Customer

    customer = Customer.objects.create(email=email, has_account=True)
    token = registration_token(api, email, password)
    refused = profile_create(api, token, email)

    login = verify(email, send_code(email))

    assert refused.status_code == 422
    assert login.status_code == 200
    assert (login.json()["isNewUser"], login.json()["customer"]["id"]) == (
        False,
        customer.id,
    )
    identity = AuthIdentity.objects.get(customer=customer)
    assert set(identity.provider_identities.values_list("provider", flat=True)) == {
        "emailpass",
        "email-otp",
    }
    assert AuthIdentity.objects.count() == 1


def test_repeat_otp_login_reuses_the_provider_identity(api, email, send_code, verify):
    customer_create(email=email)
    verify(email, send_code(email))
    time_passes(120, email=email)
    rows = ProviderIdentity.objects.count(), AuthIdentity.objects.count()

    response = verify(email, send_code(email))

    assert response.status_code == 200
    assert (ProviderIdentity.objects.count(), AuthIdentity.objects.count()) == rows


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


def test_new_email_gets_a_registration_token_then_completes_the_profile(
    api, email, send_code, verify
):
    response = verify(email, send_code(email))

    assert response.status_code == 200
    body = response.json()
    assert body["requiresProfile"] is True
    assert body["isNewUser"] is True
    assert claims(body["token"])["actor_id"] == ""
    created = profile_create(api, body["token"], email, first_name="Otto")
    assert created.status_code == 200
    identity = AuthIdentity.objects.get(provider_identities__entity_id=email)
    assert identity.customer_id == created.json()["customer"]["id"]
    assert identity.provider_identities.get().provider == "email-otp"


def test_orphan_emailpass_identity_gets_the_otp_provider_not_a_second_identity(
    api, email, send_code, verify
):
    orphan = identity_create(email=email)

    response = verify(email, send_code(email))

    assert response.json()["requiresProfile"] is True
    assert claims(response.json()["token"])["auth_identity_id"] == orphan.id
    assert (
        AuthIdentity.objects.filter(provider_identities__entity_id=email)
        .distinct()
        .count()
        == 1
    )


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
    # A password whose owner proved the mailbox (tests/otp/test_pre_registration.py
    # shows that an unproven one does not lift the stop).
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


def test_sdk_login_route_gives_a_token_or_a_401(api, email, send_code):
    customer = customer_create(email=email)
    code = send_code(email)

    bad = api.post(
        "/auth/customer/email-otp", {"email": email, "code": wrong(code)}, format="json"
    )
    good = api.post(
        "/auth/customer/email-otp", {"email": email, "code": code}, format="json"
    )

    assert bad.status_code == 401
    assert bad.json() == {"type": "unauthorized", "message": "Invalid code"}
    assert good.status_code == 200
    assert list(good.json()) == ["token"]
    assert claims(good.json()["token"])["actor_id"] == customer.id


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


def test_send_when_the_broker_is_down_is_503_and_leaves_no_challenge(
    api, email, broker_down
):
    response = api.post(SEND, {"email": email}, format="json")

    assert response.status_code == 503
    assert response.json()["type"] == "unavailable"
    assert not OtpChallenge.objects.filter(email=email).exists()


def test_per_ip_send_limit_in_redis(api, settings):
    settings.OTP_SEND_LIMIT_PER_IP = 2

    answers = [
        api.post(SEND, {"email": f"ip{n}@example.com"}, format="json") for n in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0
