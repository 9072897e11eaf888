"""Medusa's PostgreSQL is a cluster of its own (tests/stack.py's
medusa-pg-stop and medusa-pg-start): while it is down, this server signs
customers up as usual; once it is back, the replica catches up and Medusa
serves the customer again."""

import pytest

from tests.e2e.medusa_server import signup_here
from tests.stack import ACTIONS

pytestmark = pytest.mark.medusa


def test_a_signup_while_medusas_database_is_down_reaches_it_once_back(
    live, medusa, email, password
):
    ACTIONS["medusa-pg-stop"]()
    try:
        health = live.get("/health")
        customer = signup_here(live, email, password)
    finally:
        ACTIONS["medusa-pg-start"]()

    assert (health.status_code, health.text) == (200, "OK")  # ours is up
    row = medusa.customer_wait(customer.id, timeout=60)
    assert row["email"] == email
    me = medusa.store("GET", "/store/customers/me", token=customer.token)
    assert me.status_code == 200, me.text
    assert me.json()["customer"]["id"] == customer.id
