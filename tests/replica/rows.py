"""Rows on both sides, read from outside, for the replica's tests."""

from accounts.models import CustomerAddress


def medusa_customer(medusa_db, customer_id):
    return medusa_db.execute(
        "SELECT * FROM customer WHERE id = %s", [customer_id]
    ).fetchone()


def medusa_addresses(medusa_db, customer_id):
    return medusa_db.execute(
        "SELECT * FROM customer_address WHERE customer_id = %s ORDER BY id",
        [customer_id],
    ).fetchall()


def address_add(customer, **fields):
    return CustomerAddress.objects.create(customer=customer, **fields)
