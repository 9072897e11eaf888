"""Starting and finishing a provider login: the two halves of the
authorization code flow (OpenID Connect, social/oidc.py, or GitHub's
OAuth 2.0, social/github.py), with Medusa's messages for its failures
(reference: medusa-commerce.md, "Social login").

Threat model (with social/oidc.py and social/states.py): open redirects
through `callback_url` (only the provider's own callback URL and
SOCIAL_CALLBACK_URLS, compared exactly), login CSRF and code injection
(state), code interception (PKCE), ID token replay (nonce) and mix-up
between providers (the entry names its provider; RFC 9207's `iss`, when
the provider sends it, must be the provider's issuer)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings

from core.errors import InvalidData, Unauthorized, Unavailable
from social import providers, states
from social.providers import IdTokenClaims

NO_STATE = "No state provided, or session expired"
NO_CODE = "No code provided"
NOT_EXCHANGED = "Could not exchange token"
CALLBACK_NOT_ALLOWED = "callback_url is not allowed"
PROVIDER_UNAVAILABLE = "The login provider is unavailable, please try again"


def _config(provider: str) -> providers.ProviderConfig:
    config = providers.provider_config(provider)
    if config is None:
        raise Unauthorized(f"Unable to retrieve the auth provider with id: {provider}")
    return config


@dataclass(frozen=True)
class LinkRequest:
    """A logged-in customer's identity asking to add a provider login."""

    identity_id: str
    generation: int


@dataclass(frozen=True)
class FinishedLogin:
    claims: IdTokenClaims
    link: LinkRequest | None


def login_start(
    *, provider: str, callback_url: str | None, link: LinkRequest | None = None
) -> str:
    """The provider's authorization URL for a new login (or a link); the
    login's secrets stay here, keyed by its state."""
    config = _config(provider)
    redirect_uri = callback_url or config.callback_url
    if redirect_uri not in {config.callback_url, *settings.SOCIAL_CALLBACK_URLS}:
        raise InvalidData(CALLBACK_NOT_ALLOWED)
    try:
        request = _client(config).authorization_request(
            config, redirect_uri=redirect_uri
        )
        states.started_login_save(
            state=request.state,
            login=states.StartedLogin(
                provider=provider,
                redirect_uri=redirect_uri,
                nonce=request.nonce,
                code_verifier=request.code_verifier,
                link_identity_id=link.identity_id if link else None,
                link_generation=link.generation if link else None,
            ),
        )
    except (providers.ProviderUnavailable, states.StoreUnavailable) as error:
        raise Unavailable(PROVIDER_UNAVAILABLE) from error
    return request.url


def posted_profile(*, provider: str, user: str | None) -> dict[str, str]:
    """The name a `form_post` provider posted beside the code (Apple's
    `user` field, JSON `{"name": {"firstName", "lastName"}, "email"}`, sent
    on the user's first authorization only), as Medusa's profile keys
    (`given_name`, `family_name`, `name`). Not signed: only the user's own
    name is taken from it, never the email (the ID token's is the one that
    counts); anything malformed is ignored, not refused (the login is
    good without a name)."""
    config = providers.provider_config(provider)
    if not user or config is None or config.response_mode != "form_post":
        return {}
    try:
        posted = json.loads(user)
    except ValueError:
        return {}
    name = posted.get("name") if isinstance(posted, dict) else None
    if not isinstance(name, dict):
        return {}
    fields = (("given_name", "firstName"), ("family_name", "lastName"))
    profile = {
        key: value.strip()
        for key, field_name in fields
        if isinstance(value := name.get(field_name), str)
        and value.strip()
        and len(value) <= 256
    }
    if profile:
        profile["name"] = " ".join(
            profile[key] for key in ("given_name", "family_name") if key in profile
        )
    return profile


def login_finish(
    *, provider: str, code: str | None, state: str | None, issuer: str | None
) -> FinishedLogin:
    """The verified claims of the login `state` started, once: the state is
    spent whatever happens next; and the link it started, if it did."""
    config = _config(provider)
    if not state:
        raise Unauthorized(NO_STATE)
    try:
        started = states.started_login_take(state=state)
    except states.StoreUnavailable as error:
        raise Unavailable(PROVIDER_UNAVAILABLE) from error
    if started is None or started.provider != provider:
        raise Unauthorized(NO_STATE)
    if issuer is not None and issuer != config.issuer:
        raise Unauthorized(NO_STATE)  # RFC 9207: another issuer's answer
    if not code:
        raise Unauthorized(NO_CODE)
    try:
        claims = _claims(config, code=code, started=started)
    except providers.ProviderRefused as error:
        raise Unauthorized(f"{NOT_EXCHANGED}, {error}") from None
    except providers.InvalidIdToken as error:
        raise Unauthorized(f"Invalid ID token ({error})") from None
    except providers.ProviderUnavailable as error:
        raise Unavailable(PROVIDER_UNAVAILABLE) from error
    link = None
    if started.link_identity_id is not None and started.link_generation is not None:
        link = LinkRequest(
            identity_id=started.link_identity_id, generation=started.link_generation
        )
    return FinishedLogin(claims=claims, link=link)


def _claims(
    config: providers.ProviderConfig, *, code: str, started: states.StartedLogin
) -> IdTokenClaims:
    """What the provider says of the user the code stands for."""
    return _client(config).verified_claims(
        config,
        code=code,
        redirect_uri=started.redirect_uri,
        code_verifier=started.code_verifier,
        nonce=started.nonce,
    )


def _client(config: providers.ProviderConfig) -> providers.ProviderClient:
    """The module that speaks to this kind of provider (an OpenID Connect
    ID token, or GitHub's API), imported on first use: Authlib costs each
    web worker about 2 MiB that a shop without social login, and every
    request that is not one, never needs."""
    if config.kind == "github":
        from social import github

        return github
    from social import oidc

    return oidc


def display_names() -> dict[str, str]:
    """Each configured provider's name and display name, for the list."""
    return {
        name: values["display_name"]
        for name, values in settings.SOCIAL_LOGIN_PROVIDERS.items()
    }
