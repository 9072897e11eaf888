"""DELETE /store/customers/me: erasure (GDPR art. 17) with the password or
an e-mailed code; what is left afterwards, read from outside."""

import pytest
from django.core import mail
from django.db import connection

from accounts.models import (
    AuthIdentity,
    Customer,
    CustomerAddress,
    PasswordResetToken,
    ProviderIdentity,
)
from core.emails import email_hash
from otp.models import OtpChallenge, OtpFailureBudget
from privacy.models import Erasure
from replica.models import Change
from tests.factories import customer_create, token_for
from tests.otp.conftest import send_code, time_passes, wrong

__all__ = ["send_code"]

pytestmark = pytest.mark.django_db

ME = "/store/customers/me"
LOGIN = "/auth/customer/emailpass"
SEND = "/store/auth/otp/send"


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def delete_me(api, body, token=None, capture=None):
    headers = bearer(token) if token else {}
    if capture is None:
        return api.delete(ME, body, format="json", **headers)
    with capture(execute=True):
        return api.delete(ME, body, format="json", **headers)


@pytest.fixture
def account(api, email, password):
    """A customer with an address, a reset link pending and a cookie
    session, signed up through the API."""
    answer = api.post(
        "/store/auth/signup", {"email": email, "password": password}, format="json"
    )
    assert answer.status_code == 200
    token = answer.json()["token"]
    customer_id = answer.json()["customer"]["id"]
    added = api.post(
        f"{ME}/addresses",
        {"city": "Lyon", "country_code": "fr", "is_default_shipping": True},
        format="json",
        **bearer(token),
    )
    assert added.status_code == 200
    assert (
        api.post(
            "/auth/customer/emailpass/reset-password",
            {"identifier": email},
            format="json",
        ).status_code
        == 201
    )
    return customer_id, token


def test_delete_with_the_password_erases_the_account(
    api, email, password, account, django_capture_on_commit_callbacks
):
    customer_id, token = account
    identity_id = AuthIdentity.objects.get(customer_id=customer_id).id
    assert PasswordResetToken.objects.filter(
        provider_identity__auth_identity_id=identity_id
    ).exists()
    refresh_token = api.post("/auth/token/refresh", **bearer(token)).json()["token"]
    mail.outbox.clear()

    answer = delete_me(
        api, {"password": password}, token, django_capture_on_commit_callbacks
    )

    assert (answer.status_code, answer.json()) == (
        200,
        {"id": customer_id, "object": "customer", "deleted": True},
    )
    # Every token of the account is refused, and the password is gone.
    for old in (token, refresh_token):
        assert api.get(ME, **bearer(old)).status_code == 401
        assert api.post("/auth/token/refresh", **bearer(old)).status_code == 401
    login = api.post(LOGIN, {"email": email, "password": password}, format="json")
    assert login.status_code == 401
    # Nothing of the person is left here.
    assert not Customer.objects.filter(id=customer_id).exists()
    assert not CustomerAddress.objects.filter(customer_id=customer_id).exists()
    assert not AuthIdentity.objects.filter(id=identity_id).exists()
    assert not ProviderIdentity.objects.filter(entity_id=email).exists()
    assert not PasswordResetToken.objects.filter(
        provider_identity__auth_identity_id=identity_id
    ).exists()
    # The audit keeps the id, the time and the email's HMAC, never the email.
    erasure = Erasure.objects.get(customer_id=customer_id)
    assert (erasure.email_hash, erasure.actor, erasure.proof) == (
        email_hash(email),
        "customer",
        "password",
    )
    assert erasure.staff_user_id is None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM privacy_erasure e "
            "WHERE row_to_json(e)::text ILIKE %s",
            [f"%{email.split('@')[0]}%"],
        )
        assert cursor.fetchone() == (0,)
    # The replica's outbox recorded the delete, for Medusa's row to be erased.
    assert Change.objects.filter(customer_id=customer_id).exists()
    # The notice went to the address, after the commit.
    (notice,) = mail.outbox
    assert notice.to == [email]
    assert "deleted" in notice.subject
    assert notice.alternatives


