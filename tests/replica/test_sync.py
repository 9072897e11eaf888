"""`manage.py medusa_sync` (replica/services/sync.py): run as an operator
runs it, with rows checked on both sides from outside, and the output and
exit status read as a script would.

Our database may hold customers other tests committed (the live stack's):
each test that verifies first backfills, so those are equal on both sides
and only what the test changes differs."""

import io
import json

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Customer
from core.emails import email_hash
from core.metrics import REGISTRY
from replica.medusa import CustomerState
from replica.models import Change, SyncCursor
from tests.factories import customer_create
from tests.replica.rows import address_add, medusa_addresses, medusa_customer


def sync(*args, url=None):
    """(exit status, stdout, stderr) of one run."""
    out, err = io.StringIO(), io.StringIO()
    extra = ["--database-url", url] if url else []
    try:
        call_command("medusa_sync", *args, *extra, stdout=out, stderr=err)
        status = 0
    except CommandError as exc:
        status = exc.returncode
        err.write(str(exc))
    return status, out.getvalue(), err.getvalue()


def json_lines(out):
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def shop(db, email):
    """A registered customer with two addresses, a guest with one, and a
    registered customer soft-deleted here."""
    ada = customer_create(email=email, first_name="Ada", metadata={"tier": 2})
    home = address_add(ada, city="Oslo", country_code="no", is_default_shipping=True)
    work = address_add(ada, city="Bergen", metadata={"floor": 3})
    guest = Customer.objects.create(email="guest." + email, first_name="G")
    shed = address_add(guest, city="Tromsø", is_default_billing=True)
    gone = customer_create(email="gone." + email)
    Customer.objects.filter(pk=gone.pk).update(deleted_at=ada.created_at)
    return {
        "ada": ada,
        "guest": guest,
        "gone": Customer.objects.get(pk=gone.pk),
        "addresses": {ada.id: [home.id, work.id], guest.id: [shed.id]},
    }


@pytest.fixture
def synced(shop, replica, medusa_db):
    """The shop backfilled, and its changes drained: both sides equal, and
    nothing waits in the outbox (a change waiting is the drain's, not
    drift)."""
    status, _, err = sync("--backfill", "--restart")
    assert status == 0, err
    Change.objects.all().delete()
    return shop


# --backfill


def test_backfill_pushes_every_customer_and_its_addresses(
    shop, replica, medusa_db, capsys
):
    status, out, _ = sync("--backfill")

    assert status == 0
    for key in ("ada", "guest", "gone"):
        ours = Customer.objects.get(pk=shop[key].pk)
        row = medusa_customer(medusa_db, ours.id)
        assert (row["email"], row["has_account"]) == (ours.email, ours.has_account)
        assert row["first_name"] == ours.first_name
        # Copied as it is, to the microsecond; a soft delete too.
        assert row["updated_at"] == ours.updated_at
        assert row["created_at"] == ours.created_at
        assert row["deleted_at"] == ours.deleted_at
    assert medusa_customer(medusa_db, shop["ada"].id)["metadata"] == {"tier": 2}
    for customer_id, address_ids in shop["addresses"].items():
        assert [a["id"] for a in medusa_addresses(medusa_db, customer_id)] == (
            address_ids
        )
    home = medusa_addresses(medusa_db, shop["ada"].id)[0]
    assert (home["city"], home["is_default_shipping"]) == ("Oslo", True)
    assert "Backfill finished" in out
    # Progress on stderr: done of total, the rate.
    progress = capsys.readouterr().err
    assert "backfill: " in progress
    assert "(100%)" in progress
    assert "/s" in progress
    assert SyncCursor.objects.get(name="backfill").finished_at is not None


