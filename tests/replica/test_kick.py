"""From a request's commit to Medusa's table: the ORM's signals queue a
drain after commit (replica/signals.py), the task applies the outbox
(eagerly here: config/settings/test.py); a kick that cannot be queued never
fails the request, and the change waits in the outbox."""

import logging

from replica.models import Change
from tests.factories import profile_create, registration_token


def test_a_signup_reaches_medusa_after_its_commit(
    transactional_db, api, email, replica, medusa_db
):
    token = registration_token(api, email)
    answer = profile_create(api, token, email, first_name="Ada")

    assert answer.status_code == 200
    customer_id = answer.json()["customer"]["id"]
    row = medusa_db.execute(
        "SELECT email, first_name, has_account FROM customer WHERE id = %s",
        [customer_id],
    ).fetchone()
    assert row == {"email": email, "first_name": "Ada", "has_account": True}
    assert not Change.objects.exists()


def test_a_kick_that_cannot_be_queued_leaves_the_change_waiting(
    transactional_db, api, email, replica, medusa_db, broker_down, caplog
):
    token = registration_token(api, email)
    with caplog.at_level(logging.WARNING, logger="replica"):
        answer = profile_create(api, token, email)

    assert answer.status_code == 200
    customer_id = answer.json()["customer"]["id"]
    assert list(Change.objects.values_list("customer_id", flat=True)) == [customer_id]
    assert medusa_db.execute("SELECT count(*) AS n FROM customer").fetchone() == {
        "n": 0
    }
    assert "replica_kick_failed" in caplog.text


def test_standalone_queues_nothing(transactional_db, api, email, settings, caplog):
    settings.MEDUSA_DATABASE_URL = ""
    token = registration_token(api, email)
    with caplog.at_level(logging.INFO, logger="replica"):
        answer = profile_create(api, token, email)

    assert answer.status_code == 200
    # Recorded, and forgotten by beat a week later (test_drain.py).
    assert Change.objects.count() == 1
    assert "replica_drained" not in caplog.text


def test_a_worker_without_the_url_keeps_every_change(
    transactional_db, email, settings, caplog
):
    from replica.tasks import replica_drain_task
    from tests.factories import customer_create

    settings.MEDUSA_DATABASE_URL = ""
    customer = customer_create(email=email)
    with caplog.at_level(logging.ERROR, logger="replica"):
        replica_drain_task.apply()

    assert list(Change.objects.values_list("customer_id", flat=True)) == [customer.id]
    assert "replica_worker_without_medusa_database_url" in caplog.text
