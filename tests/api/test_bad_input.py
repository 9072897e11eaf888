"""Bad input of every kind gets a 4xx JSON answer and changes nothing."""

import pytest

from accounts.models import AuthIdentity, ProviderIdentity
from tests.factories import customer_create, identity_create, token_for

pytestmark = pytest.mark.django_db

LOGIN = "/auth/customer/emailpass"

ROUTES = [
    "/auth/customer/emailpass/register",
    "/auth/customer/emailpass",
    "/auth/customer/emailpass/reset-password",
    "/store/customers",
    "/store/customers/me",
    "/store/auth/signup",
]

DEPTH = 5_000  # past the JSON decoder's recursion limit, under MAX_BODY_BYTES


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ('{"email":', "application/json"),
        ("null", "application/json"),
        ('"a string"', "application/json"),
        (
            '{"email": "a\\u0000b@example.com", "password": "x\\u0000y long enough"}',
            "application/json",
        ),
        (
            '{"email": "\\ud800@example.com", "password": "\\udfff long enough"}',
            "application/json",
        ),
        ("<xml/>", "application/xml"),
    ],
)
def test_malformed_bodies_are_4xx_json(api, email, path, raw, content_type):
    customer = customer_create(email=email)
    before = ProviderIdentity.objects.count()

    response = api.post(
        path,
        raw,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert 400 <= response.status_code < 500
    assert "message" in response.json()
    assert ProviderIdentity.objects.count() == before


@pytest.mark.parametrize("path", ROUTES)
def test_oversized_bodies_are_413(api, email, path):
    # /store/customers takes a registration token, /store/customers/me an actor's.
    customer = (
        identity_create(email=email)
        if path == "/store/customers"
        else customer_create(email=email)
    )
    body = '{"email": "a@example.com", "password": "' + "x" * 200_000 + '"}'

    response = api.post(
        path,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert response.status_code == 413
    assert response.json()["type"] == "invalid_data"


@pytest.mark.parametrize(
    "value",
    [
        "名前",
        "😀" * 10,
        "Zoë\u200d",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "a" * 255,
    ],
)
def test_odd_unicode_in_profile_fields_is_stored_verbatim(api, email, value):
    customer = customer_create(email=email)

    response = api.post(
        "/store/customers/me",
        {"first_name": value},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert response.status_code == 200
    assert response.json()["customer"]["first_name"] == value


def test_too_long_profile_field_is_400(api, email):
    customer = customer_create(email=email)

    response = api.post(
        "/store/customers/me",
        {"first_name": "a" * 256},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert response.status_code == 400


def test_deeply_nested_metadata_is_refused(api, email):
    customer = customer_create(email=email)
    nested: dict = {}
    for _ in range(40):
        nested = {"k": nested}

    response = api.post(
        "/store/customers/me",
        {"metadata": nested},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "email",
    [
        "a" * 250 + "@example.com",
        "two@@example.com",
        "spaces in@example.com",
        "@example.com",
    ],
)
def test_register_refuses_odd_emails(api, email):
    response = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": "long enough phrase"},
        format="json",
    )

    assert response.status_code == 400
    assert (
        AuthIdentity.objects.filter(provider_identities__entity_id=email).count() == 0
    )


def test_unknown_route_is_json_404(api):
    response = api.get("/store/nothing-here")

    assert response.status_code == 404
    assert response.json()["type"] == "not_found"


def test_wrong_method_is_json_405(api):
    response = api.get("/auth/customer/emailpass/register")

    assert response.status_code == 405
    assert response.json()["type"] == "not_allowed"


@pytest.mark.parametrize(
    "path",
    ["/auth/customer/emailpass", "/store/auth/signup", "/store/auth/otp/send"],
)
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_json_nested_past_the_recursion_limit_is_a_json_400(api, path, opening):
    closing = b"]" if opening == b"[" else b"}"
    body = opening * DEPTH + (b"1" if opening != b"[" else b"") + closing * DEPTH

    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid request: the body is nested too deeply",
    }


def test_an_unknown_format_query_parameter_is_ignored(api):
    # DRF answered 404 for ?format=<anything but json> on an existing route.
    response = api.post(
        "/auth/customer/emailpass?format=xml",
        {"email": "nobody@example.com", "password": "not the password"},
        format="json",
    )

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password"


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


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_non_finite_numbers_are_400(api, email, number):
    customer = customer_create(email=email)

    response = api.post(
        "/store/customers/me",
        '{"metadata": {"a": ' + number + "}}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}",
    )

    assert response.status_code == 400
