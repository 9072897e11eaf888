"""The replication benchmark's changes are real changes: each kind, made
the way its direct steps make them (the services the routes call), lands
in our tables with the value its poller then looks for in Medusa's, and
records the customer in the outbox for the drain. (No timing here.)"""

import random

import pytest
from django.db import connection

from accounts.models import Customer, CustomerAddress
from bench import load_addresses, load_data, replica_lag
from replica.models import Change

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(loaded):
    # The loader turned the replica's triggers off for this transaction.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL storefront.replica = 'on'")
    books = {
        i: load_addresses.address_ids(i)
        for i in range(1, loaded.n + 1)
        if not loaded.is_orphan(i)
    }
    return replica_lag.Customers(books, random.Random(5))


def _shown(change: replica_lag.Change) -> bool:
    """What the poller checks in Medusa, checked in our tables."""
    if change.table == "customer":
        value = Customer.objects.get(id=change.key).last_name
        return value == change.marker
    address = CustomerAddress.objects.filter(id=change.key).first()
    if change.marker is None:
        return address is None
    return address is not None and address.address_2 == change.marker


def test_each_kind_of_change_is_made_and_recorded_for_the_replica(customers):
    kinds = set()
    while kinds != {kind for kind, _ in replica_lag.MIX}:
        change = customers.take(due=0.0)
        status, address_id = replica_lag.direct(change, None)
        assert status == 200
        if address_id is not None:
            customers.created(change, address_id)
        assert _shown(change), change
        customer_id = load_data.customer_id(change.row)
        assert Change.objects.filter(customer_id=customer_id).exists()
        customers.release(change)
        kinds.add(change.kind)


def test_a_customer_is_not_taken_twice_while_its_change_is_on_its_way(customers):
    taken = [customers.take(due=0.0) for _ in range(50)]

    assert len({change.row for change in taken}) == 50
    for change in taken:
        if change.kind == "delete":  # a customer keeps one address
            assert customers.books[change.row]
