"""Pre-registration takeover: someone registers the victim's address with
their own password before the victim signs up by e-mailed code. Proving the
mailbox disables a password nobody proved, and refuses the squatter's
tokens."""

import logging

import pytest
from django.core import mail
from django.db import OperationalError

from accounts import services
from accounts.models import AuthIdentity
from tests.factories import customer_create, profile_create
from tests.otp.conftest import SEND, time_passes
from tests.security.test_broker import reset_token_in

pytestmark = pytest.mark.django_db

REGISTER = "/auth/customer/emailpass/register"
LOGIN = "/auth/customer/emailpass"
SQUATTER_PASSWORD = "the squatters passphrase"


def test_a_squatters_password_dies_when_the_owner_proves_the_mailbox(
    api, email, send_code, verify, monkeypatch
):
    # The squatter registers a few seconds before the owner signs up by code.
    from datetime import timedelta

    from django.utils import timezone

    earlier = timezone.now() - timedelta(seconds=5)
    with monkeypatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: earlier)
        squatter = api.post(
            REGISTER, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
        ).json()["token"]
    owner = verify(email, send_code(email)).json()
    created = profile_create(api, owner["token"], email)

    login = api.post(
        LOGIN, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
    )
    refresh = api.post("/auth/token/refresh", HTTP_AUTHORIZATION=f"Bearer {squatter}")

    assert created.status_code == 200
    assert login.status_code == 401
    assert refresh.status_code == 401
    assert AuthIdentity.objects.get(
        customer_id=created.json()["customer"]["id"]
    ).email_verified_at


def test_a_proven_password_survives_otp_logins(api, email, password, send_code, verify):
    from tests.factories import customer_create

    customer_create(email=email, password=password)
    AuthIdentity.objects.filter(provider_identities__entity_id=email).update(
        email_verified_at="2026-01-01T00:00:00Z"
    )

    verify(email, send_code(email))

    assert (
        api.post(
            LOGIN, {"email": email, "password": password}, format="json"
        ).status_code
        == 200
    )


def test_a_squatters_password_login_does_not_lift_the_otp_hard_stop(api, email):
    """Otherwise a squatter could guess the owner's codes for ever: 100
    wrong codes, one login with their own password, 100 more."""
    from otp.models import OtpFailureBudget

    api.post(REGISTER, {"email": email, "password": SQUATTER_PASSWORD}, format="json")
    OtpFailureBudget.objects.create(email=email, consecutive_failures=100)

    login = api.post(
        LOGIN, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
    )
    send = api.post(SEND, {"email": email}, format="json")

    assert login.status_code == 200
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 100
    assert send.status_code == 429


# The notice (docs/account.md, "The password switched off by a code login").

NOTICE = "Your password was switched off"
UPDATE = "/auth/customer/emailpass/update"
NEW_PASSWORD = "the owners new passphrase"


def notices(to: str) -> list:
    return [m for m in mail.outbox if m.to == [to] and m.subject == NOTICE]


def test_the_owner_is_told_and_sets_a_password_with_the_notices_link(
    api, email, send_code, verify, django_capture_on_commit_callbacks
):
    api.post(REGISTER, {"email": email, "password": SQUATTER_PASSWORD}, format="json")

    with django_capture_on_commit_callbacks(execute=True):
        owner = verify(email, send_code(email))

    assert owner.status_code == 200
    (notice,) = notices(email)
    assert " UTC" in notice.body
    assert "first time the address was confirmed" in notice.body
    assert "within 15 minutes" in notice.body
    (html, _), *_ = notice.alternatives
    assert 'href="http://localhost:8000/reset-password?token=' in html
    assert SQUATTER_PASSWORD not in notice.body
    updated = api.post(
        UPDATE,
        {"password": NEW_PASSWORD},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {reset_token_in(notice.body)}",
    )
    assert updated.status_code == 200, updated.content
    new = api.post(LOGIN, {"email": email, "password": NEW_PASSWORD}, format="json")
    old = api.post(
        LOGIN, {"email": email, "password": SQUATTER_PASSWORD}, format="json"
    )
    assert new.status_code == 200
    assert old.status_code == 401


def test_code_logins_without_a_password_to_switch_off_send_no_notice(
    api, email, send_code, verify, django_capture_on_commit_callbacks
):
    """A sign-up by code has no password; a second code login finds the
    mailbox proven; neither tells anything."""
    other = f"other.{email}"
    customer_create(email=other)  # unconfirmed, with a password
    with django_capture_on_commit_callbacks(execute=True):
        first = verify(email, send_code(email))
        disabled = verify(other, send_code(other))
    time_passes(61)  # the resend cooldown
    with django_capture_on_commit_callbacks(execute=True):
        again = verify(email, send_code(email))
        disabled_again = verify(other, send_code(other))

    assert (first.status_code, again.status_code) == (200, 200)
    assert (disabled.status_code, disabled_again.status_code) == (200, 200)
    assert notices(email) == []
    assert len(notices(other)) == 1  # once, at the first proof


@pytest.fixture
def code(email, password, send_code) -> str:
    """A code for an account registered with a password, never confirmed."""
    customer_create(email=email, password=password)
    return send_code(email)


def test_a_rolled_back_code_login_sends_no_notice(
    api, email, password, code, verify, monkeypatch, django_capture_on_commit_callbacks
):
    def database_gone(**_kwargs):
        raise OperationalError("the database went away mid-login")

    with monkeypatch.context() as patch:
        patch.setattr(services, "customer_locale_remember", database_gone)
        with django_capture_on_commit_callbacks(execute=True):
            failed = verify(email, code)
    kept = api.post(LOGIN, {"email": email, "password": password}, format="json")

    assert failed.status_code == 503
    assert notices(email) == []
    assert kept.status_code == 200  # nothing was switched off
    # The code is still usable (docs/otp.md); this time the login stands.
    with django_capture_on_commit_callbacks(execute=True):
        assert verify(email, code).status_code == 200
    assert len(notices(email)) == 1


def test_a_broker_outage_does_not_fail_the_code_login(
    email, code, verify, request, caplog, django_capture_on_commit_callbacks
):
    request.getfixturevalue("broker_down")  # after the code was sent

    with (
        caplog.at_level(logging.ERROR, logger="accounts"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = verify(email, code)

    assert response.status_code == 200
    (record,) = [r for r in caplog.records if "notice" in r.getMessage()]
    assert record.getMessage() == "Password disabled notice could not be queued"
    assert email not in str(record.__dict__)
