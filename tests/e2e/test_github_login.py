"""Sign in with GitHub through HTTP against the GitHub stand-in that
./dev test runs (devstack/github.py, a real HTTP server speaking GitHub's
OAuth app flow and its /user and /user/emails routes): Medusa's storefront
flow, returning customers by the numeric user id, the linking rules on
GitHub's primary verified address, and the refusals (state, client secret,
GitHub's error answers, no verified address, an API outage), each leaving
nothing behind."""

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.models import ProviderIdentity
from tests.e2e.github_provider import address, new_user_id
from tests.e2e.test_social_login import (
    LINKING_RULES,
    NO_STATE,
    _password_token,
    callback,
    claims,
    linking_rules_hold,
    start,
)
from tests.factories import customer_create
from tests.security.test_logs import wait_for_access_line

pytestmark = [pytest.mark.live, pytest.mark.github]

NO_EMAIL = {
    "type": "unauthorized",
    "message": "The provider did not share a valid email address",
}


def login(live, github, **account) -> str:
    query = github.authorize(start(live, github), **account)
    response = callback(live, github, query)
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["token"]
    return response.json()["token"]


def logins_of(github, user_id: int):
    return ProviderIdentity.objects.filter(
        provider=github.provider, entity_id=str(user_id)
    )


def test_the_start_sends_the_browser_to_github_with_state_and_pkce(live, github):
    location = start(live, github)

    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{github.url}/login/oauth/authorize?")
    assert query["client_id"] == ["Iv1.storefronttests"]
    assert query["redirect_uri"] == [github.callback_url]
    assert query["scope"] == ["user:email"]
    assert query["code_challenge_method"] == ["S256"]
    for name in ("state", "code_challenge"):
        assert len(query[name][0]) >= 30
    assert "nonce" not in query  # no ID token to carry one
    assert live.get(f"/auth/customer/{github.provider}").status_code == 200


def test_a_new_customer_signs_in_then_creates_the_profile_and_refreshes(
    live, github, email
):
    user_id = new_user_id()

    token = login(
        live, github, user_id=user_id, email=email, login="octo", name="Mona Lisa"
    )

    registration = claims(token)
    assert registration["actor_id"] == ""
    assert registration["auth_provider"] == "github"
    assert registration["user_metadata"]["email"] == email
    assert registration["user_metadata"]["name"] == "Mona Lisa"
    created = live.post("/store/customers", token=token, json={"email": email})
    assert created.status_code == 200, created.text
    refreshed = live.post("/auth/token/refresh", token=token)
    assert (
        claims(refreshed.json()["token"])["actor_id"]
        == (created.json()["customer"]["id"])
    )
    (row,) = logins_of(github, user_id)
    # Keyed by the numeric id, never the login; no GitHub token kept.
    assert row.entity_id == str(user_id)
    assert row.provider_metadata == {"email": email, "email_verified": True}
    assert "gho_" not in str(row.user_metadata) + str(row.provider_metadata)


def test_a_returning_customer_lands_on_the_same_account_after_renaming(
    live, github, email
):
    user_id = new_user_id()
    first = login(live, github, user_id=user_id, email=email, login="before")
    created = live.post("/store/customers", token=first, json={"email": email})
    assert created.status_code == 200, created.text

    # The user renamed their login and made another address primary.
    again = claims(
        login(
            live,
            github,
            user_id=user_id,
            login="after",
            emails=[
                address("new." + email),
                address(email, primary=False),
            ],
        )
    )

    assert again["auth_identity_id"] == claims(first)["auth_identity_id"]
    assert again["actor_id"] == created.json()["customer"]["id"]
    (row,) = logins_of(github, user_id)
    assert row.provider_metadata == {"email": "new." + email, "email_verified": True}


