"""Request limits of the account routes, keyed by client and address
(core/ratelimit.py counts; docs/api.md, "Request limits", says why)."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from django.conf import settings

from core.emails import email_normalize
from core.errors import Unauthorized
from core.ratelimit import (
    Limit,
    client_is_known,
    client_key,
    client_remember,
    failures_limited,
    rate_limit,
)


def _refusals_limited(*limits: Limit) -> AbstractContextManager[None]:
    """An attempt in the block counts against `limits` when it is refused
    (401); any other outcome gives its count back."""
    return failures_limited(*limits, failure=Unauthorized)


def signup_rate_limit(request) -> None:
    rate_limit(("signup-ip", client_key(request), settings.SIGNUP_LIMIT_PER_IP, 3600))


def social_login_rate_limit(request) -> None:
    rate_limit(
        ("social-ip", client_key(request), settings.SOCIAL_LOGIN_LIMIT_PER_IP, 600)
    )


def signup_failures_limited(email: str) -> AbstractContextManager[None]:
    """Refused registrations of an address (register and one-step signup):
    each tested a password against an unfinished signup, since register
    completes an unlinked identity whose password matches."""
    return _refusals_limited(
        (
            "signup-fail-email",
            email_normalize(email),
            settings.SIGNUP_FAILURES_PER_EMAIL,
            3600,
        )
    )


@contextmanager
def login_failures_limited(request, email: str) -> Iterator[None]:
    """Failed logins per (address, client), and per address from clients
    that never logged in to it: strangers guessing from anywhere run into
    the second limit, the owner's own client does not."""
    client = client_key(request)
    rate_limit(("login-ip", client, settings.LOGIN_LIMIT_PER_IP, 600))
    address = email_normalize(email)
    pair = f"{address} {client}"
    limits = [("login-fail", pair, settings.LOGIN_FAILURES_PER_EMAIL_CLIENT, 600)]
    if not client_is_known(scope="login", key=pair):
        limits.append(
            ("login-fail-email", address, settings.LOGIN_FAILURES_PER_EMAIL, 3600)
        )
    with _refusals_limited(*limits):
        yield
    client_remember(
        scope="login", key=pair, seconds=settings.LOGIN_KNOWN_CLIENT_DAYS * 86400
    )
