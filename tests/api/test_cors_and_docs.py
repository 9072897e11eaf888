"""GET /health, CORS per route family, the OpenAPI schema and docs page."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_health_is_ok_text(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.content == b"OK"


def test_health_details_report_redis(client):
    response = client.get("/health", HTTP_ACCEPT="application/json")

    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@override_settings(STORE_CORS=["http://shop.test"], AUTH_CORS=["http://auth.test"])
def test_cors_preflight_allows_the_sdk_headers_per_family(client):
    headers = {
        "HTTP_ORIGIN": "http://shop.test",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": (
            "content-type,authorization,x-publishable-api-key,x-medusa-locale"
        ),
    }

    store = client.options("/store/customers/me", **headers)
    auth = client.options("/auth/customer/emailpass", **headers)

    assert store.status_code == 204
    assert store["Access-Control-Allow-Origin"] == "http://shop.test"
    assert store["Access-Control-Allow-Credentials"] == "true"
    assert store["Access-Control-Allow-Headers"] == (
        "content-type,authorization,x-publishable-api-key,x-medusa-locale"
    )
    assert "access-control-request-headers" in store["Vary"].lower()
    assert "Access-Control-Allow-Origin" not in auth


@override_settings(
    STORE_CORS=[r"/\.vercel\.app$/", "http://shop.test", "/[/"],
    AUTH_CORS=[r"/^https:\/\/auth\.example\.com$/i"],
)
@pytest.mark.parametrize(
    ("path", "origin", "allowed"),
    [
        ("/store/customers/me", "https://my-shop.vercel.app", True),
        ("/store/customers/me", "https://vercel.app.evil.test", False),
        ("/store/customers/me", "http://shop.test", True),
        ("/store/customers/me", "/[/", True),  # no valid pattern: a plain origin
        ("/store/customers/me", "http://x.test/[", False),
        ("/auth/customer/emailpass", "HTTPS://AUTH.EXAMPLE.COM", True),
        ("/auth/customer/emailpass", "https://auth.example.com.evil.test", False),
        ("/auth/customer/emailpass", "https://my-shop.vercel.app", False),
    ],
)
def test_cors_entries_may_be_medusa_style_patterns(client, path, origin, allowed):
    preflight = client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-storefront-build",
    )

    assert preflight.status_code == 204
    assert (preflight.get("Access-Control-Allow-Origin") == origin) is allowed
    assert (
        preflight.get("Access-Control-Allow-Headers")
        == "content-type,x-storefront-build"
    ) is allowed


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


def test_admin_finds_customers_by_email_and_never_shows_hashes(client, email):
    from django.contrib.auth.models import User

    from accounts.models import ProviderIdentity
    from tests.factories import customer_create

    customer = customer_create(email=email)
    client.force_login(
        User.objects.create_superuser("root", password="pw-for-tests-only")
    )
    password_hash = ProviderIdentity.objects.get(entity_id=email).password_hash

    found = client.get("/admin/accounts/customer/", {"q": email}).content.decode()
    identity = client.get(
        f"/admin/accounts/authidentity/{customer.auth_identity.id}/change/"
    ).content.decode()

    assert customer.id in found
    assert email in identity
    assert password_hash not in identity
    assert "argon2" not in identity
