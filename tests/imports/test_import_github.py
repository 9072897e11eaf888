"""Medusa's GitHub customers come across keyed by their numeric GitHub user
id, as @medusajs/auth-github keeps them, without the access and refresh
tokens Medusa kept, and sign in with GitHub here on the night of the switch
(docs/migrate-from-medusa.md, docs/social-login.md)."""

import pytest
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, ProviderIdentity
from accounts.tokens import access_token_decode
from flows.social_login import social_login_finish, social_login_start
from tests.e2e.github_provider import address, new_user_id
from tests.factories import TEST_CLIENT
from tests.imports.runs import by_reason, run_import

pytestmark = pytest.mark.django_db


def test_a_github_login_comes_with_its_user_id_and_without_medusas_tokens(medusa):
    user_id = new_user_id()
    identity, customer = medusa.github_signup(user_id, "Hub.User@Example.com")

    _, lines = run_import(medusa)

    assert lines == []
    login = ProviderIdentity.objects.get(provider="github", entity_id=str(user_id))
    assert login.auth_identity_id == identity
    assert login.password_hash is None
    assert login.user_metadata["email"] == "hub.user@example.com"
    assert login.user_metadata["name"] == "Hub User"
    # GitHub's public address, which Medusa never checked: not verified
    # until GitHub says so at the customer's next login here.
    assert login.provider_metadata == {
        "email": "hub.user@example.com",
        "email_verified": False,
    }
    assert "gho_" not in str(login.user_metadata)
    assert AuthIdentity.objects.get(id=identity).customer_id == customer
    assert Customer.objects.get(id=customer).email == "hub.user@example.com"


def test_a_github_login_without_a_public_address_or_with_a_login_as_id_stays(
    medusa,
):
    no_email, no_email_customer = medusa.github_signup(new_user_id(), None)
    by_login, _ = medusa.github_signup(new_user_id(), "named@example.com")
    medusa.execute(
        "UPDATE provider_identity SET entity_id = 'octocat' "
        "WHERE auth_identity_id = %s",
        [by_login],
    )

    _, lines = run_import(medusa)

    reasons = by_reason(lines)
    assert [line["table"] for line in reasons["invalid_email"]] == ["provider_identity"]
    assert [line["table"] for line in reasons["invalid_subject"]] == [
        "provider_identity"
    ]
    assert "unsupported_provider" not in reasons
    assert {line["id"] for line in reasons["no_login"]} == {no_email, by_login}
    # The customer comes without a login: its GitHub login's first sign-in
    # here (a verified address) claims it, as an email code would.
    assert Customer.objects.filter(id=no_email_customer).exists()


@pytest.mark.github
def test_an_imported_github_customer_signs_in_with_github_here(medusa, github):
    user_id = new_user_id()
    identity, customer = medusa.github_signup(user_id, "returning.hub@example.com")
    run_import(medusa)

    location = social_login_start(provider=github.provider, callback_url=None)
    query = github.authorize(
        location,
        user_id=user_id,
        login="renamed-since",
        emails=[address("returning.hub@example.com")],
    )
    result = social_login_finish(
        provider=github.provider,
        code=query["code"],
        state=query["state"],
        issuer=None,
        client=TEST_CLIENT,
        now=timezone.now(),
    )

    claims = access_token_decode(result.token)
    assert result.login.outcome == "returning"
    assert claims.auth_identity_id == identity
    assert claims.actor_id == customer
    # GitHub has now said the address is verified.
    login = ProviderIdentity.objects.get(provider="github", entity_id=str(user_id))
    assert login.provider_metadata == {
        "email": "returning.hub@example.com",
        "email_verified": True,
    }
