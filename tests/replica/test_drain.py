"""The drain copies each changed customer's current state into Medusa's
tables and empties the outbox (replica/services/drain.py): rows checked on
both sides from outside."""

import psycopg
import pytest
from django.db import connection

from accounts.models import Customer, CustomerAddress
from replica.medusa import MedusaReplica, MedusaUnavailable, ShapeError
from replica.models import Change
from replica.services.drain import drain
from tests.factories import customer_create
from tests.replica.rows import address_add, medusa_addresses, medusa_customer

ROW_VERSIONS = (
    "SELECT xmin::text FROM customer UNION ALL SELECT xmin::text FROM customer_address"
)
CUSTOMER_FIELDS = ("id", "email", "first_name", "last_name", "phone", "has_account")


def drained(replica, batch_size=500):
    return drain(replica, seconds=5, batch_size=batch_size)


def test_a_new_customer_and_its_addresses_reach_medusa(db, replica, medusa_db, email):
    customer = customer_create(email=email, first_name="Ada", last_name="L")
    home = address_add(
        customer, city="Oslo", country_code="no", is_default_shipping=True
    )
    work = address_add(customer, city="Bergen", metadata={"floor": 3})

    result = drained(replica)

    row = medusa_customer(medusa_db, customer.id)
    assert {k: row[k] for k in CUSTOMER_FIELDS} == {
        "id": customer.id,
        "email": email,
        "first_name": "Ada",
        "last_name": "L",
        "phone": None,
        "has_account": True,
    }
    assert row["deleted_at"] is None
    assert row["updated_at"] == Customer.objects.get(pk=customer.pk).updated_at
    addresses = medusa_addresses(medusa_db, customer.id)
    assert [(a["id"], a["city"], a["is_default_shipping"]) for a in addresses] == [
        (home.id, "Oslo", True),
        (work.id, "Bergen", False),
    ]
    assert addresses[1]["metadata"] == {"floor": 3}
    assert result.applied == 3
    assert result.refused == 0
    assert not Change.objects.exists()


def test_edits_moves_of_the_default_and_deletions_follow(db, replica, medusa_db, email):
    customer = customer_create(email=email)
    first = address_add(customer, city="Oslo", is_default_billing=True)
    second = address_add(customer, city="Bergen")
    third = address_add(customer, city="Tromsø")
    drained(replica)

    # The default moves from the first to the second address: in Medusa the
    # second is written while the first still holds it, unless cleared first.
    CustomerAddress.objects.filter(pk=first.pk).update(is_default_billing=False)
    CustomerAddress.objects.filter(pk=second.pk).update(is_default_billing=True)
    third.delete()
    Customer.objects.filter(pk=customer.pk).update(phone="+4712345678")
    drained(replica)

    assert medusa_customer(medusa_db, customer.id)["phone"] == "+4712345678"
    addresses = medusa_addresses(medusa_db, customer.id)
    assert [(a["id"], a["is_default_billing"]) for a in addresses] == [
        (first.id, False),
        (second.id, True),
    ]


def test_applying_the_same_state_again_writes_nothing(db, replica, medusa_db, email):
    customer = customer_create(email=email)
    address_add(customer, city="Oslo")
    drained(replica)
    before = medusa_db.execute(ROW_VERSIONS).fetchall()

    # A redelivered task, or a change whose state is already there.
    Change.objects.create(customer_id=customer.id)
    result = drained(replica)

    after = medusa_db.execute(ROW_VERSIONS).fetchall()
    assert result.applied == 1
    assert after == before  # no row version was rewritten


def test_a_customer_deleted_here_is_erased_in_medusa_but_kept(
    db, replica, medusa_db, email
):
    customer = customer_create(email=email, first_name="Ada", phone="+47")
    address_add(customer, city="Oslo")
    drained(replica)

    customer.auth_identity.delete()
    Customer.objects.filter(pk=customer.pk).delete()
    drained(replica)

    row = medusa_customer(medusa_db, customer.id)
    assert row["deleted_at"] is not None
    assert (row["email"], row["first_name"], row["phone"]) == (None, None, None)
    assert medusa_addresses(medusa_db, customer.id) == []
    # Orders and carts keep pointing at the id: the row stays.
    assert row["id"] == customer.id


def test_a_refused_customer_is_retried_later_and_the_batch_goes_on(
    db, replica, medusa_db, email, settings
):
    settings.REPLICA_MAX_ATTEMPTS = 2
    taken = customer_create(email=email)
    other = customer_create(email="other." + email)
    # An account made at Medusa before the switch, never imported.
    medusa_db.execute(
        "INSERT INTO customer (id, email, has_account) VALUES ('cus_medusa', %s, true)",
        [email],
    )

    first = drained(replica)

    assert first.refused == 1
    assert first.parked == 0
    assert medusa_customer(medusa_db, other.id) is not None
    assert medusa_customer(medusa_db, taken.id) is None
    change = Change.objects.get()
    assert change.customer_id == taken.id
    assert change.attempts == 1
    assert change.next_attempt_at is not None
    assert "UniqueViolation" in change.last_error
    assert "IDX_customer_email_has_account_unique" in change.last_error
    assert email not in change.last_error  # the detail names the email

    # Not due yet: the next drain leaves it alone.
    assert drained(replica).refused == 0

    Change.objects.update(next_attempt_at=None)
    second = drained(replica)
    assert second.parked == 1
    assert Change.objects.get().parked_at is not None
    assert drained(replica).refused == 0  # parked: staff's now

    # The conflict is resolved and the customer changes again: the new
    # change carries the whole state, and the parked one goes with it.
    medusa_db.execute("DELETE FROM customer WHERE id = 'cus_medusa'")
    Customer.objects.filter(pk=taken.pk).update(first_name="Ada")
    drained(replica)
    assert medusa_customer(medusa_db, taken.id)["first_name"] == "Ada"
    assert not Change.objects.exists()