@pytest.mark.parametrize(("primary_verified", "account", "lands_on_it"), LINKING_RULES)
def test_a_first_github_login_joins_an_account_only_by_the_linking_rules(
    live, github, email, primary_verified, account, lands_on_it
):
    user_id = new_user_id()
    # An unverified primary address beside a verified one (an account with
    # none verified shares no address at all: below).
    emails = [
        address(email, verified=primary_verified),
        address("verified.other@example.com", primary=False),
    ]

    row = linking_rules_hold(
        live,
        provider=github.provider,
        subject=str(user_id),
        email=email,
        account=account,
        lands_on_it=lands_on_it,
        log_in=lambda: login(live, github, user_id=user_id, emails=emails),
    )

    assert row.provider_metadata == {"email": email, "email_verified": primary_verified}


@pytest.mark.parametrize(
    "emails",
    [
        [],
        [address("unverified@example.com", verified=False)],
        [
            address("a@example.com", verified=False),
            address("b@example.com", verified=False, primary=False),
        ],
    ],
    ids=["no address", "one unverified", "none verified"],
)
def test_an_account_without_a_verified_address_is_refused_and_creates_nothing(
    live, github, emails
):
    user_id = new_user_id()
    # Its public profile address is no proof either.
    query = github.authorize(
        start(live, github),
        user_id=user_id,
        emails=emails,
        public_email="public@example.com",
    )

    response = callback(live, github, query)

    assert response.status_code == 401, response.text
    assert response.json() == NO_EMAIL
    assert not logins_of(github, user_id).exists()


def test_a_state_we_did_not_hand_out_or_a_replayed_one_is_refused(live, github, email):
    user_id = new_user_id()
    query = github.authorize(start(live, github), user_id=user_id, email=email)

    forged = callback(live, github, {**query, "state": "x" * 30})
    first = callback(live, github, query)
    replayed = callback(live, github, query)

    assert forged.status_code == 401
    assert forged.json() == NO_STATE
    assert first.status_code == 200, first.text
    assert replayed.status_code == 401
    assert replayed.json() == NO_STATE
    assert logins_of(github, user_id).count() == 1
    # GitHub's state is no state for another provider.
    state = parse_qs(urlsplit(start(live, github)).query)["state"][0]
    other = live.get(
        "/auth/customer/google/callback", params={"state": state, "code": "x"}
    )
    assert other.json() == NO_STATE


def test_a_wrong_client_secret_is_refused_by_github_and_creates_nothing(
    live, github_wrong_secret, email
):
    user_id = new_user_id()
    query = github_wrong_secret.authorize(
        start(live, github_wrong_secret), user_id=user_id, email=email
    )

    response = callback(live, github_wrong_secret, query)

    assert response.status_code == 401, response.text
    assert response.json() == {
        "type": "unauthorized",
        "message": "Could not exchange token, incorrect_client_credentials",
    }
    assert not ProviderIdentity.objects.filter(entity_id=str(user_id)).exists()


def test_a_wrong_code_or_another_logins_code_is_refused_by_github(live, github, email):
    """GitHub's `bad_verification_code` (status 200): a code it never gave,
    and a code injected into another login, whose PKCE verifier it does not
    match."""
    user_id = new_user_id()
    victim = github.authorize(start(live, github), user_id=user_id, email=email)
    attacker = github.authorize(start(live, github), email="attacker@example.com")

    wrong = callback(live, github, {**attacker, "code": "0" * 20})
    injected = callback(live, github, {**victim, "state": _fresh_state(live, github)})

    for response in (wrong, injected):
        assert response.status_code == 401, response.text
        assert response.json() == {
            "type": "unauthorized",
            "message": "Could not exchange token, bad_verification_code",
        }
    assert not logins_of(github, user_id).exists()


def _fresh_state(live, github) -> str:
    return parse_qs(urlsplit(start(live, github)).query)["state"][0]


def test_a_user_who_declines_at_github_gets_a_clear_refusal(live, github):
    query = github.authorize(start(live, github), deny=True)
    assert query["error"] == "access_denied"

    response = callback(live, github, query)

    assert response.status_code == 401
    assert response.json() == {"type": "unauthorized", "message": "No code provided"}


