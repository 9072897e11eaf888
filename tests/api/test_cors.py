"""CORS per route family (STORE_CORS, AUTH_CORS), as Medusa configures it."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


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
