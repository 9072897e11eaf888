"""Sign in with Apple through HTTP against the local oidc-provider set up
as Apple is (devstack/oidc.py, tests/e2e/oidc/server.mjs): the `apple`
preset with its issuer replaced, form_post, a client secret that is the
ES256 JWT we sign for each code exchange (the provider verifies it with the
public key it was given, as Apple does), the `user` field with the name on
the first authorization only, `email_verified` as a string, and
private-relay addresses."""

import dataclasses
import json
import os
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from tests.e2e.test_social_login import callback, claims, start
from tests.factories import customer_create
from tests.security.test_logs import wait_for_access_line

pytestmark = [pytest.mark.live, pytest.mark.oidc]

RELAY_DOMAIN = "privaterelay.appleid.com"


def apple_login(live, apple, *, tamper=None, **account):
    """Start, Apple's form_post (its fields as the page posts them, after
    `tamper`), our POST callback: the response."""
    query = apple.authorize(start(live, apple), **account)
    assert query["_mode"] == "form_post"
    if tamper:
        tamper(query)
    return callback(live, apple, query), query


def test_a_new_apple_customer_keeps_the_name_sent_on_the_first_login_only(
    live, oidc_apple, email
):
    """The first authorization posts `user` (the name; its email is not
    signed, and a changed one is ignored): the name lands in the new
    login's user_metadata for the profile step; the next login posts no
    `user` and lands on the same account, its name kept."""
    sub = uuid.uuid4().hex

    def forge_email(query):
        user = json.loads(query["user"])
        query["user"] = json.dumps({**user, "email": "someone.else@example.com"})

    first, query = apple_login(
        live,
        oidc_apple,
        tamper=forge_email,
        sub=sub,
        email=email,
        email_verified="true",
        given_name="Ada",
        family_name="Lovelace",
    )

    assert first.status_code == 200, first.text
    token = claims(first.json()["token"])
    assert token["actor_id"] == ""
    assert token["auth_provider"] == "apple"
    assert token["user_metadata"] == {
        "email": email,
        "given_name": "Ada",
        "family_name": "Lovelace",
        "name": "Ada Lovelace",
    }
    (login_row,) = ProviderIdentity.objects.filter(provider="apple", entity_id=sub)
    assert login_row.provider_metadata == {"email": email, "email_verified": True}
    created = live.post(
        "/store/customers",
        token=first.json()["token"],
        json={
            "email": token["user_metadata"]["email"],
            "first_name": token["user_metadata"]["given_name"],
            "last_name": token["user_metadata"]["family_name"],
        },
    )
    assert created.status_code == 200, created.text
    assert created.json()["customer"]["first_name"] == "Ada"

    again, query = apple_login(live, oidc_apple, sub=sub, email=email)

    assert "user" not in query  # Apple sends the name once
    assert again.status_code == 200, again.text
    token = claims(again.json()["token"])
    assert token["actor_id"] == created.json()["customer"]["id"]
    assert token["user_metadata"]["name"] == "Ada Lovelace"


def test_a_string_false_email_verified_never_joins_an_account(live, oidc_apple, email):
    """Apple may send `email_verified` as the string "false": not verified,
    so a proven account of the address stays untouched."""
    customer = customer_create(email=email)
    AuthIdentity.objects.filter(customer=customer).update(
        email_verified_at=timezone.now()
    )
    sub = uuid.uuid4().hex

    response, _ = apple_login(
        live, oidc_apple, sub=sub, email=email, email_verified="false"
    )

    assert response.status_code == 200, response.text
    assert claims(response.json()["token"])["actor_id"] == ""
    (login_row,) = ProviderIdentity.objects.filter(provider="apple", entity_id=sub)
    assert login_row.provider_metadata["email_verified"] is False
    assert login_row.auth_identity.customer_id is None


