"""Verifying the address (docs/account.md): the mail with a code and a link,
confirmation by code (logged in) or link (no login), the limits and
refusals, the mail at sign-up, and what the API shows."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuthIdentity
from otp.mail import mails_drain
from otp.models import OtpChallenge, OtpFailureBudget, OtpMail, Purpose
from tests.factories import PASSWORD, customer_create, profile_create, token_for
from tests.otp.conftest import SEND as OTP_SEND
from tests.otp.conftest import send_code, time_passes, verify, wrong
from tests.security.test_broker import reset_token_in

pytestmark = pytest.mark.django_db

__all__ = ["send_code", "verify"]  # the OTP fixtures, for code logins here

SEND = "/store/auth/email/verify/send"
VERIFY = "/store/auth/email/verify"
ME = "/store/customers/me"
SIGNUP = "/store/auth/signup"
REGISTER = "/auth/customer/emailpass/register"
LOGIN = "/auth/customer/emailpass"
SUBJECT = "Confirm your e-mail address"


def verification_mails(to: str) -> list:
    return [m for m in mail.outbox if m.to == [to] and m.subject == SUBJECT]


def mailed(to: str) -> tuple[str, str]:
    """The code and the link's token of the newest verification mail."""
    messages = verification_mails(to)
    assert messages, f"no verification mail ({len(mail.outbox)} in outbox)"
    body = messages[-1].body
    code = re.search(r"code is (\d{6})", body).group(1)
    url = re.search(r"(http\S+verify-email\?\S+)", body).group(1)
    return code, parse_qs(urlsplit(url).query)["token"][0]


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def customer(email):
    return customer_create(email=email)


@pytest.fixture
def token(customer):
    return token_for(customer)


@pytest.fixture
def signed_up(api, email, django_capture_on_commit_callbacks):
    """A one-step sign-up, its after-commit mail sent; its answer."""

    def call():
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                SIGNUP, {"email": email, "password": PASSWORD}, format="json"
            )

    return call


@pytest.fixture
def send(api, django_capture_on_commit_callbacks):
    def call(token: str | None):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(SEND, **(bearer(token) if token else {}))

    return call


def test_send_mails_a_code_and_a_link_and_the_code_verifies(api, email, token, send):
    sent = send(token)
    code, link_token = mailed(email)
    (message,) = verification_mails(email)
    html = message.alternatives[0][0]

    verified = api.post(VERIFY, {"code": code}, format="json", **bearer(token))
    me = api.get(ME, **bearer(token))

    assert (sent.status_code, sent.json()) == (200, {"success": True, "expiresIn": 600})
    assert code in html
    assert "verify-email?token=" in html
    assert "10 minutes" in message.body
    assert verified.status_code == 200, verified.content
    assert verified.json()["customer"]["email"] == email
    assert verified.json()["customer"]["email_verified"] is True
    # The customer stays logged in: the token used for the code still works.
    assert me.status_code == 200
    assert me.json()["customer"]["email_verified"] is True
    assert list(me.json()["customer"])[-1] == "email_verified"
    assert AuthIdentity.objects.get(customer__email=email).email_verified_at


def test_me_shows_false_until_verified_and_post_me_shows_it_too(api, token):
    before = api.get(ME, **bearer(token))
    updated = api.post(ME, {"first_name": "Ada"}, format="json", **bearer(token))
    selected = api.get(ME + "?fields=id,email", **bearer(token))
    added = api.get(ME + "?fields=id,+email_verified", **bearer(token))

    assert before.json()["customer"]["email_verified"] is False
    assert updated.json()["customer"]["email_verified"] is False
    assert "email_verified" not in selected.json()["customer"]
    assert added.json()["customer"] == {
        "id": before.json()["customer"]["id"],
        "email_verified": False,
    }


def test_the_link_verifies_without_a_login_and_only_once(api, email, token, send):
    send(token)
    _, link_token = mailed(email)

    first = api.post(VERIFY, {"token": link_token}, format="json")
    again = api.post(VERIFY, {"token": link_token}, format="json")

    assert first.status_code == 200, first.content
    assert first.json()["customer"]["email_verified"] is True
    assert again.status_code == 400
    assert again.json()["code"] == "otp_not_found"
    # No revocation: the customer's token still works.
    assert api.get(ME, **bearer(token)).status_code == 200


def test_the_link_works_even_with_a_stale_token_sent_along(api, email, token, send):
    send(token)
    _, link_token = mailed(email)

    response = api.post(
        VERIFY, {"token": link_token}, format="json", **bearer("not-a-token")
    )

    assert response.status_code == 200


