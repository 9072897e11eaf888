"""Sign in with GitHub: OAuth 2.0 without OpenID Connect, on Authlib. The
authorization URL (state, PKCE S256: GitHub takes it since July 2025), the
code exchange at the token URL (client id and secret in the body, `Accept:
application/json`), then GitHub's REST API: `GET /user` for the numeric id
and `GET /user/emails` for the addresses. Nothing here speaks OAuth by hand.

Threat model: there is no ID token to verify, so what the login says about
the user is what GitHub's API answers for the access token our code bought
(over TLS, with our client secret and the login's PKCE verifier).
- The subject is the numeric user id, never the login (a user renames
  their login and someone else can take the old one).
- The address is the account's primary one of `/user/emails`, verified
  when GitHub says so there; `/user`'s `email` is the public profile
  address the user typed and says nothing of verification. An account with
  no verified address at all shares none (401: nothing created); GitHub
  does not let such an account authorize an OAuth app in the first place.
- The access token lives in this module's frames: it is not returned,
  kept or logged (Authlib logs at DEBUG, silenced in the settings).
Not defended here, as for OpenID Connect: the state's single use
(social/states.py) and who the claims log in (flows/social_login.py).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client import (
    BaseApp,
    FrameworkIntegration,
    OAuth2Mixin,
    OAuthError,
)
from authlib.integrations.requests_client import OAuth2Session

from social.oidc import client_kwargs
from social.providers import (
    AuthorizationRequest,
    IdTokenClaims,
    ProviderConfig,
    ProviderRefused,
    ProviderUnavailable,
)

# GitHub's REST API asks for these (docs.github.com/rest, "API versions").
API_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
# A user has a few addresses; one page of GitHub's largest size holds them.
EMAILS_PER_PAGE = 100


class _GithubApp(OAuth2Mixin, BaseApp):  # type: ignore[misc]
    """Authlib's framework-free OAuth 2.0 client at GitHub's URLs; the
    state and verifier come back to us to keep (social/states.py)."""

    client_cls = OAuth2Session

    def __init__(self, config: ProviderConfig):
        super().__init__(
            FrameworkIntegration(config.name),
            config.name,
            client_id=config.client_id,
            client_secret=config.client_secret,
            authorize_url=config.authorize_url,
            access_token_url=config.token_url,
            api_base_url=config.api_url,
            # GitHub documents the client id and secret as body parameters.
            client_kwargs=client_kwargs(config, auth_method="client_secret_post"),
        )
        self.config = config


_apps: dict[str, _GithubApp] = {}


def _app(config: ProviderConfig) -> _GithubApp:
    app = _apps.get(config.name)
    if app is None or app.config != config:
        app = _apps[config.name] = _GithubApp(config)
    return app


def authorization_request(
    config: ProviderConfig, *, redirect_uri: str
) -> AuthorizationRequest:
    """GitHub's authorization URL for a new login, with a fresh state and
    PKCE verifier (no nonce: there is no ID token to carry one)."""
    created = _app(config).create_authorization_url(redirect_uri)
    return AuthorizationRequest(
        url=created["url"],
        state=created["state"],
        nonce="",
        code_verifier=created["code_verifier"],
    )


def verified_claims(
    config: ProviderConfig,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    nonce: str,
) -> IdTokenClaims:
    """Exchange the code (with the PKCE verifier), then ask GitHub's API
    who the token's user is and which of their addresses are verified. The
    access token goes no further than this function. (`nonce` is empty:
    without an ID token there is nothing to carry it.)"""
    app = _app(config)
    try:
        token = app.fetch_access_token(
            redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
        )
    except OAuthError as error:
        # GitHub answers 200 {"error": "bad_verification_code", …}.
        raise ProviderRefused(str(error.error)) from None
    except Exception as error:  # noqa: BLE001 - network, bad JSON: any cause
        raise ProviderUnavailable(type(error).__name__) from None
    if not isinstance(token, dict) or not token.get("access_token"):
        raise ProviderUnavailable("no access token")
    user = _api(app, token, "user")
    emails = _api(app, token, "user/emails", params={"per_page": EMAILS_PER_PAGE})
    return _claims(user, emails)


def _api(app: _GithubApp, token: dict[str, Any], path: str, **kwargs: Any) -> Any:
    """The JSON GitHub's API answers; None for `/user/emails` when the
    token may not read the addresses (a GitHub App without the email
    permission: 403 or 404)."""
    try:
        response = app.get(path, token=token, headers=API_HEADERS, **kwargs)
    except Exception as error:  # noqa: BLE001 - network: any cause
        raise ProviderUnavailable(type(error).__name__) from None
    if path == "user/emails" and response.status_code in (403, 404):
        return None
    if response.status_code != 200:
        raise ProviderUnavailable(f"{path}: {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable(f"{path}: not JSON") from None


def _claims(user: Any, emails: Any) -> IdTokenClaims:
    user_id = user.get("id") if isinstance(user, dict) else None
    # An integer (JSON's true is one in Python: not an id).
    if type(user_id) is not int or user_id <= 0:
        raise ProviderUnavailable("user: no id")
    listed = [
        entry
        for entry in (emails if isinstance(emails, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("email"), str)
    ]
    primary = next((entry for entry in listed if entry.get("primary") is True), None)
    # No verified address at all: the account speaks for no mailbox.
    any_verified = any(entry.get("verified") is True for entry in listed)
    profile = {
        key: value
        for key, field in (("name", "name"), ("picture", "avatar_url"))
        if isinstance(value := user.get(field), str) and 0 < len(value) <= 2048
    }
    return IdTokenClaims(
        subject=str(user_id),
        email=primary["email"] if primary is not None and any_verified else None,
        email_verified=primary is not None and primary.get("verified") is True,
        profile=profile,
    )
