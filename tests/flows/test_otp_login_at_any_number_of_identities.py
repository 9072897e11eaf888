"""A returning customer logs in by code whatever the number of identities:
the lookup goes through the (entity_id, provider) unique index, so a
verify's queries do not grow with them. (Seed 003: an OTP login returned 500
once more than 100 identities existed, because the lookup scanned them.)"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuthIdentity, Provider, ProviderIdentity
from tests.factories import customer_create, identities_bulk_create


@pytest.mark.django_db
def test_first_and_last_of_250_identities_both_log_in_by_otp(send_code, verify):
    first = customer_create(email="first.customer@example.com")
    identities_bulk_create(248, prefix="filler")
    last = customer_create(email="last.customer@example.com")
    assert AuthIdentity.objects.count() >= 250

    for customer in (first, last):
        response = verify(customer.email, send_code(customer.email))

        assert response.status_code == 200, response.content
        assert response.json()["customer"]["id"] == customer.id
        assert (
            ProviderIdentity.objects.filter(
                provider=Provider.EMAIL_OTP, entity_id=customer.email
            ).count()
            == 1
        )


def verify_query_count(send_code, verify, email: str) -> int:
    code = send_code(email)
    with CaptureQueriesContext(connection) as queries:
        response = verify(email, code)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_queries_of_a_verify_do_not_grow_with_the_identities(
    send_code, verify, settings
):
    # The publishable key's cache could expire between the two verifies
    # (its 10 s may pass during the 10,000 inserts): every request looks
    # the key up instead.
    settings.PUBLISHABLE_KEY_CACHE_SECONDS = 0
    identities_bulk_create(10, prefix="small")
    customer_create(email="returning.small@example.com")
    small = verify_query_count(send_code, verify, "returning.small@example.com")

    identities_bulk_create(10_000, prefix="large")
    customer_create(email="returning.large@example.com")
    large = verify_query_count(send_code, verify, "returning.large@example.com")

    assert AuthIdentity.objects.count() > 10_000
    assert small == large