def test_the_address_can_sign_up_again(api, email, password, account):
    customer_id, token = account
    assert delete_me(api, {"password": password}, token).status_code == 200

    again = api.post(
        "/store/auth/signup", {"email": email, "password": password}, format="json"
    )

    assert again.status_code == 200
    assert again.json()["customer"]["id"] != customer_id
    assert again.json()["customer"]["email"] == email
    assert api.get(ME, **bearer(again.json()["token"])).status_code == 200
    assert (
        api.post(
            LOGIN, {"email": email, "password": password}, format="json"
        ).status_code
        == 200
    )


def test_a_code_login_after_deletion_starts_a_new_account(
    api, email, password, account, send_code
):
    _, token = account
    assert delete_me(api, {"password": password}, token).status_code == 200

    verified = api.post(
        "/store/auth/otp/verify",
        {"email": email, "code": send_code(email)},
        format="json",
    )

    assert verified.status_code == 200
    assert verified.json()["isNewUser"] is True


def test_delete_with_a_mailed_code(
    api, email, account, send_code, django_capture_on_commit_callbacks
):
    customer_id, token = account
    code = send_code(email)
    mail.outbox.clear()

    answer = delete_me(api, {"code": code}, token, django_capture_on_commit_callbacks)

    assert answer.status_code == 200
    assert not Customer.objects.filter(id=customer_id).exists()
    assert not OtpChallenge.objects.filter(email=email).exists()
    assert not OtpFailureBudget.objects.filter(email=email).exists()
    assert Erasure.objects.get(customer_id=customer_id).proof == "code"
    assert api.get(ME, **bearer(token)).status_code == 401
    assert [m.to for m in mail.outbox] == [[email]]


def test_a_wrong_code_is_counted_and_changes_nothing(api, email, account, send_code):
    customer_id, token = account
    code = send_code(email)

    answer = delete_me(api, {"code": wrong(code)}, token)

    assert answer.status_code == 400
    assert answer.json()["code"] == "otp_invalid"
    assert answer.json()["remainingAttempts"] == 4
    assert Customer.objects.filter(id=customer_id).exists()
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 1
    assert not Erasure.objects.filter(customer_id=customer_id).exists()
    # The right code still works afterwards.
    assert delete_me(api, {"code": code}, token).status_code == 200


def test_an_expired_code_is_refused(api, email, account, send_code):
    customer_id, token = account
    code = send_code(email)
    time_passes(3600, email=email)

    answer = delete_me(api, {"code": code}, token)

    assert (answer.status_code, answer.json()["code"]) == (400, "otp_expired")
    assert Customer.objects.filter(id=customer_id).exists()


def test_a_code_sent_to_another_address_does_not_erase(api, email, account, send_code):
    customer_id, token = account
    other = f"other.{email}"
    code = send_code(other)

    answer = delete_me(api, {"code": code}, token)

    assert answer.status_code == 400
    assert Customer.objects.filter(id=customer_id).exists()


def test_a_wrong_password_is_401_counted_and_changes_nothing(
    api, email, password, account, settings
):
    customer_id, token = account
    settings.LOGIN_FAILURES_PER_EMAIL_CLIENT = 2
    mail.outbox.clear()

    first = delete_me(api, {"password": "not the password"}, token)
    second = delete_me(api, {"password": "not the password"}, token)
    third = delete_me(api, {"password": password}, token)

    assert (first.status_code, first.json()) == (
        401,
        {"type": "unauthorized", "message": "Invalid password"},
    )
    assert second.status_code == 401
    # Counted as failed logins of the address: the limit applies to the
    # right password too, and to the login route.
    assert third.status_code == 429
    assert "Retry-After" in third
    login = api.post(LOGIN, {"email": email, "password": password}, format="json")
    assert login.status_code == 429
    assert Customer.objects.filter(id=customer_id).exists()
    assert CustomerAddress.objects.filter(customer_id=customer_id).exists()
    assert api.get(ME, **bearer(token)).status_code == 200
    assert not Erasure.objects.filter(customer_id=customer_id).exists()
    assert mail.outbox == []


