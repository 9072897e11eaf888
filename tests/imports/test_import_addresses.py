"""import_medusa brings each imported customer's addresses with their ids
and columns (registered customers and guests alike), skips and reports
what cannot be stored here, keeps ADDRESSES_PER_CUSTOMER_MAX, and is
re-runnable: the newer side of a row wins, a default chosen here stays."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Customer, CustomerAddress
from medusa_import.source import MedusaSource
from tests.imports.runs import by_reason, login, nested, rows_snapshot, run_import
from tests.imports.runs import table_line as summary_row

pytestmark = pytest.mark.django_db

EVERY_COLUMN = {
    "address_name": "Home", "company": "Acme ApS", "first_name": "Ada",
    "last_name": "Lovelace", "address_1": "Vesterbrogade 1", "address_2": "3. tv",
    "city": "København V", "country_code": "dk", "province": "Hovedstaden",
    "postal_code": "1620", "phone": "+45 12 34 56 78",
    "metadata": {"floor": 3, "door": ["left", None], "note": "ring twice"},
}  # fmt: skip


def ours(customer_id: str) -> list[dict]:
    """Our rows of the customer, every column, by id."""
    return list(
        CustomerAddress.objects.filter(customer_id=customer_id).order_by("id").values()
    )


def medusas(medusa, customer_id: str, **changed) -> list[dict]:
    """Medusa's rows of the customer as they should be here."""
    return [
        {**row, **changed.get(row["id"], {})} for row in medusa.addresses(customer_id)
    ]


def address_line(output: str) -> list[int]:
    return summary_row(output, "addresses")