def test_a_forged_or_altered_link_token_is_refused(api, email, token, send):
    send(token)
    _, link_token = mailed(email)
    challenge = OtpChallenge.objects.get(email=email, purpose=Purpose.VERIFY)

    altered = api.post(VERIFY, {"token": link_token[:-2] + "xx"}, format="json")
    forged = api.post(VERIFY, {"token": f"{challenge.id}:x:y"}, format="json")

    assert (altered.status_code, altered.json()["code"]) == (400, "otp_not_found")
    assert (forged.status_code, forged.json()["code"]) == (400, "otp_not_found")
    challenge.refresh_from_db()
    assert challenge.attempts == 0
    assert challenge.consumed_at is None


def test_wrong_codes_are_counted_and_the_fifth_locks(api, email, token, send):
    send(token)
    code, link_token = mailed(email)

    answers = [
        api.post(VERIFY, {"code": wrong(code)}, format="json", **bearer(token))
        for _ in range(5)
    ]
    right_after = api.post(VERIFY, {"code": code}, format="json", **bearer(token))
    link_after = api.post(VERIFY, {"token": link_token}, format="json")

    assert answers[0].status_code == 400
    assert answers[0].json() == {
        "type": "invalid_data",
        "code": "otp_invalid",
        "message": "Invalid code",
        "remainingAttempts": 4,
    }
    assert answers[4].json()["code"] == "otp_locked"
    assert right_after.json()["code"] == "otp_locked"
    assert link_after.json()["code"] == "otp_locked"
    challenge = OtpChallenge.objects.get(email=email, purpose=Purpose.VERIFY)
    assert challenge.attempts == 5
    assert challenge.locked_at is not None
    # The address's failure budget is shared with code logins.
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 5
    assert AuthIdentity.objects.get(customer__email=email).email_verified_at is None


def test_an_expired_code_and_an_expired_link_are_refused(api, email, token, send):
    send(token)
    code, link_token = mailed(email)
    time_passes(601, email=email)

    by_code = api.post(VERIFY, {"code": code}, format="json", **bearer(token))
    by_link = api.post(VERIFY, {"token": link_token}, format="json")

    assert (by_code.status_code, by_code.json()["code"]) == (400, "otp_expired")
    assert (by_link.status_code, by_link.json()["code"]) == (400, "otp_expired")


def test_a_resend_replaces_the_previous_code_and_link(api, email, token, send):
    send(token)
    old_code, old_link = mailed(email)
    time_passes(61, email=email)
    resent = send(token)
    new_code, _ = mailed(email)

    old = api.post(VERIFY, {"token": old_link}, format="json")

    assert resent.status_code == 200
    assert old.json()["code"] == "otp_not_found"
    if old_code != new_code:
        by_old_code = api.post(
            VERIFY, {"code": old_code}, format="json", **bearer(token)
        )
        assert by_old_code.json()["code"] == "otp_invalid"


def test_resend_obeys_the_otp_cooldown_and_hourly_budget(api, email, token, send):
    first = send(token)
    at_once = send(token)
    for _ in range(4):
        time_passes(61, email=email)
        assert send(token).status_code == 200
    time_passes(61, email=email)
    sixth = send(token)

    assert first.status_code == 200
    assert at_once.status_code == 429
    assert int(at_once["Retry-After"]) > 0
    assert at_once.json()["type"] == "too_many_requests"
    assert sixth.status_code == 429
    assert len(verification_mails(email)) == 5


def test_a_verification_mail_does_not_replace_a_login_code(
    api, email, token, send, verify
):
    from tests.otp.conftest import mailed_code

    api.post(OTP_SEND, {"email": email}, format="json")
    login_code = mailed_code(email)
    send(token)
    verification_code, _ = mailed(email)

    as_verification = api.post(
        VERIFY, {"code": login_code}, format="json", **bearer(token)
    )
    code_login = verify(email, login_code)

    if login_code != verification_code:  # one chance in a million
        assert as_verification.json()["code"] == "otp_invalid"
    assert code_login.status_code == 200


def test_unauthenticated_send_and_code_verify_are_401(api, email):
    registration = api.post(
        REGISTER, {"email": email, "password": PASSWORD}, format="json"
    ).json()["token"]

    send = api.post(SEND)
    send_registration = api.post(SEND, **bearer(registration))
    verify = api.post(VERIFY, {"code": "123456"}, format="json")
    verify_registration = api.post(
        VERIFY, {"code": "123456"}, format="json", **bearer(registration)
    )

    for response in (send, send_registration, verify, verify_registration):
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "123456", "token": "abc"},
        {"code": "123456", "email": "a@example.com"},
        {"token": ""},
        {"code": 123456},
        {"token": ["a"]},
    ],
)
def test_bad_bodies_are_400_in_our_shape(api, token, body):
    response = api.post(VERIFY, body, format="json", **bearer(token))

    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data"
    assert isinstance(response.json()["message"], str)


