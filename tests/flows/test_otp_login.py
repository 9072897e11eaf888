"""OTP login across the apps (flows/otp_login.py): every row of seed 003's
edge table, from a new address to an orphan identity, and the SDK route."""

import jwt
import pytest
from django.conf import settings

from accounts.models import AuthIdentity, ProviderIdentity
from tests.factories import (
    customer_create,
    identity_create,
    profile_create,
    registration_token,
)
from tests.otp.conftest import time_passes, wrong

pytestmark = pytest.mark.django_db


def claims(token):
    return jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])


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


@pytest.mark.parametrize(
    "account", ["a password login", "no login at all", "a code login already"]
)
def test_a_code_login_answers_with_the_customers_addresses(
    api, email, send_code, verify, account
):
    """The returning code user's addresses come with its login's read
    (accounts.selectors.provider_identity_with_addresses_get); a customer
    whose identity or code login is made by this very login has its
    addresses read after."""
    from accounts.models import Customer, CustomerAddress

    if account == "no login at all":
        customer = Customer.objects.create(email=email, has_account=True)
    else:
        customer = customer_create(email=email)
    if account == "a code login already":
        verify(email, send_code(email))
        time_passes(61, email=email)
    made = [
        CustomerAddress.objects.create(customer=customer, city=city)
        for city in ("Oslo", "Bergen")
    ]

    response = verify(email, send_code(email))

    assert response.status_code == 200
    listed = response.json()["customer"]["addresses"]
    assert [(a["id"], a["city"]) for a in listed] == sorted(
        (a.id, a.city) for a in made
    )
