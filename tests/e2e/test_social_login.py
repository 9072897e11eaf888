"""Social login through HTTP against a real OpenID Connect provider
(panva's oidc-provider, configured like Google, as the live stack's
`google`): Medusa's documented storefront flow, returning customers, the
linking rules, and the refusals (wrong or replayed state, wrong nonce),
each leaving nothing behind."""

import json
import os
import threading
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
import pytest
from django.utils import timezone

from accounts.models import AuthIdentity, Customer, Provider, ProviderIdentity
from tests.conftest import LiveServer
from tests.factories import PASSWORD, customer_create
from tests.security.test_logs import wait_for_access_line

pytestmark = [pytest.mark.live, pytest.mark.oidc]

NO_STATE = {
    "type": "unauthorized",
    "message": "No state provided, or session expired",
}


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def start(live, oidc, **body) -> str:
    response = live.post(f"/auth/customer/{oidc.provider}", json=body)
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["location"]
    return response.json()["location"]


def callback(live, oidc, query: dict[str, str], token: str | None = None):
    """As the storefront's callback page hands the provider's answer on:
    its query to a GET, or, in form_post mode, the posted form to a POST."""
    params = {key: value for key, value in query.items() if not key.startswith("_")}
    path = f"/auth/customer/{oidc.provider}/callback"
    if query.get("_mode") == "form_post":
        return live.post(path, data=params, token=token)
    return live.get(path, params=params, token=token)


def login(live, oidc, **account) -> str:
    """The whole round trip: start, the provider, our callback; the token."""
    query = oidc.authorize(start(live, oidc), **account)
    response = callback(live, oidc, query)
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["token"]
    return response.json()["token"]


def logins_of(oidc, sub: str):
    return ProviderIdentity.objects.filter(provider=oidc.provider, entity_id=sub)


