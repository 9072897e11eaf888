"""POST /auth/customer/emailpass/register and POST /auth/customer/emailpass."""

import jwt
import pytest
from django.conf import settings

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from tests.factories import customer_create, identity_create

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"
LOGIN = "/auth/customer/emailpass"
CLAIM_ORDER = [
    "actor_id",
    "actor_type",
    "auth_identity_id",
    "auth_provider",
    "mfa_enabled",
    "mfa_challenge_completed_at",
    "app_metadata",
    "user_metadata",
    "iat",
    "exp",
    "gen",  # ours, after Medusa's: the revocation generation
    "sid",  # ours: the login session
]


def claims(token: str) -> dict:
    return jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])


def test_register_creates_identity_and_returns_registration_token(api, email, password):
    response = api.post(REGISTER, {"email": email, "password": password}, format="json")

    assert response.status_code == 200
    payload = claims(response.json()["token"])
    assert list(payload) == CLAIM_ORDER
    assert payload["actor_id"] == ""
    assert payload["actor_type"] == "customer"
    assert payload["auth_provider"] == "emailpass"
    assert payload["app_metadata"] == {}
    assert payload["user_metadata"] == {}
    assert payload["exp"] - payload["iat"] == 86400
    assert jwt.get_unverified_header(response.json()["token"]) == {
        "alg": "HS256",
        "typ": "JWT",
    }
    identity = AuthIdentity.objects.get(id=payload["auth_identity_id"])
    assert identity.customer_id is None
    provider_identity = identity.provider_identities.get()
    assert provider_identity.entity_id == email
    assert provider_identity.password_hash.startswith(
        "argon2$argon2id$v=19$m=19456,t=2,p=1$"
    )


def test_register_normalizes_the_email(api, email, password):
    response = api.post(
        REGISTER, {"email": f"  {email.upper()} ", "password": password}, format="json"
    )

    assert response.status_code == 200
    assert ProviderIdentity.objects.filter(entity_id=email).count() == 1


def test_register_again_with_same_password_resumes_the_unfinished_signup(
    api, email, password
):
    first = api.post(REGISTER, {"email": email, "password": password}, format="json")
    again = api.post(
        REGISTER, {"email": email.upper(), "password": password}, format="json"
    )

    assert again.status_code == 200
    assert (
        claims(again.json()["token"])["auth_identity_id"]
        == claims(first.json()["token"])["auth_identity_id"]
    )
    assert (
        AuthIdentity.objects.filter(provider_identities__entity_id=email).count() == 1
    )


def test_register_again_with_another_password_is_refused(api, email, password):
    api.post(REGISTER, {"email": email, "password": password}, format="json")

    response = api.post(
        REGISTER, {"email": email, "password": "another pass phrase"}, format="json"
    )

    assert response.status_code == 401
    assert response.json() == {
        "type": "unauthorized",
        "message": "Identity with email already exists",
    }


def test_register_after_the_customer_exists_is_refused(api, email, password):
    customer_create(email=email, password=password)

    response = api.post(REGISTER, {"email": email, "password": password}, format="json")

    assert response.status_code == 401
    assert response.json()["message"] == "Identity with email already exists"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "a@example.com"}, "Password should be a string"),
        ({"email": "a@example.com", "password": ""}, "Password should be a string"),
        (
            {"email": "a@example.com", "password": 12345678},
            "Password should be a string",
        ),
        ({"password": "long enough pass"}, "Email should be a string"),
        (
            {"email": ["a@example.com"], "password": "long enough pass"},
            "Email should be a string",
        ),
        ([], "Password should be a string"),
        ({}, "Password should be a string"),
    ],
)
@pytest.mark.parametrize("path", [REGISTER, LOGIN])
def test_missing_or_mistyped_credentials_are_medusas_401(api, path, body, message):
    before = AuthIdentity.objects.count()

    response = api.post(path, body, format="json")

    assert response.status_code == 401
    assert response.json() == {"type": "unauthorized", "message": message}
    assert AuthIdentity.objects.count() == before


def test_register_refuses_a_malformed_email(api, password):
    response = api.post(
        REGISTER, {"email": "notanemail", "password": password}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid email address",
    }
    assert not ProviderIdentity.objects.filter(entity_id="notanemail").exists()


@pytest.mark.parametrize("weak", ["short", "12345678901", "password123"])
def test_register_refuses_a_weak_password(api, email, weak):
    response = api.post(REGISTER, {"email": email, "password": weak}, format="json")

    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data"
    assert "Password" in response.json()["message"]
    assert not ProviderIdentity.objects.filter(entity_id=email).exists()


def test_register_accepts_a_url_encoded_body(api, email, password):
    from urllib.parse import urlencode

    response = api.post(
        REGISTER,
        urlencode({"email": email, "password": password}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200


def test_unknown_provider_is_401(api, email, password):
    response = api.post(
        "/auth/customer/nosuchprovider/register",
        {"email": email, "password": password},
        format="json",
    )

    assert response.status_code == 401
    assert (
        "Unable to retrieve the auth provider with id: nosuchprovider"
        in (response.json()["message"])
    )


def test_login_returns_a_customer_token(api, email, password):
    customer = customer_create(email=email, password=password)

    response = api.post(
        LOGIN, {"email": email.upper(), "password": password}, format="json"
    )

    assert response.status_code == 200
    payload = claims(response.json()["token"])
    assert payload["actor_id"] == customer.id
    assert payload["app_metadata"] == {"customer_id": customer.id}
    assert list(payload) == CLAIM_ORDER


def test_login_before_the_customer_exists_gives_an_actorless_token(
    api, email, password
):
    identity_create(email=email, password=password)

    response = api.post(LOGIN, {"email": email, "password": password}, format="json")

    assert response.status_code == 200
    assert claims(response.json()["token"])["actor_id"] == ""


def test_unknown_email_and_wrong_password_get_the_same_answer(api, email, password):
    customer_create(email=email, password=password)

    wrong = api.post(
        LOGIN, {"email": email, "password": "not the password"}, format="json"
    )
    unknown = api.post(
        LOGIN, {"email": "nobody@example.com", "password": password}, format="json"
    )

    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"type": "unauthorized", "message": "Invalid email or password"}
    )


def test_a_customer_count_is_unchanged_by_login(api, email, password):
    customer_create(email=email, password=password)

    api.post(LOGIN, {"email": email, "password": password}, format="json")

    assert Customer.objects.filter(email=email).count() == 1
