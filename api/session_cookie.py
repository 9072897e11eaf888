"""The customer session cookie (`connect.sid`) on an answer: opened by
POST /auth/session, and renewed by a change that refuses the old session's
claims (POST /store/customers/me/password, /store/customers/me/email/confirm)."""

from typing import Any

from django.conf import settings
from rest_framework.response import Response

from accounts.sessions import customer_session_create, customer_session_delete
from accounts.tokens import access_token_decode


def session_cookie_set(response: Response, *, claims: dict[str, Any]) -> None:
    response.set_cookie(
        settings.CUSTOMER_SESSION_COOKIE_NAME,
        customer_session_create(claims=claims),
        max_age=int(settings.CUSTOMER_SESSION_TTL.total_seconds()),
        httponly=True,
        secure=settings.CUSTOMER_SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def session_renew(request: Any, response: Response, token: str) -> None:
    """The old session's claims are refused now: end it, and open one with
    the new token's, so this browser stays logged in."""
    cookie = request.COOKIES.get(settings.CUSTOMER_SESSION_COOKIE_NAME, "")
    customer_session_delete(cookie_value=cookie)
    session_cookie_set(response, claims=access_token_decode(token).raw)
