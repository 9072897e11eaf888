"""Every way a customer or an address changes through the API reaches
Medusa's tables (the drain runs eagerly after commit here; the live stack's
worker does it in tests/e2e/test_medusa_checkout.py)."""

import pytest

from tests.factories import profile_create
from tests.otp.conftest import send_code, verify

__all__ = ["send_code", "verify"]

ME = "/store/customers/me"
ADDRESSES = "/store/customers/me/addresses"


@pytest.fixture
def medusa_customer(medusa_db):
    def read(customer_id):
        return medusa_db.execute(
            "SELECT email, first_name, last_name, has_account FROM customer "
            "WHERE id = %s",
            [customer_id],
        ).fetchone()

    return read


@pytest.fixture
def medusa_addresses(medusa_db):
    def read(customer_id):
        return medusa_db.execute(
            "SELECT id, city, is_default_shipping FROM customer_address "
            "WHERE customer_id = %s ORDER BY id",
            [customer_id],
        ).fetchall()

    return read


def test_one_step_signup(
    transactional_db, api, email, password, replica, medusa_customer
):
    answer = api.post(
        "/store/auth/signup",
        {"email": email, "password": password, "first_name": "Pat"},
        format="json",
    )

    assert answer.status_code == 200
    assert medusa_customer(answer.json()["customer"]["id"]) == {
        "email": email,
        "first_name": "Pat",
        "last_name": None,
        "has_account": True,
    }


def test_a_code_login_then_the_profile_step(
    transactional_db, api, email, replica, medusa_customer, send_code, verify
):
    login = verify(email, send_code(email))
    answer = profile_create(api, login.json()["token"], email, first_name="Otto")

    assert login.json()["isNewUser"] is True
    assert answer.status_code == 200
    row = medusa_customer(answer.json()["customer"]["id"])
    assert row["email"] == email
    assert row["first_name"] == "Otto"
    assert row["has_account"] is True


def test_profile_and_address_book_edits(
    transactional_db, api, email, password, replica, medusa_customer, medusa_addresses
):
    signup = api.post(
        "/store/auth/signup", {"email": email, "password": password}, format="json"
    ).json()
    customer_id = signup["customer"]["id"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {signup['token']}")

    assert api.post(ME, {"last_name": "Lovelace"}, format="json").status_code == 200
    created = api.post(
        ADDRESSES, {"city": "Oslo", "is_default_shipping": True}, format="json"
    )
    address_id = created.json()["customer"]["addresses"][0]["id"]
    assert medusa_customer(customer_id)["last_name"] == "Lovelace"
    assert medusa_addresses(customer_id) == [
        {"id": address_id, "city": "Oslo", "is_default_shipping": True}
    ]

    updated = api.post(f"{ADDRESSES}/{address_id}", {"city": "Bergen"}, format="json")
    assert updated.status_code == 200
    assert medusa_addresses(customer_id)[0]["city"] == "Bergen"

    assert api.delete(f"{ADDRESSES}/{address_id}").status_code == 200
    assert medusa_addresses(customer_id) == []
