"""The benchmark loader's rows are real rows: they pass every constraint,
orphans are exactly the ones `is_orphan` names, a loaded customer logs in
by password and by code and reads its profile and its address book through
the real API, and loading records nothing for Medusa's replica. (No timing
here: the figures live in docs/performance.md.)"""

import re

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import (
    AuthIdentity,
    Customer,
    CustomerAddress,
    Provider,
    ProviderIdentity,
)
from bench import load_addresses, load_data, routes
from orphans.selectors import orphans_older_than
from replica.models import Change

pytestmark = pytest.mark.django_db


def _bench_identities():
    return AuthIdentity.objects.filter(id__startswith=f"authid_{load_data.ID_TAG}")


def test_orphans_are_the_rows_is_orphan_names(loaded):
    orphan_ids = set(
        _bench_identities().filter(customer__isnull=True).values_list("id", flat=True)
    )
    expected = {
        load_data.identity_id(i) for i in range(1, loaded.n + 1) if loaded.is_orphan(i)
    }

    assert orphan_ids == expected
    assert len(expected) == loaded.orphans == loaded.n // 10
    assert _bench_identities().count() == loaded.n


def test_rows_have_the_shapes_the_application_makes(loaded):
    identity = AuthIdentity.objects.get(id=load_data.identity_id(2))
    assert len(identity.id.removeprefix("authid_")) == 26
    assert identity.customer_id == load_data.customer_id(2)
    assert identity.email_verified_at is not None
    customer = Customer.objects.get(id=load_data.customer_id(2))
    assert customer.email == load_data.customer_email(2)
    assert customer.has_account
    providers = set(
        ProviderIdentity.objects.filter(auth_identity=identity).values_list(
            "provider", flat=True
        )
    )
    assert providers == {Provider.EMAILPASS, Provider.EMAIL_OTP}
    emailpass = ProviderIdentity.objects.get(
        auth_identity=identity, provider=Provider.EMAILPASS
    )
    assert emailpass.password_hash.startswith("argon2$argon2id$")


def test_loaded_orphans_are_sweepable(loaded):
    cutoff = timezone.now() - load_data.timedelta(hours=24)
    swept = orphans_older_than(cutoff=cutoff).filter(
        id__startswith=f"authid_{load_data.ID_TAG}"
    )

    assert swept.count() == loaded.orphans


def test_a_loaded_customer_logs_in_and_reads_its_profile(api, loaded):
    i = next(i for i in range(3, loaded.n, 2) if not loaded.is_orphan(i))
    login = api.post(
        "/auth/customer/emailpass",
        {"email": load_data.customer_email(i), "password": load_data.PASSWORD},
        format="json",
    )
    assert login.status_code == 200, login.content

    me = api.get(
        "/store/customers/me",
        HTTP_AUTHORIZATION=f"Bearer {routes.token_for(i, timezone.now())}",
    )
    assert me.status_code == 200, me.content
    assert me.json()["customer"]["id"] == load_data.customer_id(i)


def test_an_opened_challenge_verifies_with_the_known_code(api, loaded):
    i = next(i for i in range(2, loaded.n, 2) if not loaded.is_orphan(i))
    load_data.otp_challenges_create([load_data.customer_email(i)], now=timezone.now())

    response = api.post(
        "/store/auth/otp/verify",
        {"email": load_data.customer_email(i), "code": load_data.OTP_CODE},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["customer"]["id"] == load_data.customer_id(i)


def _bench_addresses():
    return CustomerAddress.objects.filter(
        customer__id__startswith=f"cus_{load_data.ID_TAG}"
    )


def test_each_customer_has_the_addresses_address_ids_names(loaded):
    found: dict[str, list[str]] = {}
    for customer_id, address_id in (
        _bench_addresses().order_by("id").values_list("customer_id", "id")
    ):
        found.setdefault(customer_id, []).append(address_id)
    expected = {
        load_data.customer_id(i): load_addresses.address_ids(i)
        for i in range(1, loaded.n + 1)
        if not loaded.is_orphan(i)
    }

    assert found == expected
    assert {len(ids) for ids in found.values()} == {1, 2, 3}
    assert all(
        len(a.removeprefix("cuaddr_")) == 26 for ids in found.values() for a in ids
    )


def test_loaded_addresses_pass_the_models_rules(loaded):
    addresses = list(_bench_addresses())
    for address in addresses[:30]:
        address.full_clean()
    # One default of each kind per customer: its first address.
    defaults = {a.id for a in addresses if a.is_default_shipping}
    assert defaults == {a.id for a in addresses if a.is_default_billing}
    assert defaults == {
        load_addresses.address_id(i, 1)
        for i in range(1, loaded.n + 1)
        if not loaded.is_orphan(i)
    }
    assert {a.country_code for a in addresses} == set(load_addresses.COUNTRIES)


def test_loading_records_no_change_for_the_replica(loaded):
    assert _bench_addresses().exists()
    assert not Change.objects.filter(
        customer_id__startswith=f"cus_{load_data.ID_TAG}"
    ).exists()


def test_a_loaded_customer_reads_its_address_book(api, loaded):
    i = next(i for i in range(3, loaded.n) if load_addresses.address_count(i) == 3)
    assert not loaded.is_orphan(i)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {routes.token_for(i, timezone.now())}")

    listed = api.get("/store/customers/me/addresses")
    assert listed.status_code == 200, listed.content
    assert listed.json()["count"] == 3
    assert [a["id"] for a in listed.json()["addresses"]] == (
        load_addresses.address_ids(i)
    )
    one = api.get(f"/store/customers/me/addresses/{load_addresses.address_id(i, 2)}")
    assert one.status_code == 200, one.content
    assert one.json()["address"]["city"] == load_addresses.address_city(i)


@pytest.mark.django_db
def test_the_reset_names_every_table_that_refers_to_one_it_empties():
    """PostgreSQL refuses to TRUNCATE a table another one's foreign key
    refers to unless both are named (as a new table's did once)."""
    emptied = set(re.findall(r"\w+_\w+", load_data.TRUNCATE_SQL.split("TRUNCATE")[1]))
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT conrelid::regclass::text, confrelid::regclass::text
                 FROM pg_constraint WHERE contype = 'f'"""
        )
        references = cursor.fetchall()

    missing = {
        (table, referred)
        for table, referred in references
        if referred in emptied and table not in emptied
    }
    assert not missing
