"""POST /store/customers/me/password: change the password while logged in
(docs/account.md, "Changing the password")."""

import logging

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import AuthIdentity, Provider, ProviderIdentity
from tests.api_client import CommittingAPIClient as APIClient
from tests.factories import (
    PASSWORD,
    customer_create,
    identity_create,
    profile_create,
    token_for,
)
from tests.otp.conftest import mailed_code, time_passes, wrong

pytestmark = pytest.mark.django_db

CHANGE = "/store/customers/me/password"
ME = "/store/customers/me"
LOGIN = "/auth/customer/emailpass"
SESSION = "/auth/session"
NEW_PASSWORD = "a brand new passphrase"
COOKIE = "connect.sid"


def change(api, token: str | None, body: dict, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return api.post(CHANGE, body, format="json", **headers, **extra)


def me(api, token: str) -> int:
    return api.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def login(api, email: str, password: str):
    return api.post(LOGIN, {"email": email, "password": password}, format="json")


def fresh_client(publishable_key: str) -> APIClient:
    return APIClient(HTTP_X_PUBLISHABLE_API_KEY=publishable_key)


def emailpass_hash(email: str) -> str:
    return ProviderIdentity.objects.get(
        provider=Provider.EMAILPASS, entity_id=email
    ).password_hash


def notices(email: str) -> list:
    return [m for m in mail.outbox if m.to == [email] and "changed" in m.subject]


def test_a_change_keeps_this_client_logged_in_and_logs_out_every_other(
    api, email, publishable_key
):
    customer_create(email=email)
    this_device = login(api, email, PASSWORD).json()["token"]
    other_device = login(api, email, PASSWORD).json()["token"]
    browser = fresh_client(publishable_key)
    opened = browser.post(SESSION, HTTP_AUTHORIZATION=f"Bearer {other_device}")
    assert opened.status_code == 200
    assert browser.get(ME).status_code == 200  # the cookie session works
    generation = AuthIdentity.objects.get(customer__email=email).token_generation

    response = change(
        api,
        this_device,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        HTTP_USER_AGENT="Firefox/140.0 (X11; Linux)",
    )

    assert response.status_code == 200, response.content
    assert list(response.json()) == ["token"]
    new_token = response.json()["token"]
    assert me(api, new_token) == 200
    assert me(api, this_device) == 401
    assert me(api, other_device) == 401
    assert browser.get(ME).status_code == 401  # the cookie session is over
    assert login(api, email, PASSWORD).status_code == 401
    assert login(api, email, NEW_PASSWORD).status_code == 200
    identity = AuthIdentity.objects.get(customer__email=email)
    assert identity.token_generation == generation + 1
    assert emailpass_hash(email).startswith("argon2")


def test_the_notice_says_when_and_from_where_and_how_to_undo(api, email, settings):
    settings.PASSWORD_RESET_URL = "https://shop.example.com/reset-password"
    customer = customer_create(email=email)

    response = change(
        api,
        token_for(customer),
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        HTTP_USER_AGENT="Firefox/140.0 (X11; Linux) <b>&",
        REMOTE_ADDR="203.0.113.77",
    )

    assert response.status_code == 200
    (notice,) = notices(email)
    assert notice.subject == "Your password was changed"
    assert " UTC" in notice.body
    assert "network: 203.0.113.0/24" in notice.body
    assert "203.0.113.77" not in notice.body  # coarse: never the address
    assert "browser or app: Firefox/140.0 (X11; Linux) <b>&" in notice.body
    assert "If it was not you" in notice.body
    assert "https://shop.example.com/reset-password" in notice.body
    (html, _), *_ = notice.alternatives
    assert "Firefox/140.0 (X11; Linux) &lt;b&gt;&amp;" in html  # escaped
    assert 'href="https://shop.example.com/reset-password"' in html
    assert NEW_PASSWORD not in notice.body
    assert PASSWORD not in notice.body


def test_a_cookie_session_gets_a_new_cookie_and_the_old_one_ends(
    email, publishable_key
):
    customer = customer_create(email=email)
    browser = fresh_client(publishable_key)
    browser.post(SESSION, HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}")
    old_cookie = browser.cookies[COOKIE].value

    with CaptureQueriesContext(connection) as queries:
        response = browser.post(
            CHANGE,
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            format="json",
        )

    assert response.status_code == 200, response.content
    print(f"queries per change in a cookie session: {len(queries)}")  # noqa: T201
    assert len(queries) <= 20
    new_cookie = response.cookies[COOKIE]
    assert new_cookie.value != old_cookie
    assert new_cookie["httponly"]
    assert browser.get(ME).status_code == 200  # the client keeps the new one
    stale = fresh_client(publishable_key)
    stale.cookies[COOKIE] = old_cookie
    assert stale.get(ME).status_code == 401


def test_an_imported_medusa_hash_is_replaced_by_argon2id(api, email):
    identity = identity_create(email=email, hasher="medusa_scrypt")
    services.customer_create_for_identity(
        auth_identity_id=identity.id,
        profile=services.Profile(email=email),
        now=identity.created_at,
    )
    assert emailpass_hash(email).startswith("medusa_scrypt$")

    response = change(
        api,
        token_for(identity),
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert emailpass_hash(email).startswith("argon2")
    assert check_password(NEW_PASSWORD, emailpass_hash(email))


def test_a_wrong_current_password_is_refused_and_changes_nothing(api, email):
    customer = customer_create(email=email)
    token = token_for(customer)
    before = emailpass_hash(email)

    response = change(
        api,
        token,
        {"current_password": "not my password", "new_password": NEW_PASSWORD},
    )

    assert (response.status_code, response.json()) == (
        401,
        {"type": "unauthorized", "message": "Current password is incorrect"},
    )
    assert emailpass_hash(email) == before
    assert me(api, token) == 200  # the token still works
    assert notices(email) == []


def test_wrong_current_passwords_count_as_failed_logins(api, email, settings):
    """The same budget as the login route's: guessing here is no faster."""
    settings.LOGIN_FAILURES_PER_EMAIL_CLIENT = 3
    customer = customer_create(email=email)
    token = token_for(customer)
    login(api, email, "a first wrong guess")  # one failure at the login route

    answers = [
        change(
            api, token, {"current_password": f"guess {n}", "new_password": NEW_PASSWORD}
        )
        for n in range(3)
    ]

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[2].json()["type"] == "too_many_requests"
    assert int(answers[2]["Retry-After"]) > 0
    # The limit holds at the login route too, even for the right password.
    assert login(api, email, PASSWORD).status_code == 429
    right = change(
        api, token, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert right.status_code == 429


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short", "Password must be at least 8 characters long"),
        ("password123", "Password is too common or too simple; choose a longer phrase"),
        ("12345678901", "Password is too common or too simple; choose a longer phrase"),
    ],
)
def test_a_new_password_the_policy_refuses_changes_nothing(
    api, email, new_password, message
):
    customer = customer_create(email=email)
    token = token_for(customer)
    before = emailpass_hash(email)

    response = change(
        api, token, {"current_password": PASSWORD, "new_password": new_password}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"type": "invalid_data", "message": message},
    )
    assert emailpass_hash(email) == before
    assert me(api, token) == 200
    assert notices(email) == []


