"""POST /store/customers, GET/POST /store/customers/me, token refresh."""

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import AuthIdentity, Customer
from tests.factories import customer_create, identity_create, token_for

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"

UNAUTHORIZED = {"message": "Unauthorized"}
WRONG_TYPE = (
    "Invalid request: Expected type: 'string' for field 'first_name', got: '123'"
)


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def registration_token(api, email, password) -> str:
    response = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": password},
        format="json",
    )
    return response.json()["token"]


def test_register_create_refresh_gives_an_actor_token(api, email, password):
    token = registration_token(api, email, password)

    created = api.post(
        "/store/customers",
        {
            "email": email,
            "first_name": "Pat",
            "last_name": "Probe",
            "metadata": {"a": 1},
        },
        format="json",
        **auth(token),
    )

    assert created.status_code == 200
    customer = created.json()["customer"]
    assert list(customer) == [
        "id",
        "email",
        "company_name",
        "first_name",
        "last_name",
        "phone",
        "metadata",
        "has_account",
        "deleted_at",
        "created_at",
        "updated_at",
        "addresses",
        "email_verified",  # ours, after Medusa's keys
    ]
    assert customer["email"] == email
    assert customer["has_account"] is True
    assert customer["email_verified"] is False
    assert customer["metadata"] == {"a": 1}
    assert customer["addresses"] == []
    assert customer["created_at"].endswith("Z")
    assert len(customer["created_at"]) == 24
    identity = AuthIdentity.objects.get(customer_id=customer["id"])
    assert identity.provider_identities.get().entity_id == email

    refreshed = api.post("/auth/token/refresh", **auth(token))

    assert refreshed.status_code == 200
    payload = jwt.decode(
        refreshed.json()["token"], settings.JWT_SECRET, algorithms=["HS256"]
    )
    assert payload["actor_id"] == customer["id"]
    assert payload["app_metadata"] == {"customer_id": customer["id"]}


def test_registration_token_cannot_read_me(api, email, password):
    token = registration_token(api, email, password)

    response = api.get("/store/customers/me", **auth(token))

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_second_create_with_the_same_registration_token_is_422(api, email, password):
    token = registration_token(api, email, password)
    api.post("/store/customers", {"email": email}, format="json", **auth(token))

    again = api.post("/store/customers", {"email": email}, format="json", **auth(token))

    assert again.status_code == 422
    assert again.json() == {
        "code": "invalid_request_error",
        "type": "duplicate_error",
        "message": "Customer with this email already has an account",
    }
    assert Customer.objects.filter(email=email).count() == 1


def test_create_with_an_actor_token_is_refused(api, email):
    customer = customer_create(email=email)

    response = api.post(
        "/store/customers", {"email": email}, format="json", **auth(token_for(customer))
    )

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Request already authenticated as a customer.",
    }


def test_create_with_another_email_is_refused(api, email, password):
    token = registration_token(api, email, password)

    response = api.post(
        "/store/customers",
        {"email": "someone.else@example.com"},
        format="json",
        **auth(token),
    )

    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data"
    assert not Customer.objects.filter(email="someone.else@example.com").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Email is required to create a customer"),
        ({"email": None}, "Email is required to create a customer"),
        ({"email": "nope"}, "Invalid request: Invalid email address"),
        (
            {"email": "a@example.com", "password": "x"},
            "Invalid request: Unrecognized fields: 'password'",
        ),
        (
            {"email": "a@example.com", "first_name": 123},
            WRONG_TYPE,
        ),
        (
            {"email": "a@example.com", "metadata": [1]},
            "Invalid request: Expected type: 'record' for field 'metadata', got: '1'",
        ),
    ],
)
def test_create_validation_errors(api, email, password, body, message):
    token = registration_token(api, email, password)

    response = api.post("/store/customers", body, format="json", **auth(token))

    assert response.status_code == 400
    assert response.json() == {"type": "invalid_data", "message": message}
    assert (
        AuthIdentity.objects.get(provider_identities__entity_id=email).customer_id
        is None
    )


