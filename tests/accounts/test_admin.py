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


@pytest.mark.parametrize(
    ("provider", "sub"),
    [("google", "Case-Sensitive.Subject.1"), ("github", "583231")],
)
def test_admin_shows_a_social_logins_provider_email_and_finds_it_by_subject(
    client, email, provider, sub
):
    from django.contrib.auth.models import User
    from django.utils import timezone

    from accounts import services

    login = services.identity_for_social_login(
        account=services.ProviderAccount(
            provider=provider, subject=sub, email=email, email_verified=True
        ),
        now=timezone.now(),
    )
    client.force_login(
        User.objects.create_superuser("root", password="pw-for-tests-only")
    )

    identity = client.get(
        f"/admin/accounts/authidentity/{login.identity.id}/change/"
    ).content.decode()
    found = client.get("/admin/accounts/provideridentity/", {"q": sub}).content.decode()

    assert provider in identity
    assert f"{email} (verified by the provider)" in identity
    assert sub in found
    customer = services.customer_create_for_identity(
        auth_identity_id=login.identity.id,
        profile=services.Profile(email=email),
        now=timezone.now(),
    )
    page = client.get(f"/admin/accounts/customer/{customer.id}/change/").content
    assert f"{provider} ({email})" in page.decode()