@pytest.mark.parametrize("route", ["user", "user/emails"])
def test_a_github_api_outage_is_a_503_and_creates_nothing(live, github, email, route):
    user_id = new_user_id()
    query = github.authorize(
        start(live, github), user_id=user_id, email=email, fail={route: 502}
    )

    response = callback(live, github, query)

    assert response.status_code == 503, response.text
    assert not logins_of(github, user_id).exists()


def test_github_is_listed_as_a_provider(live, github):
    providers = live.get("/auth/customer/providers").json()["providers"]

    listed = next(p for p in providers if p["id"] == github.provider)
    assert listed["display_name"] == "GitHub"
    assert listed["flow"] == "redirect"


def test_a_logged_in_customer_links_and_unlinks_github(live, github, email):
    customer = customer_create(email=email)
    token = _password_token(live, email)
    user_id = new_user_id()
    started = live.post(f"/store/customers/me/providers/{github.provider}", token=token)
    assert started.status_code == 200, started.text
    query = github.authorize(
        started.json()["location"], user_id=user_id, email="work@example.com"
    )

    linked = callback(live, github, query, token=token)

    assert linked.status_code == 200, linked.text
    assert claims(linked.json()["token"])["actor_id"] == customer.id
    again = claims(login(live, github, user_id=user_id, email="work@example.com"))
    assert again["actor_id"] == customer.id
    path = f"/store/customers/me/providers/{github.provider}"
    unlinked = live.request("DELETE", path, token=token)
    assert unlinked.status_code == 200, unlinked.text
    assert [p["provider"] for p in unlinked.json()["providers"]] == ["emailpass"]
    assert not logins_of(github, user_id).exists()


def test_logins_are_counted_by_provider_and_outcome(live, github, email):
    from tests.orphans.test_orphans_live import metric

    def counted(outcome: str) -> float:
        return metric(
            live, f'social_logins_total{{outcome="{outcome}",provider="github"}}'
        )

    before = {outcome: counted(outcome) for outcome in ("new", "returning", "refused")}
    user_id = new_user_id()
    login(live, github, user_id=user_id, email=email)
    login(live, github, user_id=user_id, email=email)
    callback(live, github, {"state": "unknown", "code": "x"})

    assert counted("new") == before["new"] + 1
    assert counted("returning") == before["returning"] + 1
    assert counted("refused") == before["refused"] + 1


def test_githubs_code_state_and_access_token_stay_out_of_our_logs(live, github, email):
    log = Path(os.environ["TEST_LOG_DIR"], "web.log")
    start_at = log.stat().st_size
    query = github.authorize(start(live, github), email=email)
    assert callback(live, github, query).status_code == 200
    assert callback(live, github, query).status_code == 401  # a refusal logs too

    written = wait_for_access_line(log, start_at, '"GET /auth/customer/github/callback')

    for secret in (query["code"], query["state"]):
        assert secret not in written
    assert "gho_" not in written  # every access token of the stand-in


def test_the_js_sdk_signs_a_github_customer_in_and_back_again(live, github, email):
    """sdk.auth.login("customer", "github") → GitHub → sdk.auth.callback,
    Medusa's documented profile step and refresh; the second time straight
    in to the same customer."""
    from tests.e2e.test_social_login import _sdk

    user_id = new_user_id()

    def sdk_login() -> dict:
        started = _sdk(live, github, STEP="start", CALLBACK_URL=github.callback_url)
        query = github.authorize(started["location"], user_id=user_id, email=email)
        del query["_page"]
        return _sdk(live, github, STEP="finish", QUERY=json.dumps(query))

    first = sdk_login()
    again = sdk_login()

    customer_id = first["created"]["id"]
    assert first["created"]["email"] == email
    assert claims(first["refreshed"]["token"])["actor_id"] == customer_id
    assert claims(again["token"])["actor_id"] == customer_id
    assert again["customer"]["id"] == customer_id
