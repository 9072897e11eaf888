"""The customer session cookie (`connect.sid`) on an answer: opened by
POST /auth/session, and renewed by a change that refuses the old session's
claims (POST /store/customers/me/password)."""

from typing import Any

from django.conf import settings
from rest_framework.response import Response

from accounts.sessions import customer_session_create


def session_cookie_set(response: Response, *, claims: dict[str, Any]) -> None:
    response.set_cookie(
        settings.CUSTOMER_SESSION_COOKIE_NAME,
        customer_session_create(claims=claims),
        max_age=int(settings.CUSTOMER_SESSION_TTL.total_seconds()),
        httponly=True,
        secure=settings.CUSTOMER_SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
