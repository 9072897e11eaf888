"""Medusa's commerce routes take the tokens this server signs (one
JWT_SECRET), once the customer has a row in Medusa's `customer` table.

A customer signs up on the live stack, whose worker replicates it into
Medusa's database (replica/, docs/replication.md); the tests wait for that
row, then shop at the real Medusa with this server's token. The last test
shows why the row is needed. Request bodies are those of @medusajs/medusa
2.21.2 (dist/api/store/{carts,payment-collections}/validators.js).
"""

import pytest
from django.utils import timezone

from accounts.tokens import access_token_issue
from core.ids import new_auth_identity_id, new_customer_id
from tests.e2e.medusa_server import SIGNUP_PATHS

pytestmark = pytest.mark.medusa


@pytest.fixture(params=sorted(SIGNUP_PATHS))
def shopper(request, live, medusa, email, password):
    """Signed up here, each way a storefront can, and replicated into
    Medusa by the live worker."""
    customer = SIGNUP_PATHS[request.param](live, email, password)
    row = medusa.customer_wait(customer.id)
    assert (row["email"], row["has_account"]) == (email, True)
    return customer


def cart_create(medusa, token=None) -> dict:
    response = medusa.store(
        "POST", "/store/carts", token=token, json={"region_id": medusa.region["id"]}
    )
    assert response.status_code == 200, response.text
    return response.json()["cart"]


def test_medusa_knows_the_customer_by_our_token(medusa, shopper):
    response = medusa.store("GET", "/store/customers/me", token=shopper.token)

    assert response.status_code == 200, response.text
    customer = response.json()["customer"]
    assert (customer["id"], customer["email"]) == (shopper.id, shopper.email)
    assert customer["has_account"] is True


def test_a_cart_created_with_our_token_is_the_customers(medusa, shopper):
    cart = cart_create(medusa, shopper.token)

    assert cart["customer_id"] == shopper.id
    assert cart["email"] == shopper.email  # Medusa read the customer row
    assert cart["region_id"] == medusa.region["id"]


def test_a_guest_cart_is_transferred_to_the_customer_after_login(medusa, shopper):
    guest = cart_create(medusa)
    assert guest["customer_id"] is None

    response = medusa.store(
        "POST", f"/store/carts/{guest['id']}/customer", token=shopper.token, json={}
    )

    assert response.status_code == 200, response.text
    assert response.json()["cart"]["customer_id"] == shopper.id
    stored = medusa.db.execute(
        "SELECT customer_id FROM cart WHERE id = %s", (guest["id"],)
    ).fetchone()
    assert stored == {"customer_id": shopper.id}


def test_the_customers_orders_are_listed(medusa, shopper):
    response = medusa.store("GET", "/store/orders", token=shopper.token)

    assert response.status_code == 200, response.text
    assert response.json()["orders"] == []
    assert response.json()["count"] == 0


def test_a_payment_session_is_opened_for_the_customers_cart(medusa, shopper):
    cart = cart_create(medusa, shopper.token)
    collection = medusa.store(
        "POST",
        "/store/payment-collections",
        token=shopper.token,
        json={"cart_id": cart["id"]},
    )
    assert collection.status_code == 200, collection.text
    collection_id = collection.json()["payment_collection"]["id"]

    response = medusa.store(
        "POST",
        f"/store/payment-collections/{collection_id}/payment-sessions",
        token=shopper.token,
        json={"provider_id": "pp_system_default"},
    )

    assert response.status_code == 200, response.text
    [session] = response.json()["payment_collection"]["payment_sessions"]
    assert session["provider_id"] == "pp_system_default"
    assert session["context"]["customer"]["id"] == shopper.id


def test_without_its_row_in_medusa_the_customer_gets_no_cart(medusa):
    """Why the replicator is needed: Medusa accepts the token, then its
    cart workflow looks the customer up in its own table. The token is
    signed as the live server signs (accounts.tokens, the stack's one
    JWT_SECRET) for a customer Medusa has no row of."""
    customer_id = new_customer_id()
    token = access_token_issue(
        auth_identity_id=new_auth_identity_id(),
        customer_id=customer_id,
        auth_provider="emailpass",
        app_metadata={},
        user_metadata=None,
        generation=0,
        session_id="sess_none",
        now=timezone.now(),
    )

    response = medusa.store(
        "POST", "/store/carts", token=token, json={"region_id": medusa.region["id"]}
    )

    assert response.status_code == 404, response.text
    assert response.json() == {
        "type": "not_found",
        "message": f"Customer with id: {customer_id} was not found",
    }