def test_addresses_come_with_their_ids_and_columns_for_every_kind_of_customer(
    medusa, api
):
    _, registered = medusa.signup("ada@example.com", "pw")
    guest = medusa.customer_add("Guest@Example.com", has_account=False)
    lone = medusa.customer_add("lone@example.com")  # registered, no identity
    home = medusa.address_add(
        registered, is_default_shipping=True, is_default_billing=True, **EVERY_COLUMN
    )
    # Medusa stores the code as sent; here it is lower-case.
    work = medusa.address_add(registered, country_code="DE", company="Work GmbH")
    medusa.address_add(guest, country_code=None, address_1=None, city=None)
    medusa.address_add(lone, is_default_billing=True, metadata=None)
    medusa.address_add(guest, country_code="Se", postal_code="111 22")

    output, lines = run_import(medusa)

    assert address_line(output) == [5, 5, 0, 0, 0]
    assert [line["reason"] for line in lines] == []
    assert ours(registered) == medusas(
        medusa, registered, **{work: {"country_code": "de"}}
    )
    [guest_se] = [row["id"] for row in medusa.addresses(guest) if row["city"]]
    assert ours(guest) == medusas(medusa, guest, **{guest_se: {"country_code": "se"}})
    assert ours(lone) == medusas(medusa, lone)
    # The customer's Medusa token reads them back here.
    token = login(api, "ada@example.com", "pw").json()["token"]
    body = api.get(
        "/store/customers/me/addresses", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert [address["id"] for address in body["addresses"]] == sorted([home, work])
    assert body["addresses"][0]["metadata"] == EVERY_COLUMN["metadata"]


def test_a_second_run_changes_nothing_and_reports_the_same(medusa):
    _, customer = medusa.signup("ada@example.com", "pw")
    medusa.address_add(customer, is_default_shipping=True)
    medusa.address_add(customer, country_code="usa")
    medusa.address_add(medusa.customer_add("guest@example.com", has_account=False))
    first, first_lines = run_import(medusa)
    before = rows_snapshot(medusa)

    output, lines = run_import(medusa)

    assert rows_snapshot(medusa) == before
    assert address_line(first) == [3, 2, 0, 0, 1]
    assert address_line(output) == [3, 0, 0, 2, 1]
    assert lines == first_lines


def test_the_newer_side_wins_and_a_default_moves_with_medusas_flow(medusa, api):
    _, customer = medusa.signup("ada@example.com", "pw")
    edited_here = medusa.address_add(customer, city="Aarhus")
    old_default = medusa.address_add(customer, city="Odense", is_default_shipping=True)
    run_import(medusa)
    token = login(api, "ada@example.com", "pw").json()["token"]
    response = api.post(
        f"/store/customers/me/addresses/{edited_here}", {"city": "Edited here"},
        format="json", HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    # In Medusa meanwhile: an older edit of the address edited here, a new
    # default shipping address (which clears the old one's flag) and an
    # edit of the old default.
    medusa.address_update(
        edited_here, city="Edited in Medusa", at=timezone.now() - timedelta(minutes=5)
    )
    new_default = medusa.address_add(customer, city="Aalborg", is_default_shipping=True)
    medusa.address_update(old_default, postal_code="5000")

    output, _ = run_import(medusa)

    assert address_line(output) == [3, 1, 1, 1, 0]
    here = {row["id"]: row for row in ours(customer)}
    assert here[edited_here]["city"] == "Edited here"
    assert here[old_default]["postal_code"] == "5000"
    assert not here[old_default]["is_default_shipping"]
    assert here[new_default]["is_default_shipping"]
    assert ours(customer) != medusas(medusa, customer)  # only by the edit here
    assert [row for row in ours(customer) if row["id"] != edited_here] == [
        row for row in medusas(medusa, customer) if row["id"] != edited_here
    ]


def test_a_default_chosen_here_stays_and_medusas_comes_without_the_flag(medusa, api):
    _, customer = medusa.signup("ada@example.com", "pw")
    medusa.address_add(customer, is_default_billing=True)
    run_import(medusa)
    token = login(api, "ada@example.com", "pw").json()["token"]
    response = api.post(
        "/store/customers/me/addresses",
        {"city": "Chosen here", "is_default_billing": True},
        format="json", HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    chosen = next(
        a["id"]
        for a in response.json()["customer"]["addresses"]
        if a["city"] == "Chosen here"
    )
    # Medusa did not see that choice, and makes a default of its own.
    medusa_choice = medusa.address_add(customer, is_default_billing=True)

    output, lines = run_import(medusa)

    [note] = by_reason(lines)["default_taken"]
    assert (note["id"], note["conflicts_with"], note["detail"]) == (
        medusa_choice, chosen, "is_default_billing",
    )  # fmt: skip
    assert address_line(output) == [2, 1, 0, 1, 0]
    defaults = CustomerAddress.objects.filter(
        customer_id=customer, is_default_billing=True
    )
    assert list(defaults.values_list("id", flat=True)) == [chosen]
    assert CustomerAddress.objects.filter(id=medusa_choice).exists()
    assert "Rows not imported: 0." in output


def test_two_defaults_of_one_kind_in_medusa_keep_one(medusa):
    _, customer = medusa.signup("ada@example.com", "pw")
    older = medusa.address_add(customer, is_default_shipping=True)
    index = "IDX_customer_address_unique_customer_shipping"
    medusa.execute(f'DROP INDEX "{index}"')
    try:
        newer = medusa.address_add(customer)
        medusa.execute(
            "UPDATE customer_address SET is_default_shipping = true WHERE id = %s",
            [newer],
        )

        output, lines = run_import(medusa)
    finally:
        medusa.execute("DELETE FROM customer_address")
        medusa.execute(
            f'CREATE UNIQUE INDEX "{index}" ON customer_address USING btree '
            "(customer_id) WHERE (is_default_shipping = true)"
        )

    [note] = by_reason(lines)["default_taken"]
    assert (note["id"], note["conflicts_with"]) == (older, newer)
    assert address_line(output) == [2, 2, 0, 0, 0]
    flags = dict(
        CustomerAddress.objects.filter(customer_id=customer).values_list(
            "id", "is_default_shipping"
        )
    )
    assert flags == {newer: True, older: False}


def test_soft_deleted_addresses_are_skipped_and_counted(medusa):
    _, customer = medusa.signup("ada@example.com", "pw")
    kept = medusa.address_add(customer)
    gone = medusa.address_add(customer)
    medusa.soft_delete("customer_address", gone)
    # A customer Medusa deleted: its addresses go with it.
    deleted_customer = medusa.customer_add("gone@example.com", has_account=False)
    orphaned = medusa.address_add(deleted_customer)
    medusa.soft_delete("customer", deleted_customer)

    output, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert [(line["table"], line["id"]) for line in reasons["soft_deleted"]] == [
        ("customer", deleted_customer),
        ("customer_address", gone),
    ]
    [goes_with] = reasons["goes_with"]
    assert (goes_with["id"], goes_with["conflicts_with"]) == (
        orphaned,
        deleted_customer,
    )
    assert address_line(output) == [3, 1, 0, 0, 2]
    assert list(CustomerAddress.objects.values_list("id", flat=True)) == [kept]

    # Deleted in Medusa after it came: noted, and kept here as a customer is.
    medusa.soft_delete("customer_address", kept)
    output, lines = run_import(medusa)

    assert [line["id"] for line in by_reason(lines)["deleted_in_medusa"]] == [kept]
    assert address_line(output) == [3, 0, 0, 1, 2]
    assert CustomerAddress.objects.filter(id=kept).exists()


def test_addresses_that_cannot_be_stored_are_refused_each_with_its_reason(medusa):
    _, customer = medusa.signup("ada@example.com", "pw")
    bad = {
        medusa.address_add(customer, country_code=code): repr(code)
        for code in ["usa", "", "D1", " dk", "ÆØ"]
    }
    long_code = medusa.address_add(customer, country_code="Denmark, Europe")
    listy = medusa.address_add(customer, metadata=[1, 2])
    deep = medusa.address_add(customer)
    at_limit = medusa.address_add(customer, country_code="DK")
    medusa.execute(
        "UPDATE customer_address SET metadata = %s::jsonb WHERE id = %s",
        [nested(10_000), deep],
    )
    medusa.execute(
        "UPDATE customer_address SET metadata = %s::jsonb WHERE id = %s",
        [nested(31), at_limit],
    )
    # A customer soft-deleted here (by staff) gets no address.
    guest = medusa.customer_add("guest@example.com", has_account=False)
    run_import(medusa)
    Customer.objects.filter(id=guest).update(deleted_at=timezone.now())
    late = medusa.address_add(guest)

    output, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert {line["id"]: line["detail"] for line in reasons["invalid_country_code"]} == {
        **bad,
        long_code: "15 characters",
    }
    assert [line["id"] for line in reasons["not_an_object"]] == [listy]
    assert [(line["id"], line["detail"]) for line in reasons["too_deeply_nested"]] == [
        (deep, "metadata")
    ]
    assert [line["id"] for line in reasons["customer_deleted_here"]] == [late]
    assert list(CustomerAddress.objects.values_list("id", "country_code")) == [
        (at_limit, "dk")
    ]
    assert address_line(output) == [10, 0, 0, 1, 9]
    assert "Import finished." in output


@pytest.mark.parametrize("batch_size", ["1", "2", "1000"])
def test_over_the_bound_the_defaults_and_the_newest_come(medusa, batch_size):
    _, many = medusa.signup("many@example.com", "pw")
    default = medusa.address_add(many, is_default_billing=True)
    oldest, old, newer, newest = (medusa.address_add(many) for _ in range(4))
    _, few = medusa.signup("few@example.com", "pw")
    fits = [medusa.address_add(few) for _ in range(3)]

    with override_settings(ADDRESSES_PER_CUSTOMER_MAX=3):
        output, lines = run_import(medusa, "--batch-size", batch_size)
        again, again_lines = run_import(medusa, "--batch-size", batch_size)

    refused = by_reason(lines)["too_many_addresses"]
    assert {(line["id"], line["detail"]) for line in refused} == {
        (oldest, "3"),
        (old, "3"),
    }
    assert set(CustomerAddress.objects.values_list("id", flat=True)) == {
        default, newer, newest, *fits,
    }  # fmt: skip
    assert address_line(output) == [8, 6, 0, 0, 2]
    # Reported again, the same way, by a second run.
    assert address_line(again) == [8, 0, 0, 6, 2]
    assert again_lines == lines


def test_address_ids_here_keep_their_customer_and_room_counts_addresses_here(
    medusa, api
):
    _, ada = medusa.signup("ada@example.com", "pw")
    _, bob = medusa.signup("bob@example.com", "pw")
    moved = medusa.address_add(ada)
    run_import(medusa)
    # Bob fills his book here; Medusa (wrongly) gives him Ada's address.
    token = login(api, "bob@example.com", "pw").json()["token"]
    for city in ["One", "Two"]:
        api.post(
            "/store/customers/me/addresses", {"city": city}, format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )  # fmt: skip
    medusa.execute(
        "UPDATE customer_address SET customer_id = %s, updated_at = %s WHERE id = %s",
        [bob, medusa.tick(), moved],
    )
    no_room = medusa.address_add(bob)

    with override_settings(ADDRESSES_PER_CUSTOMER_MAX=2):
        output, lines = run_import(medusa)

    reasons = by_reason(lines)
    [other] = reasons["other_customers_address"]
    assert (other["id"], other["conflicts_with"]) == (moved, ada)
    assert [line["id"] for line in reasons["too_many_addresses"]] == [no_room]
    assert CustomerAddress.objects.get(id=moved).customer_id == ada
    assert CustomerAddress.objects.filter(customer_id=bob).count() == 2
    assert address_line(output) == [2, 0, 0, 0, 2]


def test_address_batches_hold_whole_customers(medusa):
    for n, count in enumerate([3, 1, 2, 1, 4]):
        guest = medusa.customer_add(f"guest.{n}@example.com", has_account=False)
        for _ in range(count):
            medusa.address_add(guest)

    with MedusaSource(medusa.url) as source:
        batches = [
            [row["customer_id"] for row in batch] for batch in source.address_batches(2)
        ]

    assert sum(len(batch) for batch in batches) == 11
    seen: set[str] = set()
    for n, batch in enumerate(batches):
        assert not seen & set(batch)  # no customer split over two batches
        seen |= set(batch)
        # Full, and past the batch size only by the last customer's rows.
        assert len(batch) >= 2 or n == len(batches) - 1
        assert len([c for c in batch if c != batch[-1]]) < 2
