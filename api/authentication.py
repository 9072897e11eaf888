"""DRF authentication for customers: the session cookie first, then a Bearer
JWT (Medusa's order); `bearer_authenticate` is the Bearer half alone, for
the route that opens a session. Any failure is Medusa's bare 401
Unauthorized."""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from accounts import selectors, services
from accounts.models import AuthIdentity, CustomerAddress
from accounts.sessions import customer_session_claims
from accounts.tokens import (
    AccessClaims,
    InvalidToken,
    access_claims_parse,
    access_token_decode,
)
from core.http import bearer_token


@dataclass(frozen=True)
class CustomerAuth:
    claims: AccessClaims
    identity: AuthIdentity
    via_session: bool
    # The customer's addresses, read with the identity when the route asked
    # (CustomerAuthentication's `with_addresses`); None otherwise.
    addresses: list[CustomerAddress] | None = None

    is_authenticated = True

    @property
    def customer_id(self) -> str:
        """The token's actor ("" for a registration token); the selector has
        checked that it is the identity's customer."""
        return self.claims.actor_id


class CustomerAuthentication(authentication.BaseAuthentication):
    def with_addresses(self, request) -> bool:
        """Whether the request's answer carries the customer's addresses:
        read then in the identity's own statement, one round trip."""
        return False

    def authenticate(self, request):
        with_addresses = self.with_addresses(request)
        cookie = request.COOKIES.get(settings.CUSTOMER_SESSION_COOKIE_NAME)
        if cookie:
            payload = customer_session_claims(cookie_value=cookie)
            if payload is not None:
                claims = _parse(payload)
                auth = _resolve(claims, via_session=True, with_addresses=with_addresses)
                return auth, None
        auth = bearer_authenticate(request, with_addresses=with_addresses)
        if auth is None:
            return None
        return auth, None

    def authenticate_header(self, request) -> str:
        return "Bearer"


class CustomerReadAuthentication(CustomerAuthentication):
    """GET /store/customers/me: its answer carries the addresses."""

    def with_addresses(self, request) -> bool:
        return request.method == "GET"


def bearer_authenticate(
    request, *, with_addresses: bool = False
) -> CustomerAuth | None:
    """The request's Bearer token, resolved; None without one. A token that
    does not decode or is refused is AuthenticationFailed."""
    token = bearer_token(request)
    if token is None:
        return None
    try:
        claims = access_token_decode(token)
    except InvalidToken:
        raise exceptions.AuthenticationFailed() from None
    return _resolve(claims, via_session=False, with_addresses=with_addresses)


def _resolve(
    claims: AccessClaims, *, via_session: bool, with_addresses: bool
) -> CustomerAuth:
    subject = selectors.auth_identity_for_claims(
        claims=claims, with_addresses=with_addresses
    )
    if subject is None:
        raise exceptions.AuthenticationFailed()
    if claims.session_id is not None:
        services.login_session_touch(
            session_id=claims.session_id,
            last_used_at=subject.session_last_used_at,
            now=timezone.now(),
        )
    return CustomerAuth(
        claims=claims,
        identity=subject.identity,
        via_session=via_session,
        addresses=subject.addresses,
    )


def _parse(payload) -> AccessClaims:
    try:
        return access_claims_parse(payload)
    except InvalidToken:
        raise exceptions.AuthenticationFailed() from None


class IsCustomer(permissions.BasePermission):
    """A token with an actor (`actor_id` set), as Medusa's default
    authenticate(); the selector has checked it is the identity's customer."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not isinstance(user, CustomerAuth) or not user.customer_id:
            raise exceptions.NotAuthenticated()
        return True


class IsAuthIdentity(permissions.BasePermission):
    """Any valid customer token, actor-less included (`allowUnregistered`)."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, CustomerAuth):
            raise exceptions.NotAuthenticated()
        return True