def test_a_rerun_resumes_after_the_recorded_customer(shop, replica, medusa_db):
    ada, guest, gone = shop["ada"], shop["guest"], shop["gone"]
    first, *rest = sorted([ada.id, guest.id, gone.id])
    # A run stopped (Ctrl-C, a crash) after the batch that ended with `first`.
    SyncCursor.objects.create(name="backfill", position=first, target=replica.target())

    status, out, _ = sync("--backfill", "--batch-size", "1")

    assert status == 0
    assert f"resumed after {first}" in out
    assert medusa_customer(medusa_db, first) is None  # done by the first run
    for customer_id in rest:
        assert medusa_customer(medusa_db, customer_id) is not None
    assert SyncCursor.objects.get(name="backfill").finished_at is not None

    # Finished: the next run starts from the beginning again.
    status, out, _ = sync("--backfill")
    assert status == 0
    assert "resumed" not in out
    assert medusa_customer(medusa_db, first) is not None


def test_restart_ignores_the_recorded_position(shop, replica, medusa_db):
    SyncCursor.objects.create(
        name="backfill", position=shop["gone"].id, target=replica.target()
    )

    status, out, _ = sync("--backfill", "--restart")

    assert status == 0
    assert "resumed" not in out
    assert medusa_customer(medusa_db, shop["ada"].id) is not None


def test_an_unfinished_backfill_of_another_database_is_not_resumed(
    shop, replica, medusa_db
):
    SyncCursor.objects.create(
        name="backfill", position=shop["ada"].id, target="elsewhere:5432/medusa"
    )

    status, _, err = sync("--backfill")

    assert status == 1
    assert "elsewhere:5432/medusa" in err
    assert "--restart" in err
    assert medusa_db.execute("SELECT count(*) AS n FROM customer").fetchone()["n"] == 0


def test_a_refused_customer_goes_to_the_outbox_and_fails_the_run(
    db, replica, medusa_db, email
):
    taken = customer_create(email=email)
    other = customer_create(email="other." + email)
    Change.objects.all().delete()
    # An account made at Medusa before the switch, never imported.
    medusa_db.execute(
        "INSERT INTO customer (id, email, has_account) VALUES ('cus_medusa', %s, true)",
        [email],
    )

    status, out, err = sync("--backfill", "--batch-size", "1")

    assert status == 4
    assert medusa_customer(medusa_db, other.id) is not None
    assert medusa_customer(medusa_db, taken.id) is None
    assert taken.id in out
    assert "IDX_customer_email_has_account_unique" in out
    assert email not in out + err
    change = Change.objects.get(customer_id=taken.id)
    assert change.attempts == 1
    assert change.next_attempt_at is not None
    assert change.parked_at is None
    assert "UniqueViolation" in change.last_error
    assert email not in change.last_error
    # The rest of the run went on: the cursor is at the end.
    assert SyncCursor.objects.get(name="backfill").finished_at is not None

    status, out, _ = sync("--backfill", "--json")
    summary = json_lines(out)[-1]
    refused = [line for line in json_lines(out) if line["event"] == "refused"]
    assert status == 4
    assert summary["event"] == "summary"
    assert summary["refused"] == 1
    assert refused == [
        {
            "event": "refused",
            "customer_id": taken.id,
            "reason": change.last_error,
        }
    ]


def test_backfill_reads_a_constant_number_of_queries_per_batch(
    db, replica, medusa_db, email
):
    def queries_of_a_run():
        with CaptureQueriesContext(connection) as queries:
            assert sync("--backfill", "--restart", "--batch-size", "10000")[0] == 0
        return len(queries)

    customer_create(email=email)
    queries_of_a_run()  # the cursor's row exists from now on
    few = queries_of_a_run()
    for n in range(5):
        customer = customer_create(email=f"{n}.{email}")
        address_add(customer, city="Oslo")
        address_add(customer, city="Bergen")
    many = queries_of_a_run()

    assert many == few


# --verify


def test_verify_of_equal_sides_is_clean(synced, replica, medusa_db):
    status, out, _ = sync("--verify")

    assert status == 0
    assert "No drift." in out