def test_a_private_relay_address_is_the_customers_but_joins_no_other_account(
    live, oidc_apple, email
):
    """A customer who hides their address gets a relay address: the new
    account's address for mail (the profile step registers it), never a
    key to the account of their real address."""
    customer = customer_create(email=email)
    AuthIdentity.objects.filter(customer=customer).update(
        email_verified_at=timezone.now()
    )
    relay = f"{uuid.uuid4().hex[:10]}@{RELAY_DOMAIN}"
    sub = uuid.uuid4().hex

    response, _ = apple_login(
        live,
        oidc_apple,
        sub=sub,
        email=relay,
        email_verified="true",
        is_private_email="true",
    )

    assert response.status_code == 200, response.text
    token = claims(response.json()["token"])
    assert token["actor_id"] == ""
    assert token["user_metadata"]["email"] == relay
    (login_row,) = ProviderIdentity.objects.filter(provider="apple", entity_id=sub)
    assert login_row.provider_metadata == {
        "email": relay,
        "email_verified": True,
        "is_private_email": True,
    }
    created = live.post(
        "/store/customers", token=response.json()["token"], json={"email": relay}
    )
    assert created.status_code == 200, created.text
    assert created.json()["customer"]["email"] == relay
    assert Customer.objects.get(pk=customer.pk).email == email
    assert not ProviderIdentity.objects.filter(
        auth_identity__customer=customer, provider="apple"
    ).exists()


@pytest.mark.parametrize(
    ("provider", "reason"),
    [
        # signed with a key the provider never got
        ("apple-wrong-key", "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"),
        # the provider's clock is ten minutes ahead: our secret expired
        ("apple-late", "ERR_JWT_EXPIRED"),
    ],
)
def test_a_client_secret_the_provider_refuses_is_a_401_and_creates_nothing(
    live, oidc_apple, email, provider, reason
):
    """Apple refuses a client secret JWT it cannot verify or that expired
    (invalid_client): the login is refused with Medusa's message, and
    nothing is kept. The provider's log names why it refused (jose's
    error code), so the refusal is the JWT's, not another check's."""
    apple = dataclasses.replace(oidc_apple, provider=provider)
    sub = uuid.uuid4().hex
    provider_log = Path(os.environ["TEST_LOG_DIR"], "oidc.log")
    logged_at = provider_log.stat().st_size

    response, _ = apple_login(
        live, apple, sub=sub, email=email, email_verified="true", given_name="Ada"
    )

    assert response.status_code == 401, response.text
    assert response.json() == {
        "type": "unauthorized",
        "message": "Could not exchange token, invalid_client",
    }
    assert not ProviderIdentity.objects.filter(entity_id=sub).exists()
    assert not AuthIdentity.objects.filter(customer__isnull=True).exists()
    with provider_log.open() as stream:
        stream.seek(logged_at)
        assert f"client secret JWT refused: {reason}" in stream.read()


def test_the_client_secret_key_and_posted_user_stay_out_of_our_logs(
    live, oidc_apple, email
):
    """A login and a refused one (the provider refuses our secret): no JWT
    (our client secret, the ID token), no key, no code, state or posted
    `user` reaches the web log."""
    log = Path(os.environ["TEST_LOG_DIR"], "web.log")
    start_at = log.stat().st_size
    good, query = apple_login(live, oidc_apple, email=email, given_name="Ada")
    refused, refused_query = apple_login(
        live, dataclasses.replace(oidc_apple, provider="apple-wrong-key"), email=email
    )
    assert (good.status_code, refused.status_code) == (200, 401)

    written = wait_for_access_line(
        log, start_at, '"POST /auth/customer/apple-wrong-key/callback'
    )

    for secret in (query["code"], query["state"], refused_query["code"]):
        assert secret not in written
    assert "eyJ" not in written
    assert "PRIVATE KEY" not in written
    assert "Ada" not in written
    assert email not in written


@pytest.mark.parametrize(
    "user",
    [
        "not json",
        '["a list"]',
        '{"name": "a string"}',
        '{"name": {"firstName": 7, "lastName": ""}}',
    ],
)
def test_a_malformed_user_field_is_ignored_not_refused(live, oidc_apple, email, user):
    """`user` is not signed and the login is good without a name: a
    malformed one leaves the profile to the profile step."""

    def replace_user(query):
        query["user"] = user

    response, _ = apple_login(
        live, oidc_apple, tamper=replace_user, email=email, given_name="Ada"
    )

    assert response.status_code == 200, response.text
    assert claims(response.json()["token"])["user_metadata"] == {"email": email}