def test_the_start_sends_the_browser_to_the_provider_with_state_nonce_and_pkce(
    live, oidc
):
    location = start(live, oidc)

    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{oidc.url}/auth?")
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [oidc.callback_url]
    assert query["code_challenge_method"] == ["S256"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    for name in ("state", "nonce", "code_challenge", "client_id"):
        assert query[name][0]
    # GET starts too (Medusa's route takes both).
    assert live.get(f"/auth/customer/{oidc.provider}").status_code == 200


def test_a_new_customer_signs_in_then_creates_the_profile_and_refreshes(
    live, oidc, email
):
    sub = uuid.uuid4().hex

    token = login(
        live, oidc, sub=sub, email=email, given_name="Ada", family_name="Lovelace"
    )

    registration = claims(token)
    assert registration["actor_id"] == ""
    assert registration["actor_type"] == "customer"
    assert registration["auth_provider"] == oidc.provider
    assert registration["user_metadata"]["email"] == email
    assert registration["user_metadata"]["given_name"] == "Ada"
    # Medusa's documented next steps: the customer, then a refresh.
    created = live.post(
        "/store/customers",
        token=token,
        json={"email": registration["user_metadata"]["email"], "first_name": "Ada"},
    )
    assert created.status_code == 200, created.text
    customer_id = created.json()["customer"]["id"]
    refreshed = live.post("/auth/token/refresh", token=token)
    assert refreshed.status_code == 200, refreshed.text
    customer_token = claims(refreshed.json()["token"])
    assert customer_token["actor_id"] == customer_id
    assert customer_token["auth_identity_id"] == registration["auth_identity_id"]
    me = live.get("/store/customers/me", token=refreshed.json()["token"])
    assert me.json()["customer"]["email"] == email
    (login_row,) = logins_of(oidc, sub)
    assert login_row.auth_identity_id == registration["auth_identity_id"]
    assert login_row.provider_metadata == {"email": email, "email_verified": True}


def test_a_returning_customer_lands_on_the_same_account(live, oidc, email):
    sub = uuid.uuid4().hex
    first = claims(login(live, oidc, sub=sub, email=email))
    created = live.post(
        "/store/customers",
        token=login(live, oidc, sub=sub, email=email),
        json={"email": email},
    )
    assert created.status_code == 200, created.text

    again_token = login(live, oidc, sub=sub, email=email)
    again = claims(again_token)

    assert again["auth_identity_id"] == first["auth_identity_id"]
    assert again["actor_id"] == created.json()["customer"]["id"]
    assert logins_of(oidc, sub).count() == 1
    # Each login opened a session of its own, named by the provider.
    sessions = live.get("/store/customers/me/sessions", token=again_token).json()
    assert again["sid"] in {session["id"] for session in sessions["sessions"]}
    assert {session["auth_provider"] for session in sessions["sessions"]} == {
        oidc.provider
    }


def _password_account(email: str, *, proven: bool) -> Customer:
    customer = customer_create(email=email)
    if proven:
        AuthIdentity.objects.filter(customer=customer).update(
            email_verified_at=timezone.now()
        )
    return customer


def _passwordless_account(email: str) -> Customer:
    """A registered customer whose only login is a code login's, and whose
    address nobody proved here (an imported one)."""
    identity = AuthIdentity.objects.create()
    ProviderIdentity.objects.create(
        auth_identity=identity, provider=Provider.EMAIL_OTP, entity_id=email
    )
    customer = Customer.objects.create(email=email, has_account=True)
    AuthIdentity.objects.filter(pk=identity.pk).update(customer=customer)
    return customer


# (the provider verified the address, the account here, the login joins it)
LINKING_RULES = [
    (True, "proven password account", True),
    (True, "unproven password account", False),
    (True, "passwordless account", True),
    (False, "proven password account", False),
    (False, "unproven password account", False),
    (False, "passwordless account", False),
]


def linking_rules_hold(
    live, *, provider: str, subject: str, email: str, account: str, lands_on_it, log_in
) -> ProviderIdentity:
    """A first login of a provider account (`log_in()` signs it in and
    answers the token) joins the `account` of its address, or gets a new
    identity whose profile step meets the registered address while the
    account keeps its logins and password; the login's row."""
    customer = {
        "proven password account": lambda: _password_account(email, proven=True),
        "unproven password account": lambda: _password_account(email, proven=False),
        "passwordless account": lambda: _passwordless_account(email),
    }[account]()
    identity_id = AuthIdentity.objects.get(customer=customer).id

    token = claims(log_in())

    login_row = ProviderIdentity.objects.get(provider=provider, entity_id=subject)
    if lands_on_it:
        assert token["actor_id"] == customer.id
        assert token["auth_identity_id"] == identity_id
        assert login_row.auth_identity_id == identity_id
        return login_row
    assert token["actor_id"] == ""
    assert token["auth_identity_id"] != identity_id
    assert login_row.auth_identity_id == token["auth_identity_id"]
    duplicate = live.post("/store/customers", token=log_in(), json={"email": email})
    assert duplicate.status_code == 422, duplicate.text
    assert not ProviderIdentity.objects.filter(
        auth_identity_id=identity_id, provider=provider
    ).exists()
    if account != "passwordless account":
        password_login = live.post(
            "/auth/customer/emailpass", json={"email": email, "password": PASSWORD}
        )
        assert password_login.status_code == 200
    return login_row


@pytest.mark.parametrize(("provider_verified", "account", "lands_on_it"), LINKING_RULES)
def test_a_first_provider_login_joins_an_account_only_by_the_linking_rules(
    live, oidc, email, provider_verified, account, lands_on_it
):
    sub = uuid.uuid4().hex

    linking_rules_hold(
        live,
        provider=oidc.provider,
        subject=sub,
        email=email,
        account=account,
        lands_on_it=lands_on_it,
        log_in=lambda: login(
            live, oidc, sub=sub, email=email, email_verified=provider_verified
        ),
    )


def test_a_state_we_did_not_hand_out_is_refused_and_creates_nothing(live, oidc, email):
    sub = uuid.uuid4().hex
    query = oidc.authorize(start(live, oidc), sub=sub, email=email)

    response = callback(live, oidc, {**query, "state": uuid.uuid4().hex})

    assert response.status_code == 401
    assert response.json() == NO_STATE
    assert not logins_of(oidc, sub).exists()
    # A wrong state spends nothing of the real login.
    assert callback(live, oidc, query).status_code == 200


def test_a_state_is_good_once(live, oidc, email):
    sub = uuid.uuid4().hex
    query = oidc.authorize(start(live, oidc), sub=sub, email=email)
    assert callback(live, oidc, query).status_code == 200

    replayed = callback(live, oidc, query)

    assert replayed.status_code == 401
    assert replayed.json() == NO_STATE
    assert logins_of(oidc, sub).count() == 1


def test_a_callback_without_state_or_code_is_refused(live, oidc):
    assert callback(live, oidc, {}).json() == NO_STATE
    query = oidc.authorize(start(live, oidc), email="nobody@example.com")

    response = callback(live, oidc, {"state": query["state"]})

    assert response.status_code == 401
    assert response.json() == {"type": "unauthorized", "message": "No code provided"}


def test_an_id_token_with_another_nonce_is_refused_and_creates_nothing(
    live, oidc, email
):
    """The browser's trip is tampered with: the provider is asked for
    another nonce than the one our start stored with its state."""
    sub = uuid.uuid4().hex
    parts = urlsplit(start(live, oidc))
    query = parse_qs(parts.query)
    query["nonce"] = ["attacker-chosen-nonce"]
    tampered = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))

    response = callback(live, oidc, oidc.authorize(tampered, sub=sub, email=email))

    assert response.status_code == 401
    assert response.json() == {
        "type": "unauthorized",
        "message": "Invalid ID token (invalid_claim)",
    }
    assert not logins_of(oidc, sub).exists()


