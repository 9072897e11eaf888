"""Medusa's Google customers come across keyed by their subject, as
@medusajs/auth-google keeps them, and sign in with Google here on the
night of the switch (docs/migrate-from-medusa.md, docs/social-login.md)."""

import uuid

import pytest
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from accounts.tokens import access_token_decode
from flows.social_login import social_login_finish, social_login_start
from tests.factories import TEST_CLIENT
from tests.imports.runs import by_reason, run_import

pytestmark = pytest.mark.django_db


def test_a_google_login_comes_with_its_subject_and_normalized_email(medusa):
    sub = uuid.uuid4().hex
    identity, customer = medusa.google_signup(sub, "Gee.User@Example.com")

    _, lines = run_import(medusa)

    assert lines == []
    login = ProviderIdentity.objects.get(provider="google", entity_id=sub)
    assert login.auth_identity_id == identity
    assert login.password_hash is None
    assert login.user_metadata == {
        "name": "Gee User",
        "email": "gee.user@example.com",
        "given_name": "Gee",
    }
    assert login.provider_metadata == {
        "email": "gee.user@example.com",
        "email_verified": True,
    }
    assert AuthIdentity.objects.get(id=identity).customer_id == customer
    assert Customer.objects.get(id=customer).email == "gee.user@example.com"


def test_a_google_login_without_an_address_or_with_a_bad_subject_stays(medusa):
    no_email, _ = medusa.google_signup(uuid.uuid4().hex, "gee@example.com")
    medusa.execute(
        "UPDATE provider_identity SET user_metadata = '{}' WHERE auth_identity_id = %s",
        [no_email],
    )
    long_subject, _ = medusa.google_signup("x" * 256, "long@example.com")
    auth0 = medusa.register("zero@example.com", "pw")
    medusa.execute(
        "UPDATE provider_identity SET provider = 'auth0' WHERE auth_identity_id = %s",
        [auth0],
    )

    _, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert [line["table"] for line in reasons["invalid_email"]] == ["provider_identity"]
    assert [line["table"] for line in reasons["invalid_subject"]] == [
        "provider_identity"
    ]
    assert len(reasons["unsupported_provider"]) == 1
    assert {line["id"] for line in reasons["no_login"]} == {
        no_email,
        long_subject,
        auth0,
    }


@pytest.mark.oidc
def test_an_imported_google_customer_signs_in_with_google_here(medusa, oidc):
    sub = uuid.uuid4().hex
    identity, customer = medusa.google_signup(sub, "returning@example.com")
    run_import(medusa)

    location = social_login_start(provider=oidc.provider, callback_url=None)
    query = oidc.authorize(location, sub=sub, email="returning@example.com")
    result = social_login_finish(
        provider=oidc.provider,
        code=query["code"],
        state=query["state"],
        issuer=query.get("iss"),
        client=TEST_CLIENT,
        now=timezone.now(),
    )

    claims = access_token_decode(result.token)
    assert result.login.outcome == "returning"
    assert claims.auth_identity_id == identity
    assert claims.actor_id == customer
