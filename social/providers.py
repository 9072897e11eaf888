"""What every provider shares, without an HTTP client: the provider's
settings, a started login, the claims a finished one yields, and the
errors. Each web worker imports this at start-up; the clients that speak
to providers (social/oidc.py, social/github.py: Authlib, about 2 MiB a
process) load on the process's first social login (social/services.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered nonsense (a 5xx for us)."""


class ProviderRefused(Exception):
    """The provider refused the code (used, expired, another client's)."""


class InvalidIdToken(Exception):
    """The ID token failed a check; the message names which (no token)."""


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    callback_url: str
    scope: str
    display_name: str
    response_mode: str = "query"
    # A client secret we sign for each token request (Apple's): the team
    # id, the key's id and the PEM private key (social/client_secret.py).
    team_id: str = ""
    key_id: str = ""
    private_key: str = ""
    # "oidc", or "github": OAuth 2.0 and GitHub's REST API (social/github.py)
    # at these URLs instead of an issuer's discovery and ID token.
    kind: str = "oidc"
    authorize_url: str = ""
    token_url: str = ""
    api_url: str = ""

    @property
    def signs_client_secret(self) -> bool:
        return bool(self.private_key)

    def __repr__(self) -> str:  # the secret stays out of tracebacks and logs
        return f"ProviderConfig(name={self.name!r}, issuer={self.issuer!r})"


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class IdTokenClaims:
    """What a verified login says about the user: an ID token's claims, or
    what GitHub's API answered (social/github.py)."""

    subject: str
    email: str | None
    email_verified: bool
    profile: dict[str, str]
    # Apple's `is_private_email`: a private-relay address (a real mailbox
    # that forwards to the user's).
    private_email: bool = False


def provider_config(name: str) -> ProviderConfig | None:
    values = settings.SOCIAL_LOGIN_PROVIDERS.get(name)
    if values is None:
        return None
    # The settings refused an issuer that is not https:// (but the test
    # stack's) and a provider without its client secret.
    return ProviderConfig(name=name, **values)


def provider_names() -> list[str]:
    return list(settings.SOCIAL_LOGIN_PROVIDERS)


class ProviderClient(Protocol):
    """What social/oidc.py and social/github.py each provide."""

    def authorization_request(
        self, config: ProviderConfig, *, redirect_uri: str
    ) -> AuthorizationRequest: ...

    def verified_claims(
        self,
        config: ProviderConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        nonce: str,
    ) -> IdTokenClaims: ...