def test_an_email_that_moves_between_customers_in_one_batch(
    db, replica, medusa_db, email
):
    leaving = customer_create(email=email)
    drained(replica)

    Customer.objects.filter(pk=leaving.pk).update(email="new." + email)
    arriving = Customer.objects.create(email=email, has_account=True, id="cus_0000")
    result = drained(replica)

    assert result.refused == 0
    assert medusa_customer(medusa_db, arriving.id)["email"] == email


def test_medusa_down_leaves_the_outbox_as_it_was(db, email, settings):
    customer_create(email=email)
    unreachable = MedusaReplica("postgres://nobody@127.0.0.1:1/medusa")

    with pytest.raises(MedusaUnavailable):
        drained(unreachable)

    change = Change.objects.get()
    assert change.attempts == 0
    assert change.parked_at is None


def test_tables_of_another_shape_are_refused_by_name(db, medusa_url, email):
    customer_create(email=email)
    with psycopg.connect(medusa_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE customer_address RENAME COLUMN address_1 TO line_1")
        try:
            with pytest.raises(
                ShapeError, match=r"customer_address\.address_1 is missing"
            ):
                drained(MedusaReplica(medusa_url))
        finally:
            conn.execute(
                "ALTER TABLE customer_address RENAME COLUMN line_1 TO address_1"
            )
    assert Change.objects.count() == 1


def test_standalone_forgets_only_week_old_changes(db, email):
    from datetime import timedelta

    from django.utils import timezone

    from replica.services.drain import standalone_forget

    customer_create(email=email)
    Change.objects.create(customer_id="cus_old")
    Change.objects.filter(customer_id="cus_old").update(
        created_at=timezone.now() - timedelta(days=8)
    )

    forgotten = standalone_forget(older_than=timezone.now() - timedelta(days=7))

    assert forgotten == 1
    assert Change.objects.count() == 1  # the fresh one stays


def test_a_customer_row_medusa_holds_locked_is_retried_alone(
    db, medusa_db, medusa_url, email
):
    """An open transaction in Medusa (an admin's psql) holds one customer's
    row: that customer waits out lock_timeout and is retried later; the
    rest of the batch is written."""
    held = customer_create(email=email)
    free = customer_create(email="free." + email)
    writer = MedusaReplica(medusa_url, lock_timeout="200ms")
    drained(writer)
    Customer.objects.filter(pk__in=[held.pk, free.pk]).update(first_name="Ada")
    with psycopg.connect(medusa_url) as admin:
        admin.execute("SELECT 1 FROM customer WHERE id = %s FOR UPDATE", [held.id])
        result = drained(writer)
        admin.rollback()
    writer.close()

    assert result.refused == 1
    assert medusa_customer(medusa_db, free.id)["first_name"] == "Ada"
    assert medusa_customer(medusa_db, held.id)["first_name"] is None
    change = Change.objects.get()
    assert change.customer_id == held.id
    assert "LockNotAvailable" in change.last_error


def test_a_customer_another_drain_holds_is_left_for_later(
    db, replica, medusa_db, email, medusa_url
):
    held = customer_create(email=email)
    free = customer_create(email="free." + email)
    # Another drain's transaction holds `held` (replica/services/drain.py).
    with connection.cursor() as cursor:
        cursor.execute("SELECT hashtextextended(%s, 7305)", [held.id])
        key = cursor.fetchone()[0]
    from django.conf import settings as django_settings

    dsn = django_settings.DATABASES["default"]
    with psycopg.connect(
        host=dsn["HOST"], port=dsn["PORT"], user=dsn["USER"],
        password=dsn["PASSWORD"], dbname=dsn["NAME"], autocommit=False,
    ) as other:  # fmt: skip
        other.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        result = drained(replica)

    assert result.more
    assert medusa_customer(medusa_db, free.id) is not None
    assert medusa_customer(medusa_db, held.id) is None
    assert list(Change.objects.values_list("customer_id", flat=True)) == [held.id]


def test_a_restart_of_medusas_server_costs_no_failed_drain(
    db, replica, medusa_db, email, medusa_url
):
    customer_create(email=email)
    drained(replica)  # the connection is open now
    # What a restart does to it: the server ends the session.
    medusa_db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    other = customer_create(email="other." + email)

    result = drained(replica)

    assert result.applied == 1
    assert medusa_customer(medusa_db, other.id) is not None
