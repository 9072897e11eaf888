"""Changing the email (docs/account.md, "Changing the email"): a code to the
new address, the confirmation that moves logins, customer and proof
together, the refusals, the notice to the old address and its undo link."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail, signing
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from accounts.services.email_change import UNDO_SALT
from otp.models import OtpChallenge, Purpose
from tests.api.test_email_verify import counted, customer, token, whole_requests
from tests.api.test_password_change import COOKIE, fresh_client
from tests.factories import PASSWORD, customer_create, identity_create, token_for
from tests.otp.conftest import time_passes

pytestmark = pytest.mark.django_db

__all__ = ["customer", "token", "whole_requests"]  # fixtures

REQUEST = "/store/customers/me/email"
CONFIRM = "/store/customers/me/email/confirm"
UNDO = "/store/auth/email/undo"
ME = "/store/customers/me"
LOGIN = "/auth/customer/emailpass"
CODE_SUBJECT = "Confirm your new e-mail address"
NOTICE_SUBJECT = "Your e-mail address was changed"
UNDONE_SUBJECT = "Your e-mail address was restored"


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def mails(to: str, subject: str) -> list:
    return [m for m in mail.outbox if m.to == [to] and m.subject == subject]


def mailed_code(to: str) -> str:
    messages = mails(to, CODE_SUBJECT)
    assert messages, f"no code mail ({len(mail.outbox)} in outbox)"
    return re.search(r"code is (\d{6})", messages[-1].body).group(1)


def undo_token(to: str) -> str:
    messages = mails(to, NOTICE_SUBJECT)
    assert messages, "no notice to the old address"
    url = re.search(r"(http\S+undo-email-change\?\S+)", messages[-1].body).group(1)
    return parse_qs(urlsplit(url).query)["token"][0]


@pytest.fixture
def new_email(email):
    return "new." + email


@pytest.fixture
def post(api, django_capture_on_commit_callbacks):
    def call(path: str, body: dict, token: str | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                path, body, format="json", **(bearer(token) if token else {})
            )

    return call


def login(api, email: str):
    return api.post(LOGIN, {"email": email, "password": PASSWORD}, format="json")


def test_change_moves_logins_customer_and_proof(
    api, post, email, new_email, customer, token
):
    response = post(REQUEST, {"email": new_email.upper()}, token)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "expiresIn": 600}
    assert not mails(email, CODE_SUBJECT)
    code = mailed_code(new_email)

    response = post(CONFIRM, {"code": code}, token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer"]["email"] == new_email
    assert body["customer"]["email_verified"] is True
    new_token = body["token"]

    customer.refresh_from_db()
    assert customer.email == new_email
    identity = AuthIdentity.objects.get(customer=customer)
    assert identity.email_verified_at is not None
    assert set(
        ProviderIdentity.objects.filter(auth_identity=identity).values_list(
            "entity_id", flat=True
        )
    ) == {new_email}

    assert login(api, new_email).status_code == 200
    assert login(api, email).status_code == 401
    assert api.get(ME, **bearer(token)).status_code == 401
    me = api.get(ME, **bearer(new_token))
    assert me.status_code == 200
    assert me.json()["customer"]["email"] == new_email

    notice = mails(email, NOTICE_SUBJECT)
    assert len(notice) == 1
    assert "72 hours" in notice[0].body
    # Neither the mail nor its link (signed, readable) names the new address.
    assert new_email not in notice[0].body
    assert new_email not in signing.loads(undo_token(email), salt=UNDO_SALT).values()


def test_wrong_and_expired_codes_change_nothing(post, email, new_email, token):
    assert post(REQUEST, {"email": new_email}, token).status_code == 200
    code = mailed_code(new_email)
    wrong = "000000" if code != "000000" else "111111"
    response = post(CONFIRM, {"code": wrong}, token)
    assert response.status_code == 400
    assert response.json()["code"] == "otp_invalid"
    assert response.json()["remainingAttempts"] == 4
    time_passes(601, email=new_email)
    response = post(CONFIRM, {"code": code}, token)
    assert response.status_code == 400
    assert response.json()["code"] == "otp_expired"
    assert Customer.objects.filter(email=email).exists()
    assert not mails(email, NOTICE_SUBJECT)


def test_confirm_without_a_request_is_not_found(post, token):
    response = post(CONFIRM, {"code": "123456"}, token)
    assert response.status_code == 400
    assert response.json()["code"] == "otp_not_found"


def test_taken_address_at_request_is_422_with_registers_wording(post, new_email, token):
    customer_create(email=new_email)
    response = post(REQUEST, {"email": new_email}, token)
    assert response.status_code == 422
    assert response.json()["type"] == "duplicate_error"
    assert response.json()["message"] == "Identity with email already exists"
    assert not mails(new_email, CODE_SUBJECT)


def test_an_unfinished_identity_takes_the_address_too(post, new_email, token):
    identity_create(email=new_email)
    assert post(REQUEST, {"email": new_email}, token).status_code == 422


def test_address_taken_before_confirm_is_422_and_nothing_changes(
    post, email, new_email, customer, token
):
    assert post(REQUEST, {"email": new_email}, token).status_code == 200
    code = mailed_code(new_email)
    other = customer_create(email=new_email)  # a sign-up won the race
    response = post(CONFIRM, {"code": code}, token)
    assert response.status_code == 422
    assert response.json()["type"] == "duplicate_error"
    customer.refresh_from_db()
    assert customer.email == email
    assert ProviderIdentity.objects.filter(entity_id=email).exists()
    assert (
        ProviderIdentity.objects.get(entity_id=new_email).auth_identity.customer
        == other
    )
    # The code was not spent, and the old token still works.
    assert (
        OtpChallenge.objects.get(
            email=new_email, purpose=Purpose.EMAIL_CHANGE
        ).consumed_at
        is None
    )
    assert not mails(email, NOTICE_SUBJECT)


def test_same_address_is_400(post, email, token):
    response = post(REQUEST, {"email": email.upper()}, token)
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-address"},
        {"email": 5},
        {"email": "a@example.com", "extra": 1},
    ],
)
def test_bad_request_bodies_are_400(post, token, body):
    assert post(REQUEST, body, token).status_code == 400


@pytest.mark.parametrize("body", [{}, {"code": 123456}, {"code": "1", "x": 1}])
def test_bad_confirm_bodies_are_400(post, token, body):
    assert post(CONFIRM, body, token).status_code == 400


def test_without_auth_is_401(post, new_email):
    assert post(REQUEST, {"email": new_email}).status_code == 401
    assert post(CONFIRM, {"code": "123456"}).status_code == 401


def test_another_accounts_request_does_not_confirm_mine(post, new_email, token):
    assert post(REQUEST, {"email": new_email}, token).status_code == 200
    code = mailed_code(new_email)
    other = customer_create(email="other." + new_email)
    # The other account asks for the same address: mine is replaced.
    time_passes(61, email=new_email)
    assert post(REQUEST, {"email": new_email}, token_for(other)).status_code == 200
    response = post(CONFIRM, {"code": code}, token)
    assert response.status_code == 400
    assert response.json()["code"] == "otp_not_found"


def changed(post, email: str, new_email: str, token: str) -> str:
    assert post(REQUEST, {"email": new_email}, token).status_code == 200
    response = post(CONFIRM, {"code": mailed_code(new_email)}, token)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_undo_within_72_hours_restores_and_revokes(
    api, post, email, new_email, customer
):
    new_token = changed(post, email, new_email, token_for(customer))
    response = post(UNDO, {"token": undo_token(email)})
    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert "new password" in response.json()["message"]
    customer.refresh_from_db()
    assert customer.email == email
    assert login(api, email).status_code == 200
    assert login(api, new_email).status_code == 401
    assert api.get(ME, **bearer(new_token)).status_code == 401
    assert mails(email, UNDONE_SUBJECT)
    # Spent: a second use is refused.
    response = post(UNDO, {"token": undo_token(email)})
    assert response.status_code == 400
    assert response.json()["code"] == "undo_invalid"


def test_undo_after_72_hours_or_forged_is_refused(
    post, email, new_email, customer, monkeypatch
):
    changed(post, email, new_email, token_for(customer))
    token = undo_token(email)
    real_time = signing.time.time
    monkeypatch.setattr(
        signing.time,
        "time",
        lambda: real_time() + timedelta(hours=72, seconds=1).total_seconds(),
    )
    response = post(UNDO, {"token": token})
    assert response.status_code == 400
    assert response.json()["code"] == "undo_invalid"
    monkeypatch.undo()
    forged = signing.dumps(
        {
            "i": AuthIdentity.objects.get(customer=customer).id,
            "o": email,
        },
        salt=UNDO_SALT + "x",
    )
    assert post(UNDO, {"token": forged}).status_code == 400
    assert post(UNDO, {"token": token + "x"}).status_code == 400
    customer.refresh_from_db()
    assert customer.email == new_email


def test_undo_when_the_old_address_was_taken_is_422(post, email, new_email, customer):
    changed(post, email, new_email, token_for(customer))
    customer_create(email=email)
    response = post(UNDO, {"token": undo_token(email)})
    assert response.status_code == 422
    customer.refresh_from_db()
    assert customer.email == new_email


def test_no_address_code_or_token_in_logs(post, email, new_email, token, caplog):
    with caplog.at_level("DEBUG"):
        changed(post, email, new_email, token)
    code = mailed_code(new_email)
    undo = undo_token(email)
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert email not in text
        assert new_email not in text
        assert code not in text
        assert undo not in text


def test_queries_per_request(post, email, new_email, token, whole_requests):
    """The numbers docs/account.md states (authentication included)."""
    with CaptureQueriesContext(connection) as request_queries:
        assert post(REQUEST, {"email": new_email}, token).status_code == 200
    code = mailed_code(new_email)
    with CaptureQueriesContext(connection) as confirm_queries:
        assert post(CONFIRM, {"code": code}, token).status_code == 200
    with CaptureQueriesContext(connection) as undo_queries:
        assert post(UNDO, {"token": undo_token(email)}).status_code == 200
    counts = (counted(request_queries), counted(confirm_queries), counted(undo_queries))
    print("queries per request, confirm, undo:", counts)  # noqa: T201
    # The request's 7, and after its commit the code mail's drain's 4 (dead
    # leases, the lease, the row deleted; the lease once more, its last
    # look: otp/mail.py, otp/tasks.py), eager here. The
    # undo's 16th is the eager worker's: its mail, without a request
    # language, reads the customer's (mail_language_for_email).
    assert counts == (11, 25, 16)


def test_a_cookie_session_confirms_and_gets_a_new_cookie(
    email, new_email, customer, publishable_key, django_capture_on_commit_callbacks
):
    browser = fresh_client(publishable_key)
    browser.post("/auth/session", **bearer(token_for(customer)))
    old_cookie = browser.cookies[COOKIE].value
    with django_capture_on_commit_callbacks(execute=True):
        asked = browser.post(REQUEST, {"email": new_email}, format="json")
    assert asked.status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            CONFIRM, {"code": mailed_code(new_email)}, format="json"
        )

    assert response.status_code == 200, response.content
    assert response.cookies[COOKIE].value != old_cookie
    assert browser.get(ME).json()["customer"]["email"] == new_email
    stale = fresh_client(publishable_key)
    stale.cookies[COOKIE] = old_cookie
    assert stale.get(ME).status_code == 401


def test_a_second_change_does_not_void_the_first_undo(
    api, post, email, new_email, customer
):
    newer = changed(post, email, new_email, token_for(customer))
    time_passes(61, subject=AuthIdentity.objects.get(customer=customer).id)
    changed(post, new_email, "third." + email, newer)
    response = post(UNDO, {"token": undo_token(email)})
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.email == email
    assert login(api, email).status_code == 200