def test_the_same_password_again_is_accepted_and_still_revokes(api, email):
    """Decided: allowed. "Log out everywhere" is a reason to submit it."""
    customer = customer_create(email=email)
    token = token_for(customer)

    response = change(
        api, token, {"current_password": PASSWORD, "new_password": PASSWORD}
    )

    assert response.status_code == 200
    assert me(api, token) == 401
    assert login(api, email, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x"},
            "Invalid request: Unrecognized fields: 'email'",
        ),
        (
            {"new_password": NEW_PASSWORD},
            "Send either current_password or code (for an account without a "
            "password), not both",
        ),
        (
            {
                "current_password": PASSWORD,
                "code": "123456",
                "new_password": NEW_PASSWORD,
            },
            "Send either current_password or code (for an account without a "
            "password), not both",
        ),
        (
            {"current_password": PASSWORD},
            "Invalid request: Field 'new_password' is required",
        ),
        (
            {"current_password": 12345678, "new_password": NEW_PASSWORD},
            "Invalid request: Expected type: 'string' for field "
            "'current_password', got: '12345678'",
        ),
    ],
)
def test_a_malformed_body_is_400_and_changes_nothing(api, email, body, message):
    customer = customer_create(email=email)
    before = emailpass_hash(email)

    response = change(api, token_for(customer), body)

    assert response.status_code == 400
    assert response.json()["type"] == "invalid_data"
    assert response.json()["message"] == message
    assert emailpass_hash(email) == before


def test_without_a_customer_token_it_is_401(api, email):
    identity = identity_create(email=email)  # a registration token: no customer
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    for token in (None, "not-a-token", token_for(identity)):
        response = change(api, token, body)
        assert (response.status_code, response.json()) == (
            401,
            {"message": "Unauthorized"},
        )
    assert emailpass_hash(email) != NEW_PASSWORD