def test_create_without_token_is_401_and_without_key_is_400(
    api, publishable_key, email
):
    no_token = api.post("/store/customers", {"email": email}, format="json")
    bare = APIClient()
    no_key = bare.post("/store/customers", {"email": email}, format="json")
    bad_key = bare.post(
        "/store/customers",
        {"email": email},
        format="json",
        HTTP_X_PUBLISHABLE_API_KEY="pk_nope",
    )

    assert (no_token.status_code, no_token.json()) == (401, UNAUTHORIZED)
    assert no_key.status_code == 400
    assert no_key.json()["type"] == "not_allowed"
    assert no_key.json()["message"].startswith(
        "Publishable API key required in the request header: x-publishable-api-key."
    )
    assert bad_key.json() == {
        "type": "not_allowed",
        "message": "A valid publishable key is required to proceed with the request",
    }


def test_revoked_publishable_key_is_refused(api, publishable_key, email):
    from django.utils import timezone

    from accounts.models import PublishableApiKey

    PublishableApiKey.objects.filter(token=publishable_key).update(
        revoked_at=timezone.now()
    )

    response = api.get("/store/customers/me")

    assert response.status_code == 400
    assert response.json()["type"] == "not_allowed"


def test_me_reads_the_customer(api, email):
    customer = customer_create(email=email, first_name="Pat")

    response = api.get("/store/customers/me", **auth(token_for(customer)))

    assert response.status_code == 200
    assert response.json()["customer"]["id"] == customer.id
    assert response.json()["customer"]["first_name"] == "Pat"


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        ("id,email", ["id", "email"]),
        ("id,password", ["id"]),
        ("nonexistent", ["id"]),
        ("*orders", None),
        ("-addresses", None),
    ],
)
def test_me_fields_selection(api, email, fields, keys):
    customer = customer_create(email=email)

    body = api.get(
        f"/store/customers/me?fields={fields}", **auth(token_for(customer))
    ).json()

    if fields == "*orders":
        assert body["customer"]["orders"] == []
        assert "addresses" in body["customer"]
    elif fields == "-addresses":
        assert "addresses" not in body["customer"]
        assert "email" in body["customer"]
    else:
        assert list(body["customer"]) == keys


def test_me_refuses_unknown_query_parameters(api, email):
    customer = customer_create(email=email)

    response = api.get("/store/customers/me?foo=bar", **auth(token_for(customer)))

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid request: Unrecognized fields: 'foo'",
    }


def test_me_update_merges_metadata_and_clears_nulls(api, email):
    customer = customer_create(
        email=email,
        first_name="Pat",
        company_name="Co",
        metadata={"keep": 1, "drop": 2},
    )
    headers = auth(token_for(customer))

    response = api.post(
        "/store/customers/me",
        {
            "first_name": "Patricia",
            "company_name": None,
            "metadata": {"drop": "", "tier": None, "new": "x"},
        },
        format="json",
        **headers,
    )

    assert response.status_code == 200
    body = response.json()["customer"]
    assert body["first_name"] == "Patricia"
    assert body["company_name"] is None
    assert body["metadata"] == {"keep": 1, "tier": None, "new": "x"}
    noop = api.post("/store/customers/me", {"metadata": {}}, format="json", **headers)
    assert noop.json()["customer"]["metadata"] == {"keep": 1, "tier": None, "new": "x"}
    cleared = api.post(
        "/store/customers/me", {"metadata": None}, format="json", **headers
    )
    assert cleared.json()["customer"]["metadata"] is None
    customer.refresh_from_db()
    assert customer.metadata is None
    assert customer.first_name == "Patricia"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "x@example.com"}, "Invalid request: Unrecognized fields: 'email'"),
        (
            {"first_name": 123},
            WRONG_TYPE,
        ),
    ],
)
def test_me_update_is_strict(api, email, body, message):
    customer = customer_create(email=email, first_name="Pat")

    response = api.post(
        "/store/customers/me", body, format="json", **auth(token_for(customer))
    )

    assert response.status_code == 400
    assert response.json() == {"type": "invalid_data", "message": message}
    customer.refresh_from_db()
    assert customer.first_name == "Pat"
    assert customer.email == email


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer garbage", "Basic abc", "Bearer a.b.c"],
)
def test_bad_authorization_headers_are_401(api, header):
    response = api.get("/store/customers/me", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_refresh_without_token_is_401(api):
    response = api.post("/auth/token/refresh")

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_token_of_a_deleted_identity_is_refused(api, email):
    identity = identity_create(email=email)
    token = token_for(identity)
    identity.delete()

    response = api.post("/auth/token/refresh", **auth(token))

    assert response.status_code == 401


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