def test_already_verified_is_idempotent_and_sends_nothing(api, email, token, send):
    AuthIdentity.objects.filter(customer__email=email).update(
        email_verified_at="2026-01-01T00:00:00Z"
    )

    sent = send(token)
    verified = api.post(VERIFY, {"code": "000000"}, format="json", **bearer(token))
    malformed = api.post(VERIFY, {"code": "12345"}, format="json", **bearer(token))

    assert (sent.status_code, sent.json()) == (200, {"success": True, "expiresIn": 0})
    assert verification_mails(email) == []
    assert verified.status_code == 200
    assert verified.json()["customer"]["email_verified"] is True
    assert (malformed.status_code, malformed.json()["code"]) == (400, "otp_invalid")


def test_a_mail_asked_for_while_the_broker_is_down_goes_once_it_is_back(
    api, email, token, broker_down
):
    response = api.post(SEND, **bearer(token))

    assert response.status_code == 200
    challenge = OtpChallenge.objects.get(email=email, purpose=Purpose.VERIFY)
    assert OtpMail.objects.filter(challenge=challenge).exists()
    # What beat's minute kick starts once the broker answers again.
    assert mails_drain().sent == 1
    code, link_token = mailed(email)
    assert api.post(VERIFY, {"token": link_token}, format="json").status_code == 200


def test_no_code_token_or_email_in_logs(api, email, token, send, caplog):
    send(token)
    code, link_token = mailed(email)
    api.post(VERIFY, {"code": wrong(code)}, format="json", **bearer(token))
    api.post(VERIFY, {"token": link_token}, format="json")

    assert code not in caplog.text
    assert link_token not in caplog.text
    assert email not in caplog.text


# Sign-up sends the mail by itself, once.


def test_one_step_signup_sends_one_verification_mail(api, email, signed_up):
    response = signed_up()

    assert response.status_code == 200
    assert response.json()["customer"]["email_verified"] is False
    assert len(verification_mails(email)) == 1
    code, _ = mailed(email)
    verified = api.post(
        VERIFY, {"code": code}, format="json", **bearer(response.json()["token"])
    )
    assert verified.json()["customer"]["email_verified"] is True