def code_only_customer(api, email: str) -> str:
    """A customer who signed up by code: no password. Their token."""
    api.post("/store/auth/otp/send", {"email": email}, format="json")
    verified = api.post(
        "/store/auth/otp/verify",
        {"email": email, "code": mailed_code(email)},
        format="json",
    )
    registration = verified.json()["token"]
    created = profile_create(api, registration, email)
    assert created.status_code == 200, created.content
    refreshed = api.post(
        "/auth/token/refresh", HTTP_AUTHORIZATION=f"Bearer {registration}"
    )
    time_passes(3600, email=email)  # past the resend cooldown
    return refreshed.json()["token"]


def test_a_code_only_account_sets_its_first_password_with_a_fresh_code(api, email):
    token = code_only_customer(api, email)
    assert not ProviderIdentity.objects.filter(
        entity_id=email, provider=Provider.EMAILPASS
    ).exists()
    sent = api.post("/store/auth/otp/send", {"email": email}, format="json")
    assert sent.status_code == 200

    response = change(
        api, token, {"code": mailed_code(email), "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 200, response.content
    assert me(api, response.json()["token"]) == 200
    assert me(api, token) == 401
    assert login(api, email, NEW_PASSWORD).status_code == 200
    login_row = ProviderIdentity.objects.get(
        entity_id=email, provider=Provider.EMAILPASS
    )
    assert login_row.auth_identity.customer.email == email
    assert len(notices(email)) == 1


def test_a_wrong_or_used_code_changes_nothing(api, email):
    token = code_only_customer(api, email)
    api.post("/store/auth/otp/send", {"email": email}, format="json")
    code = mailed_code(email)

    wrong_code = change(api, token, {"code": wrong(code), "new_password": NEW_PASSWORD})
    refused_policy = change(api, token, {"code": code, "new_password": "password"})
    right = change(api, token, {"code": code, "new_password": NEW_PASSWORD})
    new_token = right.json()["token"]
    reused = change(
        api, new_token, {"code": code, "new_password": "another new phrase"}
    )

    assert wrong_code.status_code == 400
    assert wrong_code.json()["code"] == "otp_invalid"
    assert refused_policy.status_code == 400  # the code was not spent
    assert right.status_code == 200
    assert reused.status_code == 400  # the account has a password now
    assert reused.json()["code"] == "current_password_required"
    assert login(api, email, NEW_PASSWORD).status_code == 200


def test_a_confirmation_that_does_not_fit_the_account_is_400(api, email):
    with_password = token_for(customer_create(email=email))
    code_only = code_only_customer(api, f"code.{email}")

    by_code = change(
        api, with_password, {"code": "123456", "new_password": NEW_PASSWORD}
    )
    by_password = change(
        api, code_only, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert by_code.status_code == 400
    assert by_code.json() == {
        "code": "current_password_required",
        "type": "not_allowed",
        "message": "Confirm the change with your current password",
    }
    assert by_password.status_code == 400
    assert by_password.json()["code"] == "password_not_set"
    assert me(api, with_password) == 200
    assert me(api, code_only) == 200


def test_a_broker_outage_does_not_fail_the_change(api, email, broker_down, caplog):
    customer = customer_create(email=email)

    with caplog.at_level(logging.ERROR, logger="accounts"):
        response = change(
            api,
            token_for(customer),
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )

    assert response.status_code == 200
    assert login(api, email, NEW_PASSWORD).status_code == 200
    (record,) = [r for r in caplog.records if "notice" in r.getMessage()]
    assert record.getMessage() == "Password change notice could not be queued"
    assert email not in str(record.__dict__)


def test_queries_per_change(api, email):
    """What docs/account.md states (password path, Bearer token)."""
    customer = customer_create(email=email)
    token = token_for(customer)

    with CaptureQueriesContext(connection) as queries:
        response = change(
            api, token, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )

    assert response.status_code == 200
    print(f"queries per change by password: {len(queries)}")  # noqa: T201
    assert len(queries) <= 12


def test_queries_per_change_by_code(api, email):
    token = code_only_customer(api, email)
    api.post("/store/auth/otp/send", {"email": email}, format="json")
    code = mailed_code(email)

    with CaptureQueriesContext(connection) as queries:
        response = change(api, token, {"code": code, "new_password": NEW_PASSWORD})

    assert response.status_code == 200
    print(f"queries per change by code: {len(queries)}")  # noqa: T201
    assert len(queries) <= 18
