"""A normalized address's registered customer (accounts.models.CustomerQuerySet
.registered_with_email): the one customer who signed up with it and is not
erased, found through an index on lower(email) (customer_registered_email_uniq
or customer_email_lower_idx, as the planner likes). A lookup by
`email = ...` scanned every customer: a first code or social login's, the
e-mail change's and a worker mail's language."""

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Customer
from accounts.selectors import mail_language_for_email, registered_customer_for_email

pytestmark = pytest.mark.django_db


def test_only_the_registered_live_customer_of_the_address_is_found():
    email = "lookup.one@example.com"
    Customer.objects.create(email=email, has_account=False, locale="en")  # a guest
    Customer.objects.create(
        email=email, has_account=True, deleted_at=timezone.now(), locale="en"
    )  # erased
    registered = Customer.objects.create(
        email=email, has_account=True, locale="zh-hans"
    )

    assert registered_customer_for_email(email=email) == registered
    assert mail_language_for_email(email=email, language=None) == "zh-hans"
    assert mail_language_for_email(email=email, language="en") == "en"


def test_an_address_with_only_a_guest_has_no_registered_customer():
    email = "lookup.guest@example.com"
    Customer.objects.create(email=email, has_account=False, locale="zh-hans")

    assert registered_customer_for_email(email=email) is None
    assert mail_language_for_email(email=email, language=None) == "en"


def test_the_lookup_reads_the_unique_index_not_the_table():
    Customer.objects.bulk_create(
        Customer(email=f"lookup.{n}@example.com", has_account=True)
        for n in range(20_000)
    )
    query = Customer.objects.registered_with_email("lookup.17@example.com")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_customer")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Cond: (lower((email)::text) =" in plan, plan
    assert "Seq Scan on accounts_customer" not in plan
    assert query.get().email == "lookup.17@example.com"
