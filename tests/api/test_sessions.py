"""POST/DELETE /auth/session: the SDK's cookie session mode."""

import pytest

from tests.factories import customer_create, token_for

pytestmark = pytest.mark.django_db


def test_session_create_use_and_delete(api, email):
    customer = customer_create(email=email)
    token = token_for(customer)

    created = api.post("/auth/session", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert created.status_code == 200
    assert created.json()["user"]["actor_id"] == customer.id
    cookie = created.cookies["connect.sid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    me = api.get("/store/customers/me")
    assert me.status_code == 200
    assert me.json()["customer"]["id"] == customer.id

    deleted = api.delete("/auth/session")

    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert api.get("/store/customers/me").status_code == 401
    assert api.delete("/auth/session").status_code == 401


def test_session_create_needs_a_valid_bearer(api):
    assert api.post("/auth/session").json() == {"message": "Unauthorized"}
    assert (
        api.post("/auth/session", HTTP_AUTHORIZATION="Bearer x.y.z").status_code == 401
    )


def test_a_forged_session_cookie_is_ignored(api, email):
    api.cookies["connect.sid"] = "forged-session-key:signature"

    assert api.get("/store/customers/me").status_code == 401


def test_cookie_session_updates_refuse_form_posts(api, email):
    """A cross-site form cannot post JSON: cookie-authenticated writes only
    take JSON (CSRF)."""
    customer = customer_create(email=email, first_name="Pat")
    api.post("/auth/session", HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}")

    response = api.post(
        "/store/customers/me",
        "first_name=Mallory",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    customer.refresh_from_db()
    assert customer.first_name == "Pat"
