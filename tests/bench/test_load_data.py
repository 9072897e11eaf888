"""The benchmark loader's rows are real rows: they pass every constraint,
orphans are exactly the ones `is_orphan` names, and a loaded customer logs in
by password and by code and reads its profile through the real API. (No
timing here: the figures live in docs/performance.md.)"""

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from bench import load_data, routes
from orphans.selectors import orphans_older_than

pytestmark = pytest.mark.django_db

ROWS = 300
SHARE = load_data.share_ppm(0.1)


@pytest.fixture
def loaded():
    """Rows 1..300 (inside the test's transaction, so they vanish after)."""
    with connection.cursor() as cursor:
        load_data.insert_rows(
            cursor,
            lo=0,
            hi=ROWS,
            share_ppm=SHARE,
            otp_every=2,
            password_hash=load_data.password_hash(),
        )
        # Deferred foreign keys: checked now rather than at the rollback.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return load_data.Dataset(ROWS, SHARE, 2)


def _bench_identities():
    return AuthIdentity.objects.filter(id__startswith=f"authid_{load_data.ID_TAG}")


def test_orphans_are_the_rows_is_orphan_names(loaded):
    orphan_ids = set(
        _bench_identities().filter(customer__isnull=True).values_list("id", flat=True)
    )
    expected = {
        load_data.identity_id(i) for i in range(1, ROWS + 1) if loaded.is_orphan(i)
    }

    assert orphan_ids == expected
    assert len(expected) == loaded.orphans == ROWS // 10
    assert _bench_identities().count() == ROWS


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
    i = next(i for i in range(3, ROWS, 2) if not loaded.is_orphan(i))
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
    i = next(i for i in range(2, ROWS, 2) if not loaded.is_orphan(i))
    load_data.otp_challenges_create([load_data.customer_email(i)], now=timezone.now())

    response = api.post(
        "/store/auth/otp/verify",
        {"email": load_data.customer_email(i), "code": load_data.OTP_CODE},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["customer"]["id"] == load_data.customer_id(i)
