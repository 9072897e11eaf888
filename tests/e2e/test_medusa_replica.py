"""Edits made here reach the real Medusa within seconds, through the live
worker: the profile, and the address book's create, update and delete,
read back through Medusa's own store API with this server's token."""

import time

import pytest

from tests.e2e.medusa_server import signup_here

pytestmark = pytest.mark.medusa

ADDRESSES = "/store/customers/me/addresses"


def medusa_me_when(medusa, token, condition, timeout=10.0):
    """Medusa's `GET /store/customers/me` once `condition` holds of it."""
    deadline = time.monotonic() + timeout
    while True:
        answer = medusa.store(
            "GET", "/store/customers/me", token=token, params={"fields": "*addresses"}
        )
        assert answer.status_code == 200, answer.text
        customer = answer.json()["customer"]
        if condition(customer):
            return customer
        if time.monotonic() > deadline:
            raise AssertionError(f"Medusa still answers {customer} after {timeout}s")
        time.sleep(0.1)


def test_profile_and_address_edits_reach_medusa(live, medusa, email, password):
    shopper = signup_here(live, email, password)
    medusa.customer_wait(shopper.id)

    edited = live.post(
        "/store/customers/me", token=shopper.token, json={"first_name": "Ada"}
    )
    assert edited.status_code == 200, edited.text
    medusa_me_when(medusa, shopper.token, lambda c: c["first_name"] == "Ada")

    created = live.post(
        ADDRESSES,
        token=shopper.token,
        json={"city": "Berlin", "country_code": "de", "is_default_shipping": True},
    )
    assert created.status_code == 200, created.text
    [address] = created.json()["customer"]["addresses"]
    seen = medusa_me_when(medusa, shopper.token, lambda c: len(c["addresses"]) == 1)
    assert seen["addresses"][0]["id"] == address["id"]
    assert seen["addresses"][0]["is_default_shipping"] is True

    updated = live.post(
        f"{ADDRESSES}/{address['id']}", token=shopper.token, json={"city": "Bonn"}
    )
    assert updated.status_code == 200, updated.text
    medusa_me_when(medusa, shopper.token, lambda c: c["addresses"][0]["city"] == "Bonn")

    deleted = live.request(
        "DELETE", f"{ADDRESSES}/{address['id']}", token=shopper.token
    )
    assert deleted.status_code == 200, deleted.text
    medusa_me_when(medusa, shopper.token, lambda c: c["addresses"] == [])
