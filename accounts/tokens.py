"""JWTs with Medusa 2.21's claims, their order, HS256 and lifetimes.

Threat model: a token is a bearer credential. We defend against forged or
altered tokens (HS256 with JWT_SECRET, algorithm pinned, `none` refused),
expired ones, tokens for another actor type, reset tokens used as access
tokens, tokens issued before a revocation (a password reset, the first
proof of the mailbox): each token carries its identity's revocation
generation in the `gen` claim, and `accounts.selectors` refuses a token whose
generation is not the identity's current one; and tokens of an ended
session: each carries its login session in the `sid` claim, refused once
the session's row is gone. We do not defend against a
stolen, still-valid token that nothing revoked: keep lifetimes short and use
HTTPS.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings

ACTOR_TYPE = "customer"
ALGORITHM = "HS256"
# Ours, after Medusa's claims: the identity's revocation generation when the
# token was signed. Medusa's tokens (imported shops) have none.
GENERATION_CLAIM = "gen"
# Ours: the login session (accounts.models.LoginSession) the token belongs
# to. Tokens signed before sessions existed, and Medusa's, have none.
SESSION_CLAIM = "sid"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    actor_id: str
    auth_identity_id: str
    auth_provider: str | None
    issued_at: int
    generation: int | None
    session_id: str | None
    # The verified payload, shared by every request with the same token
    # (`_verified`): read it, never change it.
    raw: dict[str, Any]


def access_token_issue(
    *,
    auth_identity_id: str,
    customer_id: str | None,
    auth_provider: str,
    app_metadata: dict[str, Any],
    user_metadata: dict[str, Any] | None,
    generation: int,
    session_id: str | None,
    now: datetime,
) -> str:
    """Medusa's claims, then ours; `session_id` None makes a token as they
    were before sessions (tests of what such tokens may do)."""
    metadata = dict(app_metadata)
    if customer_id:
        metadata["customer_id"] = customer_id
    issued_at = int(now.timestamp())
    payload = {
        "actor_id": customer_id or "",
        "actor_type": ACTOR_TYPE,
        "auth_identity_id": auth_identity_id,
        "auth_provider": auth_provider,
        "mfa_enabled": False,
        "mfa_challenge_completed_at": None,
        "app_metadata": metadata,
        "user_metadata": user_metadata or {},
        "iat": issued_at,
        "exp": issued_at + int(settings.JWT_EXPIRES_IN.total_seconds()),
        GENERATION_CLAIM: generation,
    }
    if session_id is not None:
        payload[SESSION_CLAIM] = session_id
    return jwt.encode(payload, settings.JWT_SECRET, algorithm=ALGORITHM)


def access_token_decode(token: str) -> AccessClaims:
    return access_claims_parse(_decode(token))


def access_claims_parse(payload: dict[str, Any]) -> AccessClaims:
    actor_id = payload.get("actor_id", "")
    identity_id = payload.get("auth_identity_id")
    provider = payload.get("auth_provider")
    issued_at = payload.get("iat")
    generation = payload.get(GENERATION_CLAIM)
    session_id = payload.get(SESSION_CLAIM)
    if (
        payload.get("actor_type") != ACTOR_TYPE
        or "purpose" in payload  # a reset token is not an access token
        or not isinstance(identity_id, str)
        or not identity_id
        or not isinstance(actor_id, str)
        or not isinstance(issued_at, int)
        or (provider is not None and not isinstance(provider, str))
        or not (generation is None or _is_int(generation))
        or not (session_id is None or _text(session_id))
    ):
        raise InvalidToken("not a customer access token")
    return AccessClaims(
        actor_id=actor_id,
        auth_identity_id=identity_id,
        auth_provider=provider,
        issued_at=issued_at,
        generation=generation,
        session_id=session_id,
        raw=payload,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ResetClaims:
    entity_id: str
    provider: str
    jti: str


def reset_token_issue(*, entity_id: str, provider: str, jti: str, now: datetime) -> str:
    issued_at = int(now.timestamp())
    payload = {
        "entity_id": entity_id,
        "provider": provider,
        "actor_type": ACTOR_TYPE,
        "purpose": "reset",
        "iat": issued_at,
        "exp": issued_at + int(settings.RESET_TOKEN_EXPIRES_IN.total_seconds()),
        "jti": jti,
    }
    return jwt.encode(payload, settings.JWT_SECRET, algorithm=ALGORITHM)


def reset_token_decode(token: str) -> ResetClaims:
    payload = _decode(token)
    entity_id, provider, jti = (
        _text(payload.get(key)) for key in ("entity_id", "provider", "jti")
    )
    if (
        payload.get("purpose") != "reset"
        or payload.get("actor_type") != ACTOR_TYPE
        or entity_id is None
        or provider is None
        or jti is None
    ):
        raise InvalidToken("not a reset token")
    return ResetClaims(entity_id, provider, jti)


def _text(value: Any) -> str | None:
    """A claim that must be a non-empty string: it, or None."""
    return value if isinstance(value, str) and value else None


def _decode(token: str) -> dict[str, Any]:
    """The token's payload, verified. The expiry is checked on every use;
    the signature once per token and secret (`_verified`)."""
    payload = _verified(token, settings.JWT_SECRET)
    # PyJWT's own test, without leeway: expired at its `exp` second.
    if int(payload["exp"]) <= time.time():
        raise InvalidToken("Signature has expired")
    return payload


# A storefront sends the same token with each of its requests, and PyJWT's
# decode (base64, key checks, HMAC, JSON) was 15 % of the web workers'
# samples under GET /me; skipping it took 16 % off the request's CPU
# (docs/performance.md). Only verified payloads are kept (a refused token
# raises, and exceptions are not cached), keyed by the secret as well so a
# new one verifies afresh; a payload is shared, so callers only read it
# (AccessClaims.raw). About 3 kB an entry with its token, 3 MB a worker.
@lru_cache(maxsize=1024)
def _verified(token: str, secret: str) -> dict[str, Any]:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # An iat a little ahead is another host's clock, not an attack
            # (the signature is ours): Medusa's jsonwebtoken accepts it too.
            options={"require": ["iat", "exp"], "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if not isinstance(payload, dict):
        raise InvalidToken("payload is not an object")
    return payload
