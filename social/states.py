"""Started logins, kept server side until the provider's callback: the
state names the entry, which holds the provider, the redirect URI, the
nonce and the PKCE verifier.

Threat model: login CSRF and code injection (a callback with a state we
did not hand out, or handed out for another provider, is refused), replay
(an entry is read and deleted in one Redis command, GETDEL: a second
callback with the same state finds nothing, even at the same instant), and
stale logins (entries expire after SOCIAL_STATE_TTL). Redis holds the key
as an HMAC of the state, so a dump of it does not hand out live states; the
nonce and verifier are short-lived secrets that are useless without the
provider's code. Losing Redis loses the logins in progress, nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from functools import cache

import redis
from django.conf import settings


class StoreUnavailable(Exception):
    pass


@dataclass(frozen=True)
class StartedLogin:
    provider: str
    redirect_uri: str
    nonce: str
    code_verifier: str
    # A link started by a logged-in customer: their identity, and its
    # revocation generation then (a reset meanwhile voids the link).
    link_identity_id: str | None = None
    link_generation: int | None = None


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
    )


def _key(state: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), state.encode(), hashlib.sha256
    ).hexdigest()
    return f"social:state:{digest}"


def started_login_save(*, state: str, login: StartedLogin) -> None:
    ttl = int(settings.SOCIAL_STATE_TTL.total_seconds())
    try:
        saved = _client().set(_key(state), json.dumps(asdict(login)), ex=ttl, nx=True)
    except redis.RedisError as error:
        raise StoreUnavailable(type(error).__name__) from None
    if not saved:  # a state is 30 random characters: never seen twice
        raise StoreUnavailable("state collision")


def started_login_take(*, state: str) -> StartedLogin | None:
    """The login `state` started, removed in the same command; None when it
    is unknown, expired or already taken."""
    try:
        raw = _client().getdel(_key(state))
    except redis.RedisError as error:
        raise StoreUnavailable(type(error).__name__) from None
    if raw is None:
        return None
    return StartedLogin(**json.loads(raw))
