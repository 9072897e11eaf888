"""A failed POST /store/customers after register logs seed 000's event, with
the email as an HMAC only, and leaves no customer row behind."""

import json
import logging

import pytest

from accounts.models import AuthIdentity, Customer
from core.emails import email_hash
from orphans.models import OrphanEvent
from orphans.services import PROFILE_FAILURE_EVENT
from tests.db_faults import refusing_trigger
from tests.factories import registration_token

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"


@pytest.fixture
def failing_identity_link():
    """A real database failure in the middle of step 2: the customer row is
    inserted, then linking the identity raises inside PostgreSQL."""
    with refusing_trigger(table="accounts_authidentity", event="UPDATE OF customer_id"):
        yield


def failure_events(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == PROFILE_FAILURE_EVENT]


def test_database_failure_leaves_no_customer_and_logs_the_hashed_event(
    api, email, password, failing_identity_link, caplog
):
    token = registration_token(api, email, password)

    with caplog.at_level(logging.ERROR):
        response = api.post(
            "/store/customers",
            {"email": email},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert response.status_code == 503
    assert response.json()["type"] == "unavailable"
    assert not Customer.objects.filter(email=email).exists()
    assert (
        AuthIdentity.objects.get(provider_identities__entity_id=email).customer_id
        is None
    )
    (event,) = failure_events(caplog)
    assert event.levelname == "ERROR"
    assert event.userId == email_hash(email)
    assert "sqlstate P0001" in event.error  # the injected RAISE EXCEPTION
    assert event.timestamp
    assert email not in caplog.text
    assert email not in json.dumps(event.__dict__, default=str)


def test_validation_failure_logs_the_event_too(api, email, password, caplog):
    token = registration_token(api, email, password)

    with caplog.at_level(logging.ERROR):
        response = api.post(
            "/store/customers",
            {"email": email, "first_name": 5},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert response.status_code == 400
    (event,) = failure_events(caplog)
    assert event.userId == email_hash(email)
    assert email not in caplog.text


def test_success_logs_no_event(api, email, password, caplog):
    token = registration_token(api, email, password)

    with caplog.at_level(logging.ERROR):
        api.post(
            "/store/customers",
            {"email": email},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert failure_events(caplog) == []


def test_one_client_retrying_bad_input_counts_one_orphan_event(api, email, password):
    token = api.post(
        REGISTER, {"email": email, "password": password}, format="json"
    ).json()["token"]

    for _ in range(5):
        api.post(
            "/store/customers",
            {"nope": 1},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert OrphanEvent.objects.count() == 1
