"""GET /store/customers/me/export: everything held about the customer
(GDPR art. 20), as a download, without a secret in it."""

import json

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Customer, PasswordResetToken, ProviderIdentity
from accounts.tokens import access_token_decode
from otp.models import OtpChallenge
from privacy.models import Erasure
from tests.otp.conftest import send_code

__all__ = ["send_code"]

pytestmark = pytest.mark.django_db

EXPORT = "/store/customers/me/export"


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def account(api, email, password, send_code):
    """A customer with a profile, an address, a password and a code login,
    a pending reset link, a one-time code, a staff action and an earlier
    erased account of the address."""
    first = api.post(
        "/store/auth/signup", {"email": email, "password": password}, format="json"
    ).json()
    assert (
        api.delete(
            "/store/customers/me",
            {"password": password},
            format="json",
            **bearer(first["token"]),
        ).status_code
        == 200
    )
    answer = api.post(
        "/store/auth/signup",
        {"email": email, "password": password, "first_name": "Pat", "phone": "+33 1"},
        format="json",
    )
    token = answer.json()["token"]
    customer_id = answer.json()["customer"]["id"]
    api.post(
        "/store/customers/me/addresses",
        {"city": "Lyon", "country_code": "fr", "address_1": "1 rue Neuve"},
        format="json",
        **bearer(token),
    )
    api.post(
        "/auth/customer/emailpass/reset-password", {"identifier": email}, format="json"
    )
    code = send_code(email)
    # The code proves the mailbox: the password, set before anyone proved
    # it, is disabled and earlier tokens are refused (docs/otp.md).
    token = api.post(
        "/store/auth/otp/verify", {"email": email, "code": code}, format="json"
    ).json()["token"]
    staff = User.objects.create_superuser("export.staff", password="pw-for-tests-x")
    LogEntry.objects.log_actions(
        user_id=staff.pk,
        queryset=[Customer.objects.get(id=customer_id)],
        action_flag=CHANGE,
        change_message="Looked into a delivery question",
        single_object=True,
    )
    return customer_id, token, first["customer"]["id"]


def test_the_export_holds_everything_about_the_customer(api, email, account):
    customer_id, token, erased_id = account

    answer = api.get(EXPORT, **bearer(token))

    assert answer.status_code == 200
    assert answer["Content-Disposition"] == (
        f'attachment; filename="account-{customer_id}.json"'
    )
    assert answer["Cache-Control"] == "no-store"
    document = answer.json()
    assert document["format"] == "storefront-auth/account-export/1"
    assert document["customer"]["id"] == customer_id
    assert document["customer"]["email"] == email
    assert document["customer"]["first_name"] == "Pat"
    assert document["customer"]["phone"] == "+33 1"
    (address,) = document["addresses"]
    assert (address["city"], address["address_1"]) == ("Lyon", "1 rue Neuve")
    assert document["auth_identity"]["email_verified_at"] is not None
    assert sorted(
        (login["provider"], login["entity_id"]) for login in document["logins"]
    ) == [("email-otp", email), ("emailpass", email)]
    # The sign-up's session ended when the code proved the mailbox.
    (session,) = document["sessions"]
    assert session["id"] == access_token_decode(token).session_id
    assert session["auth_provider"] == "email-otp"
    assert set(session) == {
        "id",
        "auth_provider",
        "user_agent",
        "ip_prefix",
        "created_at",
        "last_used_at",
    }
    assert len(document["password_reset_requests"]) == 1
    # The sign-up's verification mail, and the code that logged in.
    assert [c["state"] for c in document["one_time_codes"]] == ["live", "used"]
    assert [a["message"] for a in document["staff_actions"]] == [
        "Looked into a delivery question"
    ]
    assert "export.staff" not in answer.content.decode()
    assert [e["customer_id"] for e in document["earlier_accounts_erased"]] == [
        erased_id
    ]


def test_the_export_holds_no_secret(api, email, account):
    customer_id, token, _ = account
    text = api.get(EXPORT, **bearer(token)).content.decode()

    secrets = [
        *ProviderIdentity.objects.filter(entity_id=email).values_list(
            "password_hash", flat=True
        ),
        *PasswordResetToken.objects.filter(
            provider_identity__entity_id=email
        ).values_list("token_hash", flat=True),
        *OtpChallenge.objects.filter(email=email).values_list("code_hash", flat=True),
        *Erasure.objects.values_list("email_hash", flat=True),
        token,
    ]
    assert len([s for s in secrets if s]) >= 5
    for secret in secrets:
        if secret:
            assert secret not in text
    for word in ("argon2", "password_hash", "token_hash", "code_hash", "email_hash"):
        assert word not in text
    json.loads(text)


def test_the_export_through_a_cookie_session(api, account):
    customer_id, token, _ = account
    api.post("/auth/session", **bearer(token))

    answer = api.get(EXPORT)

    assert answer.status_code == 200
    assert answer.json()["customer"]["id"] == customer_id


def test_the_export_needs_a_customer(api, email, password):
    assert api.get(EXPORT).status_code == 401
    assert api.get(EXPORT, **bearer("x.y.z")).json() == {"message": "Unauthorized"}
    registration = api.post(
        "/auth/customer/emailpass/register",
        {"email": email, "password": password},
        format="json",
    ).json()["token"]
    assert api.get(EXPORT, **bearer(registration)).status_code == 401


def test_an_unknown_query_parameter_is_400(api, account):
    _, token, _ = account

    answer = api.get(EXPORT, {"fields": "id"}, **bearer(token))

    assert answer.status_code == 400


def test_the_export_costs_a_bounded_number_of_queries(api, account):
    _, token, _ = account
    with CaptureQueriesContext(connection) as queries:
        answer = api.get(EXPORT, **bearer(token))

    assert answer.status_code == 200
    print(f"GET /store/customers/me/export: {len(queries)} queries")  # noqa: T201
    assert len(queries) <= 15
