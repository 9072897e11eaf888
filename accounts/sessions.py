"""Cookie sessions for the SDK's `auth.type: "session"` mode (POST/DELETE
/auth/session). The session keeps the token's claims, as Medusa's does; the
cookie carries the session key signed with COOKIE_SECRET."""

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core import signing

_SALT = "accounts.customer-session"
_CLAIMS_KEY = "auth_context"


def _signer() -> signing.Signer:
    return signing.Signer(key=settings.COOKIE_SECRET, salt=_SALT)


def customer_session_create(*, claims: dict[str, Any]) -> str:
    """Store the claims; return the signed cookie value."""
    store = SessionStore()
    store[_CLAIMS_KEY] = claims
    store.set_expiry(int(settings.CUSTOMER_SESSION_TTL.total_seconds()))
    store.create()
    if store.session_key is None:  # create() always sets one
        raise RuntimeError("the session store made no key")
    return _signer().sign(store.session_key)


def _load(cookie_value: str) -> tuple[SessionStore, dict[str, Any]] | None:
    """The cookie's session and its claims, in one query; None for a forged
    cookie, or a session gone or expired."""
    try:
        session_key = _signer().unsign(cookie_value)
    except signing.BadSignature:
        return None
    store = SessionStore(session_key=session_key)
    claims = store.load().get(_CLAIMS_KEY)  # {} when gone or expired
    return (store, claims) if isinstance(claims, dict) else None


def customer_session_claims(*, cookie_value: str) -> dict[str, Any] | None:
    loaded = _load(cookie_value)
    return loaded[1] if loaded is not None else None


def customer_session_delete(*, cookie_value: str) -> dict[str, Any] | None:
    """Delete the cookie's session; return the claims it held (None: no
    such session)."""
    loaded = _load(cookie_value)
    if loaded is None:
        return None
    store, claims = loaded
    store.delete()
    return claims
