"""The OpenID Connect relying party, on Authlib: discovery, the
authorization URL (state, nonce, PKCE S256), the code exchange and the ID
token's checks. Nothing here parses or verifies a JWT by hand.

Threat model: a forged, altered, replayed or misdirected ID token. Authlib
(joserfc underneath) checks the signature against the issuer's JWKS
(fetched again once when a token names a key id it does not know: the
provider rotated its keys), `iss` against the configured issuer, `aud`
(and `azp`) against our client id, `exp`/`iat` with a small leeway, and the
`nonce` against the one this login started with. Only asymmetric algorithms
are accepted, whatever the discovery document lists (never `none` or an
HMAC keyed by something public). The discovery document must name the
configured issuer (OpenID Connect Discovery 1.0, 4.3). Not defended here:
the started login's single use and expiry (social/states.py) and who the
claims may log in (flows/social_login.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from authlib.integrations.base_client import (
    BaseApp,
    FrameworkIntegration,
    OAuth2Mixin,
    OAuthError,
    OpenIDMixin,
)
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from django.conf import settings
from joserfc.errors import JoseError

from social.client_secret import client_secret_jwt
from social.providers import (
    AuthorizationRequest,
    IdTokenClaims,
    InvalidIdToken,
    ProviderConfig,
    ProviderRefused,
    ProviderUnavailable,
)

# Asymmetric JWS algorithms an ID token may use (Google: RS256).
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
# Discovery and JWKS are fetched again after this long (each process).
METADATA_TTL = 3600.0
# Clocks of the provider and ours may differ this much (seconds).
LEEWAY = 60


def client_kwargs(config: ProviderConfig, *, auth_method: str) -> dict[str, Any]:
    """Authlib's client settings of every provider: the scope, PKCE (S256),
    how the client authenticates at the token endpoint, the timeout."""
    return {
        "scope": config.scope,
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": auth_method,
        "default_timeout": settings.SOCIAL_HTTP_TIMEOUT,
    }


class _OidcApp(OpenIDMixin, OAuth2Mixin, BaseApp):  # type: ignore[misc]
    """Authlib's framework-free OpenID Connect client: the state, nonce and
    verifier come back to us to keep (social/states.py), not in a cookie
    session."""

    client_cls = OAuth2Session

    def __init__(self, config: ProviderConfig):
        super().__init__(
            FrameworkIntegration(config.name),
            config.name,
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_kwargs=client_kwargs(
                config,
                # Apple takes its signed secret in the body only.
                auth_method="client_secret_post"
                if config.signs_client_secret
                else "client_secret_basic",
            ),
        )
        self.config = config
        self.created_at = time.monotonic()

    def load_server_metadata(self) -> dict[str, Any]:
        fresh = "_loaded_at" not in self.server_metadata
        metadata: dict[str, Any] = super().load_server_metadata()
        if fresh:
            if metadata.get("issuer") != self.config.issuer:
                raise ProviderUnavailable("the discovery document names another issuer")
            offered = metadata.get("id_token_signing_alg_values_supported") or []
            metadata["id_token_signing_alg_values_supported"] = [
                alg for alg in offered if alg in ID_TOKEN_ALGORITHMS
            ] or ["RS256"]
        return metadata


_apps: dict[str, _OidcApp] = {}


def _app(config: ProviderConfig) -> _OidcApp:
    app = _apps.get(config.name)
    if (
        app is None
        or app.config != config
        or time.monotonic() - app.created_at > METADATA_TTL
    ):
        app = _apps[config.name] = _OidcApp(config)
    return app


def _unavailable(error: Exception) -> ProviderUnavailable:
    # The class only: a message may quote a response body or a URL.
    return ProviderUnavailable(type(error).__name__)


def authorization_request(
    config: ProviderConfig, *, redirect_uri: str
) -> AuthorizationRequest:
    """The provider's authorization URL for a new login, with fresh state,
    nonce and PKCE verifier (Authlib's secrets module tokens)."""
    app = _app(config)
    try:
        extra = (
            {"response_mode": config.response_mode}
            if config.response_mode != "query"
            else {}
        )
        created = app.create_authorization_url(redirect_uri, **extra)
    except ProviderUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - discovery failed: any cause
        raise _unavailable(error) from error
    return AuthorizationRequest(
        url=created["url"],
        state=created["state"],
        nonce=created["nonce"],
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
    """Exchange the code (with the PKCE verifier) and verify the ID token.
    The provider's tokens go no further than this function."""
    app = _app(config)
    extra: dict[str, Any] = {}
    if config.signs_client_secret:
        secret = client_secret_jwt(
            team_id=config.team_id,
            key_id=config.key_id,
            client_id=config.client_id,
            audience=config.issuer,
            private_key=config.private_key,
            now=datetime.now(UTC),
        )
        extra["auth"] = OAuth2ClientAuth(config.client_id, secret, "client_secret_post")
    try:
        token = app.fetch_access_token(
            redirect_uri=redirect_uri, code=code, code_verifier=code_verifier, **extra
        )
    except OAuthError as error:
        raise ProviderRefused(str(error.error)) from None
    except Exception as error:  # noqa: BLE001 - network, bad JSON: any cause
        raise _unavailable(error) from None
    if not isinstance(token, dict) or not token.get("id_token"):
        raise InvalidIdToken("no ID token")
    try:
        claims = app.parse_id_token(
            token,
            nonce=nonce,
            claims_options={
                "iss": {"essential": True, "value": config.issuer},
                "aud": {"essential": True, "value": config.client_id},
                "sub": {"essential": True},
            },
            leeway=LEEWAY,
        )
    except JoseError as error:
        raise InvalidIdToken(error.error) from None
    except ValueError as error:  # joserfc: a malformed token
        raise InvalidIdToken(type(error).__name__) from None
    except Exception as error:  # noqa: BLE001 - the JWKS fetch failed
        raise _unavailable(error) from None
    return _claims(dict(claims))


def _claims(claims: dict[str, Any]) -> IdTokenClaims:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise InvalidIdToken("sub")
    email = claims.get("email")
    # Google sends a boolean; Apple (and some others) the string "true".
    verified = claims.get("email_verified") in (True, "true")
    profile = {
        key: value
        for key in ("name", "given_name", "family_name", "picture")
        if isinstance(value := claims.get(key), str) and len(value) <= 2048
    }
    return IdTokenClaims(
        subject=subject,
        email=email if isinstance(email, str) and email else None,
        email_verified=verified,
        profile=profile,
        private_email=claims.get("is_private_email") in (True, "true"),
    )