def test_a_callback_url_must_be_allowed(live, oidc, email):
    refused = live.post(
        f"/auth/customer/{oidc.provider}",
        json={"callback_url": "https://attacker.example/steal"},
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "invalid_data",
        "message": "callback_url is not allowed",
    }
    blank = live.post(f"/auth/customer/{oidc.provider}", data={"callback_url": ""})
    assert blank.status_code == 400, blank.text

    location = start(live, oidc, callback_url=oidc.other_callback_url)
    query = oidc.authorize(location, email=email)

    assert query["_page"] == oidc.other_callback_url
    assert callback(live, oidc, query).status_code == 200


def test_a_code_without_an_email_from_the_provider_is_refused(live, oidc):
    sub = uuid.uuid4().hex
    query = oidc.authorize(start(live, oidc), sub=sub, email="not an address")

    response = callback(live, oidc, query)

    assert response.status_code == 401
    assert response.json()["message"] == (
        "The provider did not share a valid email address"
    )
    assert not logins_of(oidc, sub).exists()


def test_the_provider_list_names_the_social_providers(live, oidc):
    providers = live.get("/auth/customer/providers").json()["providers"]

    assert {"id": oidc.provider, "flow": "redirect"}.items() <= next(
        p for p in providers if p["id"] == oidc.provider
    ).items()


@pytest.mark.parametrize(
    ("id_token", "failed_check"),
    [
        ("expired", "expired_token"),
        ("foreign-audience", "invalid_claim"),
        ("other-issuer", "invalid_claim"),
        ("unknown-key", "invalid_key_id"),
        ("alg-none", "unsupported_algorithm"),
    ],
)
def test_an_id_token_that_fails_a_check_is_refused_and_creates_nothing(
    live, oidc, email, id_token, failed_check
):
    sub = uuid.uuid4().hex
    query = oidc.authorize(start(live, oidc), sub=sub, email=email, id_token=id_token)

    response = callback(live, oidc, query)

    assert response.status_code == 401, response.text
    assert response.json() == {
        "type": "unauthorized",
        "message": f"Invalid ID token ({failed_check})",
    }
    assert not logins_of(oidc, sub).exists()


