"""Pre-registration takeover: someone registers the victim's address with
their own password before the victim signs up by e-mailed code. Proving the
mailbox disables a password nobody proved, and refuses the squatter's
tokens."""

import pytest

from accounts.models import AuthIdentity
from tests.factories import profile_create
from tests.otp.conftest import SEND

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"
LOGIN = "/auth/customer/emailpass"
SQUATTER_PASSWORD = "the squatters passphrase"


def test_a_squatters_password_dies_when_the_owner_proves_the_mailbox(
    api, email, send_code, verify, monkeypatch
):
    # The squatter registers a few seconds before the owner signs up by code.
    from datetime import timedelta

    from django.utils import timezone

    earlier = timezone.now() - timedelta(seconds=5)
    with monkeypatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: earlier)
        squatter = api.post(
            REGISTER, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
        ).json()["token"]
    owner = verify(email, send_code(email)).json()
    created = profile_create(api, owner["token"], email)

    login = api.post(
        LOGIN, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
    )
    refresh = api.post("/auth/token/refresh", HTTP_AUTHORIZATION=f"Bearer {squatter}")

    assert created.status_code == 200
    assert login.status_code == 401
    assert refresh.status_code == 401
    assert AuthIdentity.objects.get(
        customer_id=created.json()["customer"]["id"]
    ).email_verified_at


def test_a_proven_password_survives_otp_logins(api, email, password, send_code, verify):
    from tests.factories import customer_create

    customer_create(email=email, password=password)
    AuthIdentity.objects.filter(provider_identities__entity_id=email).update(
        email_verified_at="2026-01-01T00:00:00Z"
    )

    verify(email, send_code(email))

    assert (
        api.post(
            LOGIN, {"email": email, "password": password}, format="json"
        ).status_code
        == 200
    )


def test_a_squatters_password_login_does_not_lift_the_otp_hard_stop(api, email):
    """Otherwise a squatter could guess the owner's codes for ever: 100
    wrong codes, one login with their own password, 100 more."""
    from otp.models import OtpFailureBudget

    api.post(REGISTER, {"email": email, "password": SQUATTER_PASSWORD}, format="json")
    OtpFailureBudget.objects.create(email=email, consecutive_failures=100)

    login = api.post(
        LOGIN, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
    )
    send = api.post(SEND, {"email": email}, format="json")

    assert login.status_code == 200
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 100
    assert send.status_code == 429
