"""The requesting client's login session: a token that continues it (a
refresh, a change that refuses every older token), and the customer session
cookie (`connect.sid`) on an answer: opened by POST /auth/session, and
renewed by a change that refuses the old session's claims (POST
/store/customers/me/password, /store/customers/me/email/confirm)."""

from datetime import datetime
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.response import Response

from accounts import services
from accounts.models import AuthIdentity
from accounts.sessions import customer_session_create, customer_session_delete
from accounts.tokens import access_token_decode
from core.client_info import client_info


def client_token(
    request: Any, *, identity: AuthIdentity, provider: str, now: datetime
) -> str:
    """A token of the request's login session (a token from before sessions
    gets one: accounts.services.access_token_for_session); 401 if the
    caller was signed out meanwhile."""
    token = services.access_token_for_session(
        identity=identity,
        provider=provider,
        claims=request.user.claims,
        client=client_info(request),
        now=now,
    )
    if token is None:
        raise exceptions.AuthenticationFailed()
    return token


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
