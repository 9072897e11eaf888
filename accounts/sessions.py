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


def _store(cookie_value: str) -> SessionStore | None:
    try:
        session_key = _signer().unsign(cookie_value)
    except signing.BadSignature:
        return None
    store = SessionStore(session_key=session_key)
    return store if store.exists(session_key) else None


def customer_session_claims(*, cookie_value: str) -> dict[str, Any] | None:
    store = _store(cookie_value)
    return store.get(_CLAIMS_KEY) if store is not None else None


def customer_session_delete(*, cookie_value: str) -> bool:
    store = _store(cookie_value)
    if store is None:
        return False
    store.delete()
    return True