def test_an_id_token_signed_with_a_newly_published_key_is_accepted(live, oidc, email):
    sub = uuid.uuid4().hex

    token = claims(login(live, oidc, sub=sub, email=email, id_token="rotated-key"))

    assert token["auth_identity_id"] == logins_of(oidc, sub).get().auth_identity_id


def test_a_key_rotation_fetches_the_jwks_again(oidc, email):
    """In this process, where the cache is ours to see: a token signed
    with a key the cached JWKS lacks makes Authlib fetch it again once."""
    from social import oidc as client
    from social import services

    def verified(**account):
        location = services.login_start(provider=oidc.provider, callback_url=None)
        query = oidc.authorize(location, email=email, **account)
        return services.login_finish(
            provider=oidc.provider,
            code=query["code"],
            state=query["state"],
            issuer=query.get("iss"),
        )

    def cached_key_ids() -> set[str]:
        metadata = client._apps[oidc.provider].server_metadata
        return {key["kid"] for key in metadata["jwks"]["keys"]}

    client._apps.clear()
    verified(sub=uuid.uuid4().hex)
    before = cached_key_ids()
    sub = uuid.uuid4().hex

    rotated = verified(sub=sub, id_token="rotated-key")

    assert rotated.claims.subject == sub
    assert cached_key_ids() > before


def _sdk(live, oidc, **env: str) -> dict:
    from tests.e2e.test_js_sdk import run_script

    return run_script(
        "social_login.mjs",
        {
            "BASE_URL": live.url,
            "PUBLISHABLE_KEY": live.publishable_key,
            "PROVIDER": oidc.provider,
            **env,
        },
    )


def test_the_js_sdk_signs_a_new_customer_in_and_a_returning_one_again(
    live, oidc, email
):
    """sdk.auth.login → the provider → sdk.auth.callback, then Medusa's
    documented profile step and refresh; the second time straight in."""
    sub = uuid.uuid4().hex

    def sdk_login() -> dict:
        started = _sdk(live, oidc, STEP="start", CALLBACK_URL=oidc.callback_url)
        assert list(started) == ["location"]
        query = oidc.authorize(started["location"], sub=sub, email=email)
        del query["_page"]
        return _sdk(live, oidc, STEP="finish", QUERY=json.dumps(query))

    first = sdk_login()
    again = sdk_login()

    assert claims(first["token"])["actor_id"] == ""
    assert first["created"]["email"] == email
    customer_id = first["created"]["id"]
    assert claims(first["refreshed"]["token"])["actor_id"] == customer_id
    assert first["customer"]["id"] == customer_id
    assert claims(again["token"])["actor_id"] == customer_id
    assert again["created"] is None
    assert again["customer"]["id"] == customer_id


def test_logins_are_counted_by_provider_and_outcome(live, oidc, email):
    from tests.orphans.test_orphans_live import metric

    def counted(outcome: str) -> float:
        return metric(
            live,
            f'social_logins_total{{outcome="{outcome}",provider="{oidc.provider}"}}',
        )

    before = {outcome: counted(outcome) for outcome in ("new", "returning", "refused")}
    sub = uuid.uuid4().hex
    login(live, oidc, sub=sub, email=email)
    login(live, oidc, sub=sub, email=email)
    callback(live, oidc, {"state": "unknown", "code": "x"})

    assert counted("new") == before["new"] + 1
    assert counted("returning") == before["returning"] + 1
    assert counted("refused") == before["refused"] + 1


