"""The import benchmark's Medusa shop is a real one: imported, it has the
orphans, collisions and guests the benchmark says, and its customers log in
with the benchmark password (no timing here; figures in docs/performance.md)."""

import io

import pytest
from django.core.management import call_command

from accounts.models import AuthIdentity, Customer
from bench import load_data, medusa_import

pytestmark = pytest.mark.django_db

N = 400


@pytest.fixture
def source_url():
    url = medusa_import.source_create(N)
    yield url
    medusa_import.database_drop(url)


def test_the_generated_shop_imports_as_described(source_url, api):
    out = io.StringIO()
    call_command(
        "import_medusa", "--database-url", source_url, stdout=out, stderr=io.StringIO()
    )

    output = out.getvalue()
    # 400 registered + 20 guests; 400 identities + 2 respelled duplicates.
    assert medusa_import._rows_read(output) == 420 + 402 + 402
    assert "Orphans (identities without a customer) imported: 8," in output
    assert "email_collision                   2" in output
    guests = ["cus_G" + str(g).rjust(25, "0") for g in range(20, N + 1, 20)]
    assert Customer.objects.filter(id__in=guests, has_account=False).count() == 20
    assert not AuthIdentity.objects.filter(id__startswith="authid_C").exists()
    response = api.post(
        "/auth/customer/emailpass",
        {"email": "Shopper7@bench.example", "password": load_data.PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    me = api.get(
        "/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}"
    )
    assert me.json()["customer"]["id"] == "cus_B" + "7".rjust(25, "0")
