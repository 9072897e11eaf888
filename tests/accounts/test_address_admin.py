"""Staff and the address book: a superuser edits a customer's addresses on
the customer's admin page (through the services' rules); Support reads
them and cannot change them."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test.utils import override_settings

from accounts.models import CustomerAddress
from ops.support import SUPPORT_GROUP, support_group_install
from tests.factories import customer_create

pytestmark = pytest.mark.django_db

PREFIX = "addresses"


@pytest.fixture
def customer(email):
    return customer_create(email=email, first_name="Pat")


@pytest.fixture
def root(client):
    client.force_login(User.objects.create_superuser("root", password="pw-tests"))
    return client


@pytest.fixture
def support(client):
    support_group_install(Group, Permission)
    user = User.objects.create_user("support", password="pw-tests", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    client.force_login(user)
    return client


def page(customer) -> str:
    return f"/admin/accounts/customer/{customer.id}/change/"


def form_data(addresses: list[dict], *, initial: int) -> dict:
    """The inline formset's POST, as the admin page submits it."""
    data = {
        f"{PREFIX}-TOTAL_FORMS": str(len(addresses)),
        f"{PREFIX}-INITIAL_FORMS": str(initial),
        f"{PREFIX}-MIN_NUM_FORMS": "0",
        f"{PREFIX}-MAX_NUM_FORMS": "1000",
    }
    for n, address in enumerate(addresses):
        for key, value in address.items():
            if value is True:
                value = "on"
            elif value is False:
                continue
            data[f"{PREFIX}-{n}-{key}"] = "" if value is None else value
    return data


def existing(address: CustomerAddress, **changes) -> dict:
    fields = {
        "id": address.id,
        "customer": address.customer_id,
        "city": address.city,
        "country_code": address.country_code,
        "is_default_shipping": address.is_default_shipping,
        "is_default_billing": address.is_default_billing,
    }
    return {**fields, **changes}


def test_a_superuser_adds_and_edits_addresses_with_the_api_rules(root, customer):
    old = CustomerAddress.objects.create(
        customer=customer, city="Oslo", country_code="no", is_default_shipping=True
    )

    response = root.post(
        page(customer),
        form_data(
            [
                existing(old, city="Bergen", is_default_shipping=False),
                {"city": "Aarhus", "country_code": "DK", "is_default_shipping": True},
            ],
            initial=1,
        ),
    )

    assert response.status_code == 302
    rows = {row.city: row for row in CustomerAddress.objects.filter(customer=customer)}
    assert set(rows) == {"Bergen", "Aarhus"}
    assert rows["Aarhus"].id.startswith("cuaddr_")
    assert rows["Aarhus"].country_code == "dk"
    assert rows["Aarhus"].is_default_shipping is True
    assert rows["Bergen"].is_default_shipping is False
    customer.refresh_from_db()
    assert customer.first_name == "Pat"


def test_a_superuser_deletes_an_address(root, customer):
    address = CustomerAddress.objects.create(customer=customer, city="Oslo")

    response = root.post(
        page(customer), form_data([existing(address, DELETE="on")], initial=1)
    )

    assert response.status_code == 302
    assert not CustomerAddress.objects.filter(customer=customer).exists()


@pytest.mark.parametrize(
    ("addresses", "error"),
    [
        ([{"city": "X", "country_code": "usa"}], "ISO 3166-1"),
        (
            [{"city": "A", "is_default_billing": True}] * 2,
            "Only one address can be the default billing.",
        ),
        ([{"city": "A"}] * 3, "A customer can have at most 2 addresses"),
    ],
)
@override_settings(ADDRESSES_PER_CUSTOMER_MAX=2)
def test_the_admin_refuses_what_the_api_refuses(root, customer, addresses, error):
    response = root.post(page(customer), form_data(addresses, initial=0))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not CustomerAddress.objects.filter(customer=customer).exists()


def test_support_reads_addresses_and_cannot_change_them(support, customer):
    address = CustomerAddress.objects.create(
        customer=customer, city="Copenhagen", address_1="1 Main Street"
    )

    shown = support.get(page(customer))
    posted = support.post(
        page(customer), form_data([existing(address, city="Nope")], initial=1)
    )

    assert shown.status_code == 200
    assert "1 Main Street" in shown.content.decode()
    assert posted.status_code == 403
    assert CustomerAddress.objects.get(id=address.id).city == "Copenhagen"
