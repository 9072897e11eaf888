"""POST /store/auth/signup: identity, provider identity and customer at once."""

import jwt
import pytest
from django.conf import settings

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from tests.factories import customer_create, identity_create

pytestmark = pytest.mark.django_db

SIGNUP = "/store/auth/signup"


def test_signup_creates_all_three_rows_and_a_customer_token(api, email, password):
    response = api.post(
        SIGNUP,
        {"email": email.upper(), "password": password, "first_name": "Pat"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    customer = Customer.objects.get(id=body["customer"]["id"])
    assert customer.email == email
    assert customer.first_name == "Pat"
    identity = AuthIdentity.objects.get(customer=customer)
    assert identity.provider_identities.get().entity_id == email
    me = api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.json()["customer"]["id"] == customer.id


def test_signup_for_an_existing_customer_is_medusas_register_error(
    api, email, password
):
    customer_create(email=email, password=password)

    response = api.post(SIGNUP, {"email": email, "password": password}, format="json")

    assert response.status_code == 401
    assert response.json() == {
        "type": "unauthorized",
        "message": "Identity with email already exists",
    }
    assert Customer.objects.filter(email=email).count() == 1


def test_signup_completes_an_orphan_with_the_same_password(api, email, password):
    orphan = identity_create(email=email, password=password)

    response = api.post(SIGNUP, {"email": email, "password": password}, format="json")

    assert response.status_code == 200
    orphan.refresh_from_db()
    assert orphan.customer_id == response.json()["customer"]["id"]
    assert (
        AuthIdentity.objects.filter(provider_identities__entity_id=email).count() == 1
    )


def test_signup_does_not_complete_an_orphan_with_another_password(api, email, password):
    orphan = identity_create(email=email, password=password)

    response = api.post(
        SIGNUP, {"email": email, "password": "a different phrase"}, format="json"
    )

    assert response.status_code == 401
    orphan.refresh_from_db()
    assert orphan.customer_id is None


@pytest.fixture
def swept_after_the_read(monkeypatch):
    """The sweep deletes the orphan right after the signup read it, before
    the signup locks it (the race's window)."""
    from accounts import selectors

    read = selectors.provider_identity_get

    def then_swept(**lookup):
        found = read(**lookup)
        if found is not None:
            AuthIdentity.objects.filter(pk=found.auth_identity_id).delete()
        return found

    monkeypatch.setattr(selectors, "provider_identity_get", then_swept)


@pytest.mark.parametrize("route", [SIGNUP, "/auth/customer/emailpass/register"])
def test_a_sign_up_that_meets_the_sweep_starts_afresh(
    api, email, password, route, swept_after_the_read
):
    orphan = identity_create(email=email, password=password)

    response = api.post(route, {"email": email, "password": password}, format="json")

    assert response.status_code == 200, response.json()
    identity = AuthIdentity.objects.get(provider_identities__entity_id=email)
    assert identity.pk != orphan.pk
    claims = jwt.decode(
        response.json()["token"], settings.JWT_SECRET, algorithms=["HS256"]
    )
    assert claims["auth_identity_id"] == identity.pk
    if route == SIGNUP:
        assert identity.customer_id == response.json()["customer"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"password": "long enough phrase"},
            400,
            "Invalid request: Field 'email' is required",
        ),
        (
            {"email": "x@example.com"},
            400,
            "Invalid request: Field 'password' is required",
        ),
        (
            {"email": "nope", "password": "long enough phrase"},
            400,
            "Invalid email address",
        ),
        ({"email": "x@example.com", "password": "short"}, 400, None),
        (
            {"email": "x@example.com", "password": "long enough phrase", "admin": True},
            400,
            "Invalid request: Unrecognized fields: 'admin'",
        ),
    ],
)
def test_signup_refuses_bad_input_and_writes_nothing(api, body, status, message):
    response = api.post(SIGNUP, body, format="json")

    assert response.status_code == status
    assert response.json()["type"] == "invalid_data"
    if message:
        assert response.json()["message"] == message
    assert not ProviderIdentity.objects.filter(entity_id="x@example.com").exists()
    assert not Customer.objects.filter(email="x@example.com").exists()


def test_a_database_failure_while_signing_the_token_writes_nothing(
    api, email, password, monkeypatch
):
    """The token is signed in the sign-up's transaction: a 503 means no row
    was kept, so the client's retry signs up (it would otherwise meet its own
    account and get 401 `Identity with email already exists`)."""
    from django.db import OperationalError

    from accounts.services import login_sessions

    def connection_lost(**kwargs):
        raise OperationalError("the connection was lost")

    with monkeypatch.context() as patch:
        patch.setattr(login_sessions, "access_token_issue", connection_lost)
        failed = api.post(SIGNUP, {"email": email, "password": password}, format="json")
    retried = api.post(SIGNUP, {"email": email, "password": password}, format="json")

    assert failed.status_code == 503
    assert retried.status_code == 200, retried.content
    assert Customer.objects.filter(email=email).count() == 1
    assert ProviderIdentity.objects.filter(entity_id=email).count() == 1
