"""Staff erase a customer from admin (GDPR art. 17): a confirmation page,
the permission `privacy.erase_customer`, the same erasure as the
customer's own, audited in the erasure row and Django's admin log."""

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.core import mail

from accounts.models import AuthIdentity, Customer, CustomerAddress, ProviderIdentity
from core.emails import email_hash
from privacy.models import Erasure
from replica.models import Change
from tests.factories import customer_create, token_for
from tests.staff.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db


def erase_url(customer_id: str) -> str:
    return f"/admin/accounts/customer/{customer_id}/erase/"


@pytest.fixture
def customer(email):
    customer = customer_create(email=email, first_name="Pat")
    CustomerAddress.objects.create(customer=customer, city="Lyon")
    return customer


@pytest.fixture
def eraser(support_staff) -> User:
    """A Support member who was also given the erasure permission."""
    support_staff.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="privacy", codename="erase_customer"
        )
    )
    return User.objects.get(pk=support_staff.pk)  # no cached permissions


def test_staff_with_the_permission_erase_after_confirming(
    client, eraser, customer, email, api, django_capture_on_commit_callbacks
):
    token = token_for(customer)
    client.force_login(eraser)
    page = client.get(f"/admin/accounts/customer/{customer.id}/change/")
    assert erase_url(customer.id) in page.content.decode()
    assert "Erase this customer (GDPR)" in page.content.decode()

    confirmation = client.get(erase_url(customer.id))

    assert confirmation.status_code == 200
    assert "cannot be undone" in confirmation.content.decode()
    assert Customer.objects.filter(id=customer.id).exists()  # nothing yet
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(erase_url(customer.id), {"confirmed": "yes"})

    assert done.status_code == 302
    assert done["Location"] == "/admin/accounts/customer/"
    assert not Customer.objects.filter(id=customer.id).exists()
    assert not CustomerAddress.objects.filter(customer_id=customer.id).exists()
    assert not AuthIdentity.objects.filter(customer_id=customer.id).exists()
    assert not ProviderIdentity.objects.filter(entity_id=email).exists()
    assert Change.objects.filter(customer_id=customer.id).exists()
    erasure = Erasure.objects.get(customer_id=customer.id)
    assert (erasure.actor, erasure.proof, erasure.email_hash) == (
        "staff",
        "staff",
        email_hash(email),
    )
    assert (erasure.staff_user_id, erasure.staff_username) == (
        eraser.pk,
        eraser.username,
    )
    entry = LogEntry.objects.get(object_id=customer.id, action_flag=DELETION)
    assert entry.user_id == eraser.pk
    assert email not in entry.object_repr + entry.change_message
    assert (
        api.get("/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        == 401
    )
    assert [m.to for m in mail.outbox] == [[email]]
    # The audit is listed, found by the address's HMAC.
    listed = client.get("/admin/privacy/erasure/", {"q": email}).content.decode()
    assert customer.id in listed
    assert listed.count(email) == 1  # the search box's own value


def test_without_the_permission_staff_cannot_erase(client, support_staff, customer):
    client.force_login(support_staff)
    page = client.get(f"/admin/accounts/customer/{customer.id}/change/")
    assert page.status_code == 200
    assert erase_url(customer.id) not in page.content.decode()

    assert client.get(erase_url(customer.id)).status_code == 403
    assert client.post(erase_url(customer.id), {"confirmed": "yes"}).status_code == 403

    assert Customer.objects.filter(id=customer.id).exists()
    assert not Erasure.objects.filter(customer_id=customer.id).exists()


def test_support_reads_the_erasure_audit_but_cannot_erase(support_staff):
    assert support_staff.has_perm("privacy.view_erasure")
    assert not support_staff.has_perm("privacy.erase_customer")


def test_a_post_without_confirmation_erases_nothing(client, eraser, customer):
    client.force_login(eraser)

    answer = client.post(erase_url(customer.id), {})

    assert answer.status_code == 200
    assert Customer.objects.filter(id=customer.id).exists()


def test_anonymous_reaches_the_login_page(client, customer):
    answer = client.post(erase_url(customer.id), {"confirmed": "yes"})

    assert answer.status_code == 302
    assert answer["Location"].startswith("/admin/login/")
    assert Customer.objects.filter(id=customer.id).exists()


def test_an_unknown_or_erased_customer_goes_back_to_the_list(client, eraser):
    client.force_login(eraser)

    answer = client.post(erase_url("cus_nobody"), {"confirmed": "yes"})

    assert answer.status_code == 302
    assert answer["Location"] == "/admin/accounts/customer/"


def test_a_superuser_can_erase_a_guest_without_email(client, db):
    guest = Customer.objects.create(email=None, has_account=False)
    client.force_login(
        User.objects.create_superuser("erase.root", password=STAFF_PASSWORD)
    )

    answer = client.post(erase_url(guest.id), {"confirmed": "yes"})

    assert answer.status_code == 302
    assert not Customer.objects.filter(id=guest.id).exists()
    assert Erasure.objects.get(customer_id=guest.id).actor == "staff"