def test_an_account_without_a_password_needs_a_code(api, email, send_code):
    code = send_code(email)
    token = api.post(
        "/store/auth/otp/verify", {"email": email, "code": code}, format="json"
    ).json()["token"]
    created = api.post(
        ME.rsplit("/", 1)[0], {"email": email}, format="json", **bearer(token)
    )
    assert created.status_code == 200
    token = api.post("/auth/token/refresh", **bearer(token)).json()["token"]

    refused = delete_me(api, {"password": "anything at all"}, token)

    assert refused.status_code == 401
    assert Customer.objects.filter(email=email).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"password": ""},
        {"password": "x", "code": "123456"},
        {"code": "12ab"},
        {"password": 123},
        {"reason": "gone"},
    ],
)
def test_missing_or_mixed_proof_is_400(api, email, account, body):
    customer_id, token = account

    answer = delete_me(api, body, token)

    assert answer.status_code == 400
    assert answer.json()["type"] == "invalid_data"
    assert Customer.objects.filter(id=customer_id).exists()


def test_unauthenticated_is_401(api, password):
    assert api.delete(ME, {"password": password}, format="json").status_code == 401
    answer = api.delete(ME, {"password": password}, format="json", **bearer("x.y.z"))
    assert answer.json() == {"message": "Unauthorized"}


def test_a_registration_token_cannot_delete(api, email, password):
    token = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": password},
        format="json",
    ).json()["token"]

    assert delete_me(api, {"password": password}, token).status_code == 401
    assert ProviderIdentity.objects.filter(entity_id=email).exists()


def test_delete_through_a_cookie_session_ends_it(api, email, password):
    customer = customer_create(email=email, password=password)
    api.post("/auth/session", **bearer(token_for(customer)))
    cookie = api.cookies["connect.sid"].value

    answer = api.delete(ME, {"password": password}, format="json")

    assert answer.status_code == 200
    assert answer.cookies["connect.sid"].value == ""
    api.cookies["connect.sid"] = cookie
    assert api.get(ME).status_code == 401
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_session")
        before = cursor.fetchone()[0]
    assert api.delete("/auth/session").status_code == 401  # the row is gone
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_session")
        assert cursor.fetchone()[0] == before


def test_the_notice_survives_a_broker_outage(
    api, email, password, broker_down, django_capture_on_commit_callbacks, caplog
):
    customer = customer_create(email=email, password=password)

    answer = delete_me(
        api,
        {"password": password},
        token_for(customer),
        django_capture_on_commit_callbacks,
    )

    assert answer.status_code == 200
    assert not Customer.objects.filter(id=customer.id).exists()
    assert "Account deletion notice could not be queued" in caplog.text
    assert email not in caplog.text


def test_an_otp_lockout_in_progress_outlives_the_account(api, email, password):
    customer = customer_create(email=email, password=password)
    OtpFailureBudget.objects.create(email=email, consecutive_failures=7)

    assert (
        delete_me(api, {"password": password}, token_for(customer)).status_code == 200
    )

    # An unproven password (nobody proved the mailbox) does not lift it.
    assert OtpFailureBudget.objects.get(email=email).consecutive_failures == 7


def test_deleting_costs_a_bounded_number_of_queries(api, email, password, account):
    from django.test.utils import CaptureQueriesContext

    _, token = account
    with CaptureQueriesContext(connection) as queries:
        answer = delete_me(api, {"password": password}, token)

    assert answer.status_code == 200
    print(f"DELETE /store/customers/me (password): {len(queries)} queries")  # noqa: T201
    assert len(queries) <= 30


def test_deleting_with_a_code_costs_a_bounded_number_of_queries(
    api, email, account, send_code
):
    from django.test.utils import CaptureQueriesContext

    _, token = account
    code = send_code(email)
    with CaptureQueriesContext(connection) as queries:
        answer = delete_me(api, {"code": code}, token)

    assert answer.status_code == 200
    print(f"DELETE /store/customers/me (code): {len(queries)} queries")  # noqa: T201
    assert len(queries) <= 30
