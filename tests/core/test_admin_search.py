"""Support's admin lists over tables that grow to millions of rows: search
takes a whole id or email (any case) and finds it through an index, and an
unfiltered list is counted from PostgreSQL's statistics."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from accounts.models import Customer
from core.admin import EstimatedCountPaginator
from core.emails import email_hash
from orphans import services
from orphans.models import Trigger
from tests.factories import customer_create, fullwidth_domain
from tests.orphans.conftest import OLD, orphan_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(
        User.objects.create_superuser("root", password="pw-for-tests-only")
    )
    return client


def listed(client, path: str, term: str) -> set[str]:
    """The primary keys the list shows (the page itself echoes the term)."""
    page = client.get(path, {"q": term})
    assert page.status_code == 200
    return {str(row.pk) for row in page.context["cl"].result_list}


@pytest.fixture
def shop(email):
    """A customer, a guest with the same address, an orphan and a bystander."""
    customer = customer_create(email=email)
    guest = Customer.objects.create(email=email.upper(), has_account=False)
    orphan = orphan_create(email="orphan." + email, age=OLD)
    other = customer_create(email="other." + email)
    return {"customer": customer, "guest": guest, "orphan": orphan, "other": other}


def test_customers_are_found_by_whole_email_in_any_case_or_by_id(root, shop, email):
    by_email = listed(root, "/admin/accounts/customer/", f"  {email.upper()} ")
    by_id = listed(root, "/admin/accounts/customer/", shop["other"].id)
    by_part = listed(root, "/admin/accounts/customer/", email.split("@")[0])

    assert by_email == {shop["customer"].id, shop["guest"].id}
    assert by_id == {shop["other"].id}
    assert by_part == set()  # whole values only


def test_a_look_alike_of_an_email_finds_what_the_email_finds(root, shop, email):
    term = f" {fullwidth_domain(email).upper()} "
    customer = shop["customer"]
    provider = customer.auth_identity.provider_identities.get()

    found = {
        "customer": listed(root, "/admin/accounts/customer/", term),
        "authidentity": listed(root, "/admin/accounts/authidentity/", term),
        "provideridentity": listed(root, "/admin/accounts/provideridentity/", term),
    }

    assert found == {
        "customer": {customer.id, shop["guest"].id},
        "authidentity": {customer.auth_identity.id},
        "provideridentity": {provider.id},
    }


def test_a_guest_stored_with_a_unicode_domain_is_found_as_typed(root):
    stored = "Guest@B\u00fccher.example"  # as a Medusa guest checkout left it
    guest = Customer.objects.create(email=stored, has_account=False)

    found = listed(root, "/admin/accounts/customer/", stored.upper())

    assert found == {guest.id}


def test_identities_are_found_by_provider_email_customer_email_or_id(root, shop, email):
    customer_identity = shop["customer"].auth_identity.id
    by_email = listed(root, "/admin/accounts/authidentity/", email.title())
    by_orphan_email = listed(root, "/admin/accounts/authidentity/", "orphan." + email)
    by_id = listed(root, "/admin/accounts/authidentity/", shop["orphan"].id)

    assert by_email == {customer_identity}
    assert by_orphan_email == {shop["orphan"].id}
    assert by_id == {shop["orphan"].id}


def test_provider_identities_are_found_by_email_id_or_identity_id(root, shop, email):
    provider = shop["customer"].auth_identity.provider_identities.get()
    path = "/admin/accounts/provideridentity/"

    assert listed(root, path, email.upper()) == {provider.id}
    assert listed(root, path, provider.id) == {provider.id}
    assert listed(root, path, provider.auth_identity_id) == {provider.id}
    assert provider.id not in listed(root, path, "other." + email)


def test_orphans_are_found_by_email(root, shop, email):
    found = listed(root, "/admin/orphans/orphan/", "ORPHAN." + email)
    missed = listed(root, "/admin/orphans/orphan/", email)

    assert found == {shop["orphan"].id}
    assert missed == set()  # the customer's address: not an orphan


def test_the_deletion_audit_is_found_by_identity_id_email_or_hash(root, shop, email):
    orphan = shop["orphan"]
    services.orphans_sweep(
        older_than=OLD / 2,
        batch_size=10,
        trigger=Trigger.COMMAND,
        now=timezone.now(),
    )
    path = "/admin/orphans/orphandeletion/"

    assert listed(root, path, orphan.id) == {orphan.id}
    assert listed(root, path, ("Orphan." + email).upper()) == {orphan.id}
    assert listed(root, path, email_hash("orphan." + email)) == {orphan.id}
    assert listed(root, path, email) == set()


def test_an_unfiltered_large_table_is_counted_from_the_statistics(shop, email):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_customer")  # 3 rows in the statistics
    for n in range(2):
        customer_create(email=f"later{n}.{email}")
    everyone = Customer.objects.order_by("pk")
    guests = everyone.filter(has_account=False)

    def count(rows, *, exact_below: int) -> int:
        paginator = EstimatedCountPaginator(rows, 10)
        paginator.exact_below = exact_below
        return paginator.count

    assert count(everyone, exact_below=3) == 3  # the estimate
    assert count(everyone, exact_below=4) == 5  # small: exact
    assert count(guests, exact_below=0) == 1  # filtered: exact


def test_the_admin_list_shows_the_estimate_for_an_unfiltered_large_table(
    root, shop, email, monkeypatch
):
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_customer")  # 3 rows in the statistics
    customer_create(email="later." + email)

    everyone = root.get("/admin/accounts/customer/").context["cl"]
    guests = root.get("/admin/accounts/customer/", {"has_account__exact": "0"})

    assert everyone.result_count == 3  # not COUNT(*)'s 4
    assert len(everyone.result_list) == 4  # every row still listed
    assert guests.context["cl"].result_count == 1