def drift_made_in_medusa(shop, medusa_db, email):
    """Each kind of drift, made as Medusa's admin or a stray script would."""
    ada, guest = shop["ada"], shop["guest"]
    home_id, work_id = shop["addresses"][ada.id]
    medusa_db.execute(
        "UPDATE customer SET first_name = 'Edited in admin' WHERE id = %s", [ada.id]
    )
    medusa_db.execute("DELETE FROM customer_address WHERE id = %s", [home_id])
    medusa_db.execute(
        "UPDATE customer_address SET city = 'Stavanger' WHERE id = %s", [work_id]
    )
    medusa_db.execute(
        "INSERT INTO customer_address (id, customer_id, city) "
        "VALUES ('cuaddr_medusa', %s, 'Moss')",
        [ada.id],
    )
    medusa_db.execute("DELETE FROM customer WHERE id = %s", [guest.id])


def test_verify_reports_each_kind_of_drift_by_id_and_hmac(
    synced, replica, medusa_db, email
):
    shop = synced
    ada, guest = shop["ada"], shop["guest"]
    home_id, work_id = shop["addresses"][ada.id]
    drift_made_in_medusa(shop, medusa_db, email)
    medusa_db.execute(
        "INSERT INTO customer (id, email, has_account) "
        "VALUES ('cus_medusa_only', %s, true)",
        ["medusa." + email],
    )

    status, out, err = sync("--verify")

    assert status == 5
    for line in (
        "customer_differs (customer differs in Medusa): 1",
        f"{ada.id} email_hash={email_hash(email)[:16]}… columns: first_name",
        "address_missing (address here, missing in Medusa): 1",
        f"{ada.id} address {home_id}",
        "address_differs (address differs in Medusa): 1",
        f"{ada.id} address {work_id} email_hash={email_hash(email)[:16]}… "
        "columns: city",
        "address_extra (address in Medusa, not in the book here): 1",
        f"{ada.id} address cuaddr_medusa",
        "customer_missing (customer here, missing in Medusa): 1",
        f"{guest.id} email_hash={email_hash(guest.email)[:16]}…",
        "account_not_here (registered customer in Medusa unknown here",
        f"cus_medusa_only email_hash={email_hash('medusa.' + email)[:16]}…",
    ):
        assert line in out
    assert "Drift: 3 customer(s)" in out
    assert email not in out + err  # the plain email, never

    status, out, _ = sync("--verify", "--json")
    drift = [line for line in json_lines(out) if line["event"] == "drift"]
    summary = json_lines(out)[-1]
    assert status == 5
    assert {(d["kind"], d["customer_id"], d["address_id"]) for d in drift} == {
        ("customer_differs", ada.id, None),
        ("address_missing", ada.id, home_id),
        ("address_differs", ada.id, work_id),
        ("address_extra", ada.id, "cuaddr_medusa"),
        ("customer_missing", guest.id, None),
        ("account_not_here", "cus_medusa_only", None),
    }
    assert all(d["email_hash"] for d in drift)
    assert summary["drifted"] == 3
    assert summary["remaining"] == 3
    assert email not in out
    # Read only: nothing was written.
    assert medusa_customer(medusa_db, guest.id) is None


def test_repair_writes_our_state_and_verifies_clean(synced, replica, medusa_db, email):
    shop = synced
    ada, guest = shop["ada"], shop["guest"]
    drift_made_in_medusa(shop, medusa_db, email)

    status, out, _ = sync("--verify", "--repair")

    assert status == 0
    assert "Repaired: 2 customer(s); refused by Medusa: 0; still differing: 0." in out
    assert medusa_customer(medusa_db, ada.id)["first_name"] == "Ada"
    assert [a["id"] for a in medusa_addresses(medusa_db, ada.id)] == (
        shop["addresses"][ada.id]
    )
    assert medusa_addresses(medusa_db, ada.id)[1]["city"] == "Bergen"
    assert medusa_customer(medusa_db, guest.id)["email"] == guest.email

    status, out, _ = sync("--verify")
    assert (status, "No drift." in out) == (0, True)