def test_two_step_signup_sends_one_mail_from_the_profile_step(
    api, email, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        registration = api.post(
            REGISTER, {"email": email, "password": PASSWORD}, format="json"
        ).json()["token"]
    after_register = len(verification_mails(email))
    with django_capture_on_commit_callbacks(execute=True):
        created = profile_create(api, registration, email)

    assert after_register == 0
    assert created.status_code == 200
    assert created.json()["customer"]["email_verified"] is False
    assert len(verification_mails(email)) == 1


def test_a_code_login_sign_up_gets_no_verification_mail(
    api, email, send_code, verify, django_capture_on_commit_callbacks
):
    body = verify(email, send_code(email)).json()
    with django_capture_on_commit_callbacks(execute=True):
        created = profile_create(api, body["token"], email)

    assert created.json()["customer"]["email_verified"] is True
    assert verification_mails(email) == []


def test_sign_ups_succeed_when_the_broker_is_down(
    api, email, broker_down, django_capture_on_commit_callbacks, caplog
):
    other = "other." + email
    with django_capture_on_commit_callbacks(execute=True):
        one_step = api.post(
            SIGNUP, {"email": email, "password": PASSWORD}, format="json"
        )
        registration = api.post(
            REGISTER, {"email": other, "password": PASSWORD}, format="json"
        ).json()["token"]
        two_step = profile_create(api, registration, other)

    assert one_step.status_code == 200
    assert two_step.status_code == 200
    # Each mail waits with its challenge for the broker to come back.
    assert OtpMail.objects.filter(challenge__email__in=[email, other]).count() == 2
    assert "Verification mail not sent at sign-up" not in caplog.text
    assert mails_drain().sent == 2
    assert mailed(email)
    assert mailed(other)
    assert email not in caplog.text


def test_sign_up_answers_before_a_resend_is_allowed(api, email, signed_up):
    token = signed_up().json()["token"]
    resend = api.post(SEND, **bearer(token))

    assert resend.status_code == 429  # the sign-up's mail started the cooldown


# The pre-registration defence (docs/otp.md): a confirmed password survives
# a code login; an unconfirmed one still dies.


def test_a_customer_who_confirmed_keeps_the_password_after_a_code_login(
    api, email, send_code, verify, signed_up, django_capture_on_commit_callbacks
):
    token = signed_up().json()["token"]
    code, _ = mailed(email)
    assert (
        api.post(VERIFY, {"code": code}, format="json", **bearer(token)).status_code
        == 200
    )

    with django_capture_on_commit_callbacks(execute=True):
        code_login = verify(email, send_code(email))
    login = api.post(LOGIN, {"email": email, "password": PASSWORD}, format="json")

    assert code_login.status_code == 200
    assert login.status_code == 200
    assert api.get(ME, **bearer(token)).status_code == 200
    assert password_disabled_notices(email) == []


def test_a_customer_who_never_confirmed_loses_the_password_at_a_code_login(
    api, email, send_code, verify, signed_up, django_capture_on_commit_callbacks
):
    token = signed_up().json()["token"]

    with django_capture_on_commit_callbacks(execute=True):
        code_login = verify(email, send_code(email))
    login = api.post(LOGIN, {"email": email, "password": PASSWORD}, format="json")

    assert code_login.status_code == 200
    assert login.status_code == 401
    assert api.get(ME, **bearer(token)).status_code == 401
    # The notice tells them, with a link that sets a new password.
    (notice,) = password_disabled_notices(email)
    updated = api.post(
        "/auth/customer/emailpass/update",
        {"password": "a brand new passphrase"},
        format="json",
        **bearer(reset_token_in(notice.body)),
    )
    assert updated.status_code == 200, updated.content
    assert (
        api.post(
            LOGIN, {"email": email, "password": "a brand new passphrase"}, format="json"
        ).status_code
        == 200
    )


def password_disabled_notices(to: str) -> list:
    return [
        m
        for m in mail.outbox
        if m.to == [to] and m.subject == "Your password was switched off"
    ]


# What it costs, and the schema.


def counted(context: CaptureQueriesContext) -> int:
    # Not len(context): its list is read from the log when asked, and the
    # log may have been emptied since.
    return context.final_queries - context.initial_queries


@pytest.fixture
def whole_requests():
    """CaptureQueriesContext counts a whole request: Django empties the
    query log when a request starts (reset_queries on request_started)."""
    from django.core.signals import request_started
    from django.db import reset_queries

    assert request_started.disconnect(reset_queries)
    yield
    request_started.connect(reset_queries)


def test_queries_per_request(api, email, token, send, whole_requests):
    """The numbers docs/account.md states (authentication included)."""
    with CaptureQueriesContext(connection) as sending:
        send(token)
    code, _ = mailed(email)
    with CaptureQueriesContext(connection) as verifying:
        by_code = api.post(VERIFY, {"code": code}, format="json", **bearer(token))
    with CaptureQueriesContext(connection) as again:
        api.post(VERIFY, {"code": code}, format="json", **bearer(token))
    with CaptureQueriesContext(connection) as me:
        api.get(ME, **bearer(token))
    time_passes(61, email=email)
    AuthIdentity.objects.filter(customer__email=email).update(email_verified_at=None)
    send(token)
    _, link_token = mailed(email)
    with CaptureQueriesContext(connection) as by_link:
        linked = api.post(VERIFY, {"token": link_token}, format="json")

    counts = {
        "send": counted(sending),
        "verify by code": counted(verifying),
        "verify again": counted(again),
        "me": counted(me),
        "verify by link": counted(by_link),
    }
    print(f"queries: {counts}")  # noqa: T201
    assert by_code.status_code == 200
    assert linked.status_code == 200
    # The send's 5, and after its commit the drain's 4, run eagerly here:
    # dead leases, the lease, the row deleted; its mark cleared, the lease
    # once more, its last look (otp/mail.py, otp/tasks.py).
    assert counts == {
        "send": 9,
        "verify by code": 11,
        "verify again": 2,
        "me": 1,
        "verify by link": 11,
    }


def test_the_routes_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]

    assert "post" in paths[SEND]
    assert "post" in paths[VERIFY]
    customer = schema["components"]["schemas"]
    body = paths[VERIFY]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert name.startswith("EmailVerify")
    assert set(customer[name]["properties"]) == {"code", "token"}
    me = paths[ME]["get"]["responses"]["200"]["content"]["application/json"]
    assert me["schema"]["properties"]["customer"]["properties"]["email_verified"] == (
        {
            "type": "boolean",
            "description": me["schema"]["properties"]["customer"]["properties"][
                "email_verified"
            ]["description"],
        }
    )


def test_verification_expires_with_the_code_lifetime(api, email, token, send):
    send(token)
    challenge = OtpChallenge.objects.get(email=email, purpose=Purpose.VERIFY)

    assert challenge.expires_at - challenge.created_at == timedelta(seconds=600)
