"""Staff admin over accounts: customers found by email, never a hash shown."""

import pytest

pytestmark = pytest.mark.django_db


def test_admin_finds_customers_by_email_and_never_shows_hashes(client, email):
    from django.contrib.auth.models import User

    from accounts.models import ProviderIdentity
    from tests.factories import customer_create

    customer = customer_create(email=email)
    client.force_login(
        User.objects.create_superuser("root", password="pw-for-tests-only")
    )
    password_hash = ProviderIdentity.objects.get(entity_id=email).password_hash

    found = client.get("/admin/accounts/customer/", {"q": email}).content.decode()
    identity = client.get(
        f"/admin/accounts/authidentity/{customer.auth_identity.id}/change/"
    ).content.decode()

    assert customer.id in found
    assert email in identity
    assert password_hash not in identity
    assert "argon2" not in identity
