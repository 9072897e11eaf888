"""Defects found in review, each pinned by a test from outside."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, PasswordResetToken
from core.ratelimit import client_ip
from orphans.models import OrphanEvent
from tests.factories import customer_create, registration_token

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"
LOGIN = "/auth/customer/emailpass"


@pytest.mark.parametrize("accept", ["text/plain", "text/html", "application/xml"])
def test_any_accept_header_gets_the_json_answer_not_an_error(api, email, accept):
    reset = api.post(
        "/auth/customer/emailpass/reset-password",
        {"identifier": email},
        format="json",
        HTTP_ACCEPT=accept,
    )
    login = api.post(
        LOGIN,
        {"email": email, "password": "whatever it is"},
        format="json",
        HTTP_ACCEPT=accept,
    )

    assert (reset.status_code, reset.content) == (201, b"Created")
    assert login.status_code == 401
    assert login.json()["message"] == "Invalid email or password"


def test_query_string_is_checked_before_the_customer_is_created(api, email, password):
    token = registration_token(api, email, password)

    refused = api.post(
        "/store/customers?foo=bar",
        {"email": email},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert refused.status_code == 400
    assert not Customer.objects.filter(email=email).exists()


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_non_finite_numbers_are_400(api, email, number):
    customer = customer_create(email=email)
    from tests.factories import token_for

    response = api.post(
        "/store/customers/me",
        '{"metadata": {"a": ' + number + "}}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert response.status_code == 400


def test_one_client_retrying_bad_input_counts_one_orphan_event(api, email, password):
    token = api.post(
        REGISTER, {"email": email, "password": password}, format="json"
    ).json()["token"]

    for _ in range(5):
        api.post(
            "/store/customers",
            {"nope": 1},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert OrphanEvent.objects.count() == 1


def test_failed_logins_are_throttled_per_email_and_client(api, email, settings):
    settings.LOGIN_FAILURES_PER_EMAIL_CLIENT = 3

    answers = [
        api.post(LOGIN, {"email": email, "password": "guess number n"}, format="json")
        for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[3].json()["type"] == "too_many_requests"
    assert int(answers[3]["Retry-After"]) > 0


def test_reset_requests_are_throttled_per_email(api, email):
    answers = [
        api.post(
            "/auth/customer/emailpass/reset-password",
            {"identifier": email},
            format="json",
        )
        for _ in range(settings.RESET_LIMIT_PER_EMAIL + 1)
    ]

    assert answers[-1].status_code == 429
    assert {a.status_code for a in answers[:-1]} == {201}


def test_signups_are_throttled_per_ip(api, settings, password):
    settings.SIGNUP_LIMIT_PER_IP = 2

    answers = [
        api.post(
            REGISTER,
            {"email": f"ip{n}@example.com", "password": password},
            format="json",
        )
        for n in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]


def test_client_ip_trusts_only_the_configured_proxies(settings):
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2"
    )

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"


def test_reset_request_does_no_account_work_in_the_request(api, email, broker_down):
    customer_create(email=email)

    response = api.post(
        "/auth/customer/emailpass/reset-password", {"identifier": email}, format="json"
    )

    assert response.status_code == 201
    assert not PasswordResetToken.objects.exists()


def test_mail_failures_do_not_quote_the_recipient(settings, email):
    from core.mail import MailNotDelivered, templated_mail_send

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    with pytest.raises(MailNotDelivered) as raised:
        templated_mail_send(
            templates="otp/email/", context={"code": "1", "minutes": 1}, to=email
        )

    assert email not in str(raised.value)
    assert mail.outbox == []


def test_duplicate_error_keys_are_in_medusas_order(api, email, password):
    token = api.post(
        REGISTER, {"email": email, "password": password}, format="json"
    ).json()["token"]
    api.post(
        "/store/customers",
        {"email": email},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    again = api.post(
        "/store/customers",
        {"email": email},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert list(again.json()) == ["code", "type", "message"]


def test_a_resumed_signup_is_not_swept_under_its_token(api, email, password):
    from orphans import services
    from orphans.models import Trigger
    from tests.orphans.conftest import DAY, OLD, orphan_create

    orphan = orphan_create(email=email, age=OLD)
    # The owner comes back 25 hours later and registers again to finish.
    resumed = api.post(REGISTER, {"email": email, "password": password}, format="json")

    services.orphans_sweep(
        older_than=DAY, batch_size=10, trigger=Trigger.COMMAND, now=timezone.now()
    )

    assert resumed.status_code == 200
    assert AuthIdentity.objects.filter(pk=orphan.pk).exists()


def test_medusa_hashes_with_stronger_parameters_verify(api, email):
    import os

    from accounts.hashers import medusa_scrypt_blob
    from accounts.models import Provider, ProviderIdentity

    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity,
        provider=Provider.EMAILPASS,
        entity_id=email,
        password_hash="medusa_scrypt$"
        + medusa_scrypt_blob("strong params", salt=os.urandom(32), log_n=16),
    )

    response = api.post(
        LOGIN, {"email": email, "password": "strong params"}, format="json"
    )

    assert response.status_code == 200


def test_expired_reset_tokens_are_purged(email):
    from accounts.tasks import expired_credentials_purge_task

    customer = customer_create(email=email)
    provider_identity = customer.auth_identity.provider_identities.get()
    now = timezone.now()
    PasswordResetToken.objects.create(
        provider_identity=provider_identity,
        token_hash="a" * 64,
        created_at=now - timedelta(hours=1),
        expires_at=now - timedelta(minutes=1),
    )

    expired_credentials_purge_task()

    assert not PasswordResetToken.objects.exists()
