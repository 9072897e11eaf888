"""Defects the schemathesis fuzzing (tests/hardening/test_fuzz.py) found,
and what the OpenAPI schema promises about every route."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

DEPTH = 5_000  # past the JSON decoder's recursion limit, under MAX_BODY_BYTES


@pytest.mark.parametrize(
    "path",
    ["/auth/customer/emailpass", "/store/auth/signup", "/store/auth/otp/send"],
)
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_json_nested_past_the_recursion_limit_is_400_not_500(api, path, opening):
    closing = b"]" if opening == b"[" else b"}"
    body = opening * DEPTH + (b"1" if opening != b"[" else b"") + closing * DEPTH

    response = api.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid request: the body is nested too deeply",
    }


@pytest.mark.parametrize("path", ["/health", "/metrics"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "trace"])
def test_health_and_metrics_answer_other_methods_405_json(client, path, method):
    # Was 200 for any method (and 403, the CSRF page, for unsafe ones).
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["type"] == "not_allowed"


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_health_and_metrics_answer_head(client, path):
    assert client.head(path).status_code == 200


def test_an_unknown_format_query_parameter_is_ignored(api):
    # DRF answered 404 for ?format=<anything but json> on an existing route.
    response = api.post(
        "/auth/customer/emailpass?format=xml",
        {"email": "nobody@example.com", "password": "not the password"},
        format="json",
    )

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password"


def test_the_schema_is_still_served_as_json_with_format_json(client):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)


def test_the_schema_documents_every_route(schema):
    operations = {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
    }

    assert operations == {
        "POST /auth/customer/{provider}",
        "POST /auth/customer/{provider}/register",
        "POST /auth/customer/{provider}/reset-password",
        "POST /auth/customer/{provider}/update",
        "POST /auth/customer/email-otp",
        "GET /auth/customer/providers",
        "POST /auth/session",
        "DELETE /auth/session",
        "POST /auth/token/refresh",
        "POST /store/auth/otp/send",
        "POST /store/auth/otp/verify",
        "POST /store/auth/signup",
        "POST /store/customers",
        "GET /store/customers/me",
        "POST /store/customers/me",
        "GET /health",
        "GET /metrics",
    }


def test_store_routes_require_the_publishable_key_header(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            headers = {
                parameter["name"]: parameter["required"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "header"
            }
            expected = (
                {"x-publishable-api-key": True} if path.startswith("/store/") else {}
            )
            assert headers == expected, (method, path)


def test_protected_routes_name_their_credentials(schema):
    security = {
        f"{method.upper()} {path}": operation.get("security")
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }

    assert security == {
        "POST /auth/customer/{provider}/update": [{"resetToken": []}],
        "POST /auth/session": [{"customerToken": []}, {"registrationToken": []}],
        "DELETE /auth/session": [{"sessionCookie": []}],
        "POST /auth/token/refresh": [
            {"customerToken": []},
            {"registrationToken": []},
            {"sessionCookie": []},
        ],
        "POST /store/customers": [{"registrationToken": []}, {"sessionCookie": []}],
        "GET /store/customers/me": [{"customerToken": []}, {"sessionCookie": []}],
        "POST /store/customers/me": [{"customerToken": []}, {"sessionCookie": []}],
        "GET /metrics": [{"metricsToken": []}, {}],
    }
    assert set(schema["components"]["securitySchemes"]) == {
        "customerToken",
        "registrationToken",
        "resetToken",
        "sessionCookie",
        "metricsToken",
    }


def test_reset_password_documents_its_text_plain_201(schema):
    responses = schema["paths"]["/auth/customer/{provider}/reset-password"]["post"][
        "responses"
    ]

    assert list(responses["201"]["content"]) == ["text/plain"]
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_middleware_401s_are_documented_bare(schema):
    unauthorized = schema["paths"]["/store/customers/me"]["get"]["responses"]["401"]
    body = unauthorized["content"]["application/json"]["schema"]

    assert body["required"] == ["message"]
    assert "type" not in body["properties"]