def test_repair_never_touches_a_medusa_account_unknown_here(
    synced, replica, medusa_db, email
):
    medusa_db.execute(
        "INSERT INTO customer (id, email, first_name, has_account) "
        "VALUES ('cus_medusa_only', %s, 'M', true)",
        ["medusa." + email],
    )

    status, out, _ = sync("--verify", "--repair")

    assert status == 5
    assert "cus_medusa_only" in out
    row = medusa_customer(medusa_db, "cus_medusa_only")
    assert (row["email"], row["first_name"], row["deleted_at"]) == (
        "medusa." + email,
        "M",
        None,
    )


def test_a_change_waiting_in_the_outbox_is_the_drains_not_drift(
    synced, replica, medusa_db
):
    ada = synced["ada"]
    Change.objects.all().delete()
    Customer.objects.filter(pk=ada.pk).update(first_name="Changed here")

    status, out, _ = sync("--verify", "--json")

    summary = json_lines(out)[-1]
    assert status == 0
    assert (summary["queued"], summary["drifted"]) == (1, 0)


def test_a_customer_deleted_here_and_erased_there_is_no_drift(
    synced, replica, medusa_db
):
    ada = synced["ada"]
    ada.auth_identity.delete()
    Customer.objects.filter(pk=ada.pk).delete()
    # As the drain leaves it: kept, erased, still has_account (CUSTOMERS_ERASE).
    replica.write({ada.id: CustomerState(None)})
    Change.objects.all().delete()

    status, out, _ = sync("--verify")

    assert status == 0, out
    row = medusa_customer(medusa_db, ada.id)
    assert (row["has_account"], row["email"]) == (True, None)
    assert row["deleted_at"] is not None


# --check and the URL


def test_check_accepts_medusas_tables(replica):
    status, out, _ = sync("--check")

    assert status == 0
    assert "have the shape this server writes" in out


def test_check_names_what_is_wrong_with_the_tables(db, medusa_url):
    with psycopg.connect(medusa_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE customer RENAME COLUMN has_account TO registered")
        try:
            status, _, err = sync("--check", url=medusa_url)
        finally:
            conn.execute("ALTER TABLE customer RENAME COLUMN registered TO has_account")

    assert status == 3
    assert "customer.has_account is missing" in err


def test_no_url_is_a_clear_error(db, settings):
    settings.MEDUSA_DATABASE_URL = ""

    status, _, err = sync("--check")

    assert status == 1
    assert "--database-url" in err
    assert "MEDUSA_DATABASE_URL" in err


def test_an_unreachable_database_is_named_without_its_password(db):
    status, _, err = sync(
        "--verify", url="postgresql://someone:s3cret@127.0.0.1:1/medusa"
    )

    assert status == 1
    assert "cannot connect" in err
    assert "127.0.0.1" in err
    assert "s3cret" not in err


def test_options_of_one_mode_refuse_the_other(db, replica):
    assert sync("--backfill", "--repair")[0] == 1
    assert sync("--verify", "--restart")[0] == 1
    assert sync("--verify", "--batch-size", "0")[0] == 1


# The daily verify


def test_the_daily_verify_repairs_drift_and_counts_it(
    synced, replica, medusa_db, caplog
):
    from replica.tasks import replica_verify_task

    ada = synced["ada"]
    medusa_db.execute(
        "UPDATE customer SET phone = '+4799999999' WHERE id = %s", [ada.id]
    )
    before = REGISTRY.get_sample_value("replica_drift_repaired_total") or 0

    replica_verify_task()

    assert medusa_customer(medusa_db, ada.id)["phone"] is None
    after = REGISTRY.get_sample_value("replica_drift_repaired_total")
    assert after - before == 1
    record = next(r for r in caplog.records if r.msg == "replica_verified")
    assert record.repaired == 1
    assert record.sample == {"customer_differs": [ada.id]}


def test_the_daily_verify_is_scheduled(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="verify-replica")

    assert task.task == "replica.tasks.replica_verify_task"
    assert (task.crontab.minute, task.crontab.hour) == ("41", "3")


def test_the_daily_verify_does_nothing_standalone(db, settings):
    from replica.tasks import replica_verify_task

    settings.MEDUSA_DATABASE_URL = ""

    replica_verify_task()  # no connection attempted, no error
