"""import_medusa writes with `storefront.replica` set to 'off' in each of
its transactions, so the replica's triggers (replica/migrations/0001)
record none of the rows it brings from Medusa: inserted, updated, written
unit by unit after a collision, or given a default flag."""

import pytest
from django.utils import timezone

from accounts.models import Customer, CustomerAddress
from accounts.services.customers import customer_update
from replica.models import Change
from tests.imports.runs import run_import, table_line

pytestmark = pytest.mark.django_db


def recorded() -> list[str]:
    return list(Change.objects.order_by("id").values_list("customer_id", flat=True))


def test_imported_rows_are_not_recorded_for_the_replica(medusa):
    # First a change made here, which is recorded. (SET LOCAL lasts until
    # the test's transaction ends, so it comes before any import.)
    here = Customer.objects.create(email="here@example.com", has_account=True)
    customer_update(
        customer_id=here.id, changes={"first_name": "Here"}, now=timezone.now()
    )
    assert recorded() == [here.id] * 2
    Change.objects.all().delete()
    _, registered = medusa.signup("ada@example.com", "pw")
    address = medusa.address_add(registered, is_default_shipping=True)
    medusa.address_add(medusa.customer_add("guest@example.com", has_account=False))
    # A collision: its batch is written again unit by unit.
    medusa.signup("Ada@Example.com", "pw")

    first, _ = run_import(medusa)
    medusa.execute(
        "UPDATE customer SET first_name = 'Ada', updated_at = %s WHERE id = %s",
        [medusa.tick(), registered],
    )
    medusa.address_update(address, city="Aarhus")
    second, _ = run_import(medusa)

    assert table_line(first, "customers") == [3, 2, 0, 0, 1]
    assert table_line(first, "addresses") == [2, 2, 0, 0, 0]
    assert table_line(second, "customers")[2] == 1
    assert table_line(second, "addresses")[2] == 1
    assert CustomerAddress.objects.get(id=address).is_default_shipping
    assert recorded() == []