def test_the_providers_code_state_and_tokens_stay_out_of_our_logs(live, oidc, email):
    log = Path(os.environ["TEST_LOG_DIR"], "web.log")
    start_at = log.stat().st_size
    query = oidc.authorize(start(live, oidc), email=email)
    assert callback(live, oidc, query).status_code == 200
    assert callback(live, oidc, query).status_code == 401  # a refusal logs too

    written = wait_for_access_line(log, start_at, '"GET /auth/customer/google/callback')

    for secret in (query["code"], query["state"]):
        assert secret not in written
    assert "eyJ" not in written


def test_a_state_sent_twice_at_once_logs_in_once(live, oidc, email):
    """Real concurrency: the same callback from two clients at the same
    instant; Redis' GETDEL hands the started login to one of them."""
    from concurrent.futures import ThreadPoolExecutor

    sub = uuid.uuid4().hex
    query = oidc.authorize(start(live, oidc), sub=sub, email=email)
    barrier = threading.Barrier(4)

    def send(_: int) -> int:
        client = LiveServer(live.url, live.publishable_key)
        barrier.wait()
        return callback(client, oidc, query).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(send, range(4)))

    assert statuses == [200, 401, 401, 401]
    assert logins_of(oidc, sub).count() == 1


# ------------------------------------------------ linking while logged in


