"""The invariants hold in PostgreSQL itself, for rows inserted directly."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from tests.factories import identity_create

pytestmark = pytest.mark.django_db


def _rejected(constraint: str, make) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        make()


def test_provider_and_entity_id_are_unique(email):
    identity_create(email=email)
    other = AuthIdentity.objects.create()
    _rejected(
        "provid_provider_entity_uniq",
        lambda: ProviderIdentity.objects.create(
            auth_identity=other,
            provider=Provider.EMAILPASS,
            entity_id=email,
            password_hash="argon2$x",
        ),
    )


def test_one_provider_identity_per_provider_per_identity(email):
    identity = identity_create(email=email)
    _rejected(
        "provid_identity_provider_uniq",
        lambda: ProviderIdentity.objects.create(
            auth_identity=identity,
            provider=Provider.EMAILPASS,
            entity_id="second." + email,
            password_hash="argon2$x",
        ),
    )


@pytest.mark.parametrize(
    "entity_id", ["Upper@Example.com", " padded@example.com", "no-at-sign"]
)
def test_email_entity_ids_must_be_normalized(entity_id):
    identity = AuthIdentity.objects.create()
    _rejected(
        "provid_entity_id_normalized_email",
        lambda: ProviderIdentity.objects.create(
            auth_identity=identity, provider=Provider.EMAIL_OTP, entity_id=entity_id
        ),
    )


@pytest.mark.parametrize(
    ("provider", "password_hash"),
    [
        (Provider.EMAILPASS, None),
        (Provider.EMAILPASS, ""),
        (Provider.EMAIL_OTP, "argon2$x"),
    ],
)
def test_password_hash_present_only_for_emailpass(email, provider, password_hash):
    identity = AuthIdentity.objects.create()
    _rejected(
        "provid_password_hash_iff_emailpass",
        lambda: ProviderIdentity.objects.create(
            auth_identity=identity,
            provider=provider,
            entity_id=email,
            password_hash=password_hash,
        ),
    )


@pytest.mark.parametrize("provider", ["", "Google", "a", "with space", "x" * 32])
def test_a_provider_name_is_an_email_provider_or_a_social_name(email, provider):
    identity = AuthIdentity.objects.create()
    _rejected(
        "provid_provider_name",
        lambda: ProviderIdentity.objects.create(
            auth_identity=identity, provider=provider, entity_id=email
        ),
    )


def test_a_social_login_is_keyed_by_its_subject_as_given():
    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity, provider="google", entity_id="10769150350006150715"
    )
    other = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=other, provider="acme-id", entity_id="Case-Sensitive.Sub"
    )
    _rejected(
        "provid_entity_id_not_empty",
        lambda: ProviderIdentity.objects.create(
            auth_identity=AuthIdentity.objects.create(), provider="acme", entity_id=""
        ),
    )


def test_registered_email_is_unique(email):
    Customer.objects.create(email=email, has_account=True)
    _rejected(
        "customer_registered_email_uniq",
        lambda: Customer.objects.create(email=email, has_account=True),
    )


def test_guest_and_deleted_customers_do_not_block_the_email(email):
    from django.utils import timezone

    Customer.objects.create(email=email, has_account=False)
    Customer.objects.create(email=email, has_account=True, deleted_at=timezone.now())
    Customer.objects.create(email=email, has_account=True)
    assert Customer.objects.filter(email=email).count() == 3


def test_registered_email_must_be_normalized():
    _rejected(
        "customer_registered_email_normalized",
        lambda: Customer.objects.create(email="Mixed@Example.com", has_account=True),
    )


def test_customer_id_is_not_duplicated_into_app_metadata():
    _rejected(
        "authid_customer_id_not_in_app_metadata",
        lambda: AuthIdentity.objects.create(app_metadata={"customer_id": "cus_1"}),
    )


def test_a_customer_has_at_most_one_identity(email):
    customer = Customer.objects.create(email=email, has_account=True)
    AuthIdentity.objects.create(customer=customer)
    _rejected("customer_id", lambda: AuthIdentity.objects.create(customer=customer))


def test_orphan_index_is_partial_on_unlinked_identities():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            ["authid_orphan_created_idx"],
        )
        (definition,) = cursor.fetchone()
    assert "(created_at)" in definition
    assert "WHERE (customer_id IS NULL)" in definition


def test_ids_are_prefixed_and_sortable(email):
    first = identity_create(email=email)
    second = identity_create(email="2" + email)
    assert first.id.startswith("authid_")
    assert len(first.id) == len("authid_") + 26
    assert first.id < second.id
    assert first.provider_identities.get().id.startswith("provid_")
