"""reset-password and update: single-use 15-minute tokens, mailed by a task."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import PasswordResetToken
from tests.factories import customer_create, token_for

pytestmark = pytest.mark.django_db

RESET = "/auth/customer/emailpass/reset-password"
UPDATE = "/auth/customer/emailpass/update"
LOGIN = "/auth/customer/emailpass"
NEW_PASSWORD = "a brand new passphrase"


def request_reset(api, identifier, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return api.post(RESET, {"identifier": identifier}, format="json")


def update_password(api, token: str, password: str = NEW_PASSWORD):
    return api.post(
        UPDATE,
        {"password": password},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def mailed_token() -> str:
    (message,) = mail.outbox
    return re.search(r"token=([\w.\-]+)", message.body).group(1)


def test_a_reset_link_lifts_the_otp_hard_stop(
    api, email, password, django_capture_on_commit_callbacks
):
    from otp.models import OtpFailureBudget

    customer_create(email=email, password=password)
    OtpFailureBudget.objects.create(email=email, consecutive_failures=100)
    request_reset(api, email, django_capture_on_commit_callbacks)

    updated = update_password(api, mailed_token())

    assert updated.status_code == 200
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 0


def test_reset_mails_a_token_that_sets_the_password_once(
    api, email, password, django_capture_on_commit_callbacks
):
    customer_create(email=email, password=password)

    response = request_reset(api, email.upper(), django_capture_on_commit_callbacks)

    assert response.status_code == 201
    assert response.content == b"Created"
    assert response["Content-Type"].startswith("text/plain")
    assert mail.outbox[0].to == [email]
    assert mail.outbox[0].alternatives  # an HTML part too
    token = mailed_token()

    updated = update_password(api, token)
    reused = update_password(api, token, "yet another phrase")

    assert (updated.status_code, updated.json()) == (200, {"success": True})
    assert (reused.status_code, reused.json()) == (
        401,
        {"type": "unauthorized", "message": "Invalid token"},
    )
    old = api.post(LOGIN, {"email": email, "password": password}, format="json")
    new = api.post(LOGIN, {"email": email, "password": NEW_PASSWORD}, format="json")
    assert old.status_code == 401
    assert new.status_code == 200
    fresh = api.get(
        "/store/customers/me", HTTP_AUTHORIZATION=f"Bearer {new.json()['token']}"
    )
    assert fresh.status_code == 200


def test_stale_token_is_refused_after_the_reset(
    api, email, monkeypatch, django_capture_on_commit_callbacks
):
    customer = customer_create(email=email)
    stale_access = token_for(customer)
    request_reset(api, email, django_capture_on_commit_callbacks)
    # The reset happens a few seconds after the old token was issued.
    later = timezone.now() + timedelta(seconds=5)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    update_password(api, mailed_token())

    response = api.post(
        "/auth/token/refresh", HTTP_AUTHORIZATION=f"Bearer {stale_access}"
    )

    assert response.status_code == 401


def test_unknown_identifier_answers_the_same_and_sends_nothing(
    api, django_capture_on_commit_callbacks
):
    response = request_reset(
        api, "nobody@example.com", django_capture_on_commit_callbacks
    )

    assert (response.status_code, response.content) == (201, b"Created")
    assert mail.outbox == []


def test_missing_identifier_is_400(api):
    response = api.post(RESET, {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "type": "invalid_data",
        "message": "Invalid request: Field 'identifier' is required",
    }


def test_login_token_cannot_update_the_password(api, email):
    customer = customer_create(email=email)

    response = update_password(api, token_for(customer))

    assert (response.status_code, response.json()) == (
        401,
        {"type": "unauthorized", "message": "Invalid token"},
    )


def test_expired_reset_token_is_refused(api, email, django_capture_on_commit_callbacks):
    customer_create(email=email)
    request_reset(api, email, django_capture_on_commit_callbacks)
    now = timezone.now()
    PasswordResetToken.objects.update(
        created_at=now - timedelta(minutes=16), expires_at=now - timedelta(minutes=1)
    )

    response = update_password(api, mailed_token())

    assert response.status_code == 401


def test_a_new_request_replaces_the_previous_token(
    api, email, django_capture_on_commit_callbacks
):
    customer_create(email=email)
    request_reset(api, email, django_capture_on_commit_callbacks)
    first = mailed_token()
    mail.outbox.clear()
    request_reset(api, email, django_capture_on_commit_callbacks)

    response = update_password(api, first)

    assert response.status_code == 401
    assert PasswordResetToken.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 401), ({"password": 5}, 401), ({"password": "short"}, 400)],
)
def test_bad_new_password_keeps_the_token_usable(
    api, email, body, status, django_capture_on_commit_callbacks
):
    customer_create(email=email)
    request_reset(api, email, django_capture_on_commit_callbacks)
    token = mailed_token()

    refused = api.post(
        UPDATE, body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    accepted = update_password(api, token)

    assert refused.status_code == status
    assert accepted.status_code == 200


def test_reset_mail_and_logs_hold_no_token_or_email_in_task_repr(
    api, email, django_capture_on_commit_callbacks, caplog
):
    customer_create(email=email)

    request_reset(api, email, django_capture_on_commit_callbacks)

    token = mailed_token()
    assert token not in caplog.text
    assert email not in caplog.text


def test_reset_still_answers_201_when_the_broker_is_down_and_logs_it(
    api, email, broker_down, django_capture_on_commit_callbacks, caplog
):
    customer_create(email=email)

    response = request_reset(api, email, django_capture_on_commit_callbacks)

    assert (response.status_code, response.content) == (201, b"Created")
    assert any(
        r.getMessage() == "Password reset e-mail could not be queued"
        for r in caplog.records
    )
    assert email not in caplog.text


def test_reset_request_does_no_account_work_in_the_request(api, email, broker_down):
    customer_create(email=email)

    response = api.post(
        "/auth/customer/emailpass/reset-password", {"identifier": email}, format="json"
    )

    assert response.status_code == 201
    assert not PasswordResetToken.objects.exists()
