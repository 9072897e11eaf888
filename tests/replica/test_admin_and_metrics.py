"""What staff and the scraper see of the replica: the outbox in admin with
a retry for parked changes (audited), the dashboard's line, and /metrics."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from replica.models import Change
from tests.orphans.conftest import support_user

__all__ = ["support_user"]

CHANGES = "/admin/replica/change/"


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def parked(db):
    return Change.objects.create(
        customer_id="cus_parked",
        attempts=8,
        last_error="UniqueViolation 23505 IDX_customer_email_has_account_unique",
        parked_at=timezone.now(),
    )


def test_support_sees_why_a_change_was_parked(support, parked):
    page = support.get(CHANGES + "?state=parked")

    assert page.status_code == 200
    assert b"cus_parked" in page.content
    assert b"IDX_customer_email_has_account_unique" in page.content


def test_retry_unparks_and_is_audited(support, parked, support_user, settings):
    settings.MEDUSA_DATABASE_URL = ""  # the kick after commit does nothing

    answer = support.post(
        CHANGES, {"action": "retry", "_selected_action": [parked.pk]}, follow=True
    )

    assert answer.status_code == 200
    parked.refresh_from_db()
    assert parked.parked_at is None
    assert parked.attempts == 0
    assert parked.next_attempt_at is None
    entry = LogEntry.objects.get(object_id=str(parked.pk))
    assert entry.user_id == support_user.pk
    assert entry.change_message == "Retried replication"


def test_nobody_edits_or_deletes_a_change(support, parked):
    delete = support.post(
        CHANGES, {"action": "delete_selected", "_selected_action": [parked.pk]}
    )
    change = support.post(f"{CHANGES}{parked.pk}/change/", {"attempts": 0})

    assert Change.objects.filter(pk=parked.pk, attempts=8).exists()
    assert delete.status_code in (200, 302)
    assert change.status_code == 403


def test_the_dashboard_shows_the_replica(support, parked, settings):
    settings.MEDUSA_DATABASE_URL = "postgres://medusa.invalid/medusa"
    Change.objects.create(customer_id="cus_pending")

    page = support.get("/admin/").content.decode()

    assert "Medusa replica" in page
    assert re.search(r"Pending changes</a></th><td>1, oldest \d+ s", page)
    assert re.search(r"Parked changes</a></th><td>1 ", page)


def test_the_dashboard_says_standalone(support, settings):
    settings.MEDUSA_DATABASE_URL = ""

    page = support.get("/admin/").content.decode()

    assert "MEDUSA_DATABASE_URL is not set" in page


def test_metrics_show_the_backlog(client, parked, settings):
    settings.METRICS_TOKEN = ""
    settings.MEDUSA_DATABASE_URL = "postgres://medusa.invalid/medusa"
    Change.objects.create(customer_id="cus_pending")

    body = client.get("/metrics").content.decode()

    assert re.search(r"^replica_backlog 1\.0$", body, re.MULTILINE)
    assert re.search(r"^replica_parked 1\.0$", body, re.MULTILINE)
    oldest = re.search(r"^replica_oldest_pending_seconds (\S+)$", body, re.MULTILINE)
    assert oldest is not None
    assert float(oldest.group(1)) >= 0
    for series in (
        "replica_changes_applied_total",
        "replica_customers_refused_total",
        "replica_lag_seconds_bucket",
    ):
        assert series in body


def test_a_refused_change_is_not_lag(client, parked, settings):
    """Waiting out a backoff is ReplicaChangesParked's business, not lag's."""
    settings.METRICS_TOKEN = ""
    settings.MEDUSA_DATABASE_URL = "postgres://medusa.invalid/medusa"
    Change.objects.create(customer_id="cus_refused", attempts=3)

    body = client.get("/metrics").content.decode()

    assert re.search(r"^replica_backlog 1\.0$", body, re.MULTILINE)
    assert re.search(r"^replica_oldest_pending_seconds 0\.0$", body, re.MULTILINE)


def test_standalone_exports_no_replica_gauge(client, parked, settings):
    settings.METRICS_TOKEN = ""
    settings.MEDUSA_DATABASE_URL = ""

    body = client.get("/metrics").content.decode()

    assert "replica_backlog" not in body
    assert "replica_oldest_pending_seconds" not in body
