"""OTP send and verify take an address in any of its forms (spaces, case,
a full-width domain) to the one account it names."""

import pytest

from accounts.models import AuthIdentity, ProviderIdentity
from tests.factories import customer_create, fullwidth_domain
from tests.otp.conftest import SEND, mailed_code

pytestmark = pytest.mark.django_db


def test_a_code_asked_for_a_look_alike_is_mailed_to_and_logs_into_the_account(
    api, email, verify
):
    customer = customer_create(email=email)

    sent = api.post(
        SEND, {"email": f" {fullwidth_domain(email).upper()}\u00a0"}, format="json"
    )
    code = mailed_code(email)
    response = verify(f"  {email.title()} ", code)

    assert sent.status_code == 200
    assert response.status_code == 200, response.content
    assert response.json()["isNewUser"] is False
    assert response.json()["customer"]["id"] == customer.id


def test_verify_with_a_look_alike_finds_the_code_sent_to_the_address(
    api, email, send_code, verify
):
    code = send_code(email)

    response = verify(fullwidth_domain(email), code)

    assert response.status_code == 200, response.content
    assert response.json()["isNewUser"] is True
    identity = AuthIdentity.objects.get()
    assert list(
        ProviderIdentity.objects.filter(auth_identity=identity).values_list(
            "entity_id", flat=True
        )
    ) == [email]


def test_the_sdk_route_logs_a_look_alike_into_the_account(api, email, send_code):
    customer = customer_create(email=email)
    code = send_code(email)

    response = api.post(
        "/auth/customer/email-otp",
        {"email": fullwidth_domain(email), "code": code},
        format="json",
    )

    assert response.status_code == 200, response.content
    identity = customer.auth_identity
    identity.refresh_from_db()
    assert identity.provider_identities.filter(provider="email-otp").exists()
