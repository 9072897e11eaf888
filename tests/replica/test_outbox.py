"""The outbox rows the database's triggers write, whatever made the
change (replica/migrations/0001_initial.py)."""

from django.db import connection

from accounts.models import Customer, CustomerAddress
from replica.models import Change
from tests.factories import customer_create


def recorded() -> list[str]:
    return list(Change.objects.order_by("id").values_list("customer_id", flat=True))


def test_a_signup_records_its_customer(db, email):
    customer = customer_create(email=email)

    assert recorded() == [customer.id]


def test_updates_record_only_real_changes(db, email):
    customer = customer_create(email=email)
    Change.objects.all().delete()

    customer.save()  # nothing changed
    Customer.objects.filter(pk=customer.pk).update(first_name="Ada")

    assert recorded() == [customer.id]


def test_address_writes_record_their_customer(db, email):
    customer = customer_create(email=email)
    Change.objects.all().delete()

    address = CustomerAddress.objects.create(customer=customer, city="Oslo")
    CustomerAddress.objects.filter(pk=address.pk).update(city="Bergen")
    address.delete()

    assert recorded() == [customer.id] * 3


def test_a_deleted_customer_is_recorded_once_per_row(db, email):
    # A guest (an identity protects a registered customer from deletion).
    customer = Customer.objects.create(email=email)
    CustomerAddress.objects.create(customer=customer, city="Oslo")
    Change.objects.all().delete()

    Customer.objects.filter(pk=customer.pk).delete()

    # The address's cascade and the customer's own row.
    assert recorded() == [customer.id] * 2


def test_the_importer_switch_records_nothing(db, email):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL storefront.replica = 'off'")
    Customer.objects.create(email=email, has_account=True)

    assert recorded() == []