def _password_token(live, email: str) -> str:
    response = live.post(
        "/auth/customer/emailpass", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def _link(live, oidc, token: str, **account):
    """Start, the provider, and the callback with the account's token (the
    SDK sends its stored token with every request)."""
    started = live.post(f"/store/customers/me/providers/{oidc.provider}", token=token)
    assert started.status_code == 200, started.text
    query = oidc.authorize(started.json()["location"], **account)
    return callback(live, oidc, query, token=token)


def test_a_logged_in_customer_links_a_provider_account_with_another_address(
    live, oidc, email
):
    customer = customer_create(email=email)
    token = _password_token(live, email)
    sub = uuid.uuid4().hex

    linked = _link(live, oidc, token, sub=sub, email="elsewhere@example.com")

    assert linked.status_code == 200, linked.text
    assert claims(linked.json()["token"])["actor_id"] == customer.id
    providers = live.get("/store/customers/me/providers", token=token).json()
    assert [(p["provider"], p["email"]) for p in providers["providers"]] == [
        ("emailpass", email),
        (oidc.provider, "elsewhere@example.com"),
    ]
    # From now on that provider account signs in to this account.
    again = claims(login(live, oidc, sub=sub, email="elsewhere@example.com"))
    assert again["actor_id"] == customer.id


def test_a_provider_account_linked_elsewhere_or_a_second_one_is_refused(
    live, oidc, email
):
    customer_create(email=email)
    token = _password_token(live, email)
    taken = uuid.uuid4().hex
    login(live, oidc, sub=taken, email="someone.else@example.com")

    elsewhere = _link(live, oidc, token, sub=taken, email="someone.else@example.com")
    assert _link(live, oidc, token, email=email).status_code == 200
    second = _link(live, oidc, token, email=email)

    assert elsewhere.status_code == 422
    assert elsewhere.json()["message"] == (
        "This provider account is linked to another account"
    )
    assert second.status_code == 422
    assert second.json()["message"] == (
        "Another account of this provider is linked already"
    )


def test_a_link_started_before_a_revocation_is_refused(live, oidc, email):
    customer = customer_create(email=email)
    token = _password_token(live, email)
    started = live.post(f"/store/customers/me/providers/{oidc.provider}", token=token)
    query = oidc.authorize(started.json()["location"], email=email)
    AuthIdentity.objects.filter(customer=customer).update(token_generation=99)

    response = callback(live, oidc, query, token=token)

    assert response.status_code == 401
    assert not ProviderIdentity.objects.filter(
        auth_identity__customer=customer, provider=oidc.provider
    ).exists()


@pytest.mark.parametrize("victim", ["no credential", "another account's token"])
def test_a_link_finished_by_another_browser_is_refused(live, oidc, email, victim):
    """Login CSRF: the attacker starts a link on their account and gets a
    victim's browser to finish it with the victim's provider account."""
    attacker = customer_create(email=email)
    attacker_token = _password_token(live, email)
    customer_create(email="victim." + email)
    victim_token = (
        None if victim == "no credential" else _password_token(live, "victim." + email)
    )
    started = live.post(
        f"/store/customers/me/providers/{oidc.provider}", token=attacker_token
    )
    sub = uuid.uuid4().hex
    query = oidc.authorize(started.json()["location"], sub=sub, email="victim." + email)

    response = callback(live, oidc, query, token=victim_token)

    assert response.status_code == 401
    assert response.json() == {
        "type": "unauthorized",
        "message": "Log in to the account that started the link",
    }
    assert not logins_of(oidc, sub).exists()
    assert not ProviderIdentity.objects.filter(
        auth_identity__customer=attacker, provider=oidc.provider
    ).exists()


def test_unlinking_never_removes_the_last_way_in(live, oidc, email):
    customer_create(email=email)
    token = _password_token(live, email)
    assert _link(live, oidc, token, email=email).status_code == 200
    social_only = login(live, oidc, email="social.only." + email)
    live.post(
        "/store/customers", token=social_only, json={"email": "social.only." + email}
    )
    social_only = live.post("/auth/token/refresh", token=social_only).json()["token"]
    path = f"/store/customers/me/providers/{oidc.provider}"

    unlinked = live.request("DELETE", path, token=token)
    gone = live.request("DELETE", path, token=token)
    last = live.request("DELETE", path, token=social_only)

    assert unlinked.status_code == 200, unlinked.text
    assert [p["provider"] for p in unlinked.json()["providers"]] == ["emailpass"]
    assert gone.status_code == 404
    assert last.status_code == 400
    assert last.json() == {
        "type": "not_allowed",
        "message": "The last way to sign in cannot be removed",
    }
    assert live.request("DELETE", path).status_code == 401


def test_paused_signups_refuse_a_new_provider_account_not_a_returning_one(
    live, oidc, email
):
    from orphans.services import signups_pause

    returning = uuid.uuid4().hex
    login(live, oidc, sub=returning, email="returning." + email)
    signups_pause(staff_user=None, reason="test", now=timezone.now())
    sub = uuid.uuid4().hex

    new = callback(live, oidc, oidc.authorize(start(live, oidc), sub=sub, email=email))

    assert new.status_code == 503
    assert new.json()["code"] == "signups_paused"
    assert not logins_of(oidc, sub).exists()
    assert login(live, oidc, sub=returning, email="returning." + email)


def test_a_login_callback_ignores_a_stale_token_the_storefront_still_sends(
    live, oidc, email
):
    query = oidc.authorize(start(live, oidc), email=email)

    response = callback(live, oidc, query, token="stale.not.valid")

    assert response.status_code == 200, response.text


def test_any_provider_by_issuer_url_signs_in_and_joins_by_the_rules(
    live, oidc, oidc_generic, email
):
    """`acme-id` (SOCIAL_ACME_ID_ISSUER and its own client, no preset, in
    form_post mode: the provider posts code and state, the POST callback
    takes them from the body): its (provider, subject) keys are its own, and
    its first login joins the account a Google login made (no password)
    when it verifies the email."""
    sub = uuid.uuid4().hex
    google = login(live, oidc, sub=sub, email=email)
    created = live.post("/store/customers", token=google, json={"email": email})
    assert created.status_code == 200, created.text

    query = oidc_generic.authorize(start(live, oidc_generic), sub=sub, email=email)
    assert query["_mode"] == "form_post"
    response = callback(live, oidc_generic, query)
    assert response.status_code == 200, response.text
    acme = claims(response.json()["token"])

    assert acme["auth_provider"] == "acme-id"
    assert acme["actor_id"] == created.json()["customer"]["id"]
    assert set(
        ProviderIdentity.objects.filter(entity_id=sub).values_list(
            "provider", flat=True
        )
    ) == {oidc.provider, "acme-id"}
