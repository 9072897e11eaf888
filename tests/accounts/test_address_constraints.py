"""The address book's invariants hold in PostgreSQL itself, for rows written
directly; and the service keeps them under concurrent requests."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts import services
from accounts.models import Customer, CustomerAddress
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def _rejected(constraint: str, make) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        make()


@pytest.fixture
def customer(email):
    return customer_create(email=email)


@pytest.mark.parametrize("flag", ["is_default_shipping", "is_default_billing"])
def test_one_default_of_each_kind_per_customer(customer, flag):
    other = customer_create(email="other." + customer.email)
    CustomerAddress.objects.create(customer=customer, **{flag: True})
    CustomerAddress.objects.create(customer=other, **{flag: True})  # theirs: fine
    CustomerAddress.objects.create(customer=customer)  # not a default: fine

    _rejected(
        f"cuaddr_one_{flag.removeprefix('is_')}",
        lambda: CustomerAddress.objects.create(customer=customer, **{flag: True}),
    )


@pytest.mark.parametrize("code", ["US", "usa", "u", "1a", ""])
def test_country_codes_are_two_lower_case_letters(customer, code):
    _rejected(
        "cuaddr_country_code_iso_lower",
        lambda: CustomerAddress.objects.create(customer=customer, country_code=code),
    )


def test_addresses_are_never_soft_deleted(customer):
    _rejected(
        "cuaddr_not_soft_deleted",
        lambda: CustomerAddress.objects.create(
            customer=customer, deleted_at=timezone.now()
        ),
    )


def test_the_database_cascades_a_customer_to_its_addresses():
    customer = Customer.objects.create(email="guest@example.com")  # no identity
    address = CustomerAddress.objects.create(customer=customer)

    with connection.cursor() as cursor:
        # Plain SQL, as Medusa or a replica would delete: no ORM cascade.
        cursor.execute("DELETE FROM accounts_customer WHERE id = %s", [customer.id])

    assert not CustomerAddress.objects.filter(id=address.id).exists()
    assert not Customer.objects.filter(id=customer.id).exists()


def test_ids_and_flag_defaults_are_medusas(customer):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_customeraddress (id, customer_id, created_at, "
            "updated_at) VALUES ('cuaddr_raw', %s, now(), now())",
            [customer.id],
        )
    raw = CustomerAddress.objects.get(id="cuaddr_raw")
    made = CustomerAddress.objects.create(customer=customer)

    assert (raw.is_default_shipping, raw.is_default_billing) == (False, False)
    assert made.id.startswith("cuaddr_")


def _race(count: int, work) -> list[BaseException | None]:
    barrier = threading.Barrier(count)
    results: list[BaseException | None] = [None] * count

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as error:  # noqa: BLE001
            results[n] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_defaults_leave_exactly_one(email):
    customer = customer_create(email=email)
    addresses = [CustomerAddress.objects.create(customer=customer) for _ in range(4)]

    results = _race(
        4,
        lambda n: services.address_update(
            customer_id=customer.id,
            address_id=addresses[n].id,
            changes={"is_default_shipping": True},
            now=timezone.now(),
        ),
    )

    assert results == [None] * 4
    assert (
        CustomerAddress.objects.filter(
            customer=customer, is_default_shipping=True
        ).count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
@override_settings(ADDRESSES_PER_CUSTOMER_MAX=3)
def test_concurrent_creates_stop_at_the_bound(email):
    customer = customer_create(email=email)

    results = _race(
        6,
        lambda n: services.address_create(
            customer_id=customer.id,
            changes={"city": f"City {n}", "is_default_billing": True},
            now=timezone.now(),
        ),
    )

    refused = [error for error in results if error is not None]
    assert len(refused) == 3
    assert all(
        str(error) == "A customer can have at most 3 addresses" for error in refused
    )
    assert CustomerAddress.objects.filter(customer=customer).count() == 3
    assert (
        CustomerAddress.objects.filter(
            customer=customer, is_default_billing=True
        ).count()
        == 1
    )
