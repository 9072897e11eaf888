"""What the OpenAPI schema promises about every route (the contract
tests/hardening/test_fuzz.py fuzzes against), and the schema and docs pages
served."""

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from tests.db_faults import refusing_trigger

pytestmark = pytest.mark.django_db


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
        "POST /store/auth/email/verify/send",
        "POST /store/auth/email/verify",
        "POST /store/auth/signup",
        "POST /store/customers",
        "GET /store/customers/me",
        "POST /store/customers/me",
        "POST /store/customers/me/password",
        "POST /store/customers/me/email",
        "POST /store/customers/me/email/confirm",
        "POST /store/auth/email/undo",
        "DELETE /store/customers/me",
        "GET /store/customers/me/export",
        "GET /store/customers/me/sessions",
        "DELETE /store/customers/me/sessions",
        "DELETE /store/customers/me/sessions/{session_id}",
        "GET /store/customers/me/providers",
        "POST /store/customers/me/providers/{provider}",
        "DELETE /store/customers/me/providers/{provider}",
        "GET /store/customers/me/addresses",
        "POST /store/customers/me/addresses",
        "GET /store/customers/me/addresses/{address_id}",
        "POST /store/customers/me/addresses/{address_id}",
        "DELETE /store/customers/me/addresses/{address_id}",
        "GET /health",
        "GET /metrics",
        # Each social login provider the settings name (./dev test: google).
        *(
            f"{method} /auth/customer/{provider}{tail}"
            for provider in settings.SOCIAL_LOGIN_PROVIDERS
            for method in ("GET", "POST")
            for tail in ("", "/callback")
        ),
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
        "POST /store/customers/me/password": [
            {"customerToken": []},
            {"sessionCookie": []},
        ],
        "DELETE /store/customers/me": [{"customerToken": []}, {"sessionCookie": []}],
        **{
            f"POST /store/customers/me/email{tail}": [
                {"customerToken": []},
                {"sessionCookie": []},
            ]
            for tail in ("", "/confirm")
        },
        **{
            route: [{"customerToken": []}, {"sessionCookie": []}]
            for route in (
                "GET /store/customers/me/export",
                "GET /store/customers/me/sessions",
                "DELETE /store/customers/me/sessions",
                "DELETE /store/customers/me/sessions/{session_id}",
                "GET /store/customers/me/providers",
                "POST /store/customers/me/providers/{provider}",
                "DELETE /store/customers/me/providers/{provider}",
            )
        },
        **{
            f"{method} /store/customers/me/addresses{tail}": [
                {"customerToken": []},
                {"sessionCookie": []},
            ]
            for method, tail in [
                ("GET", ""),
                ("POST", ""),
                ("GET", "/{address_id}"),
                ("POST", "/{address_id}"),
                ("DELETE", "/{address_id}"),
            ]
        },
        "POST /store/auth/email/verify/send": [
            {"customerToken": []},
            {"sessionCookie": []},
        ],
        # A code needs the customer's login; the link's token none.
        "POST /store/auth/email/verify": [
            {"customerToken": []},
            {"sessionCookie": []},
            {},
        ],
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


def test_openapi_schema_lists_the_routes(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/auth/customer/{provider}/register",
        "/store/customers",
        "/store/customers/me",
        "/store/auth/signup",
    ):
        assert path in paths


def test_docs_page_is_served(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_deleting_the_account_takes_exactly_one_proof(schema):
    body = schema["components"]["schemas"]["CustomerDeleteRequest"]
    request_body = schema["paths"]["/store/customers/me"]["delete"]["requestBody"]
    assert request_body["required"] is True

    assert body["oneOf"] == [{"required": ["password"]}, {"required": ["code"]}]
    assert body["additionalProperties"] is False


def test_the_export_is_a_download(schema):
    ok = schema["paths"]["/store/customers/me/export"]["get"]["responses"]["200"]

    assert ok["headers"]["Content-Disposition"]["required"] is True


def _kinds(answer) -> list[str]:
    body = answer.get("content", {}).get("application/json", {}).get("schema", {})
    return body.get("properties", {}).get("type", {}).get("enum", [])


def test_every_unavailable_answer_documents_its_retry_after(schema):
    """A 503 `unavailable` always carries Retry-After (core.errors): the
    schema says so on every route that can answer it."""
    unavailable = [
        (path, method, answer)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if (answer := operation["responses"].get("503"))
        and "unavailable" in _kinds(answer)
    ]

    assert len(unavailable) > 20
    for path, method, answer in unavailable:
        header = answer.get("headers", {}).get("Retry-After")
        assert header, (path, method)
        assert header["required"] is True
        assert header["schema"]["type"] == "integer"
    assert "headers" not in schema["paths"]["/health"]["get"]["responses"]["503"]


@pytest.mark.django_db(transaction=True)
def test_a_503_answer_carries_the_retry_after_it_documents(api, email):
    """The database refusing the write: the code send answers 503
    `unavailable` with the header the schema documents. Committed, as a
    request's statements are: its one statement refused, no transaction
    of the test's own is left aborted."""
    with refusing_trigger(table="otp_otpmail", event="INSERT"):
        response = api.post("/store/auth/otp/send", {"email": email}, format="json")

    assert response.status_code == 503
    assert response.json()["type"] == "unavailable"
    assert int(response["Retry-After"]) >= 1
