"""Medusa's social login routes for OpenID Connect providers and GitHub
(docs/social-login.md): `sdk.auth.login("customer", "google", …)` starts,
`sdk.auth.callback("customer", "google", query)` finishes."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.selectors import login_email
from api.authentication import CustomerAuthentication, IsCustomer
from api.bodies import SocialLoginCallbackSerializer, SocialLoginStartSerializer
from api.fields import validated
from api.limits import social_login_rate_limit
from api.parsers import StrictFormParser, StrictJSONParser
from api.providers import SOCIAL_PROVIDERS
from api.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    errors,
    list_of,
)
from api.shapes import CUSTOMER_TOKEN, SESSION_COOKIE, TokenSerializer, requirement
from core.client_info import client_info
from core.errors import NotFound
from flows.social_login import (
    social_link_start,
    social_login_finish,
    social_login_start,
    social_unlink,
)

CALLBACK_URL_QUERY = OpenApiParameter(
    "callback_url",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    description="As `callback_url` in a POST body",
)
CALLBACK_QUERY = [
    OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=text)
    for name, text in (
        ("code", "The provider's authorization code"),
        ("state", "The state of the login the start handed out"),
        ("iss", "The provider's issuer (RFC 9207), when it sends it"),
    )
]
LOCATION = OpenApiResponse(
    {
        "type": "object",
        "required": ["location"],
        "properties": {"location": {"type": "string", "format": "uri"}},
        "additionalProperties": False,
    },
    description="The provider's authorization URL: send the browser there",
)
START_ERRORS = errors(400, 401, 429, 503)
FINISH_ERRORS = errors(400, 401, 429, 503)


class SocialLoginStartApi(APIView):
    """Exempt from CSRF like every API view: it sets no cookie and returns
    a URL; the state it keeps binds the login to this start alone."""

    parser_classes = [StrictJSONParser, StrictFormParser]

    def _start(self, request, provider: str, data) -> Response:
        body = validated(SocialLoginStartSerializer, data)
        social_login_rate_limit(request)
        location = social_login_start(
            provider=provider, callback_url=body.get("callback_url")
        )
        return Response({"location": location})

    @extend_schema(
        summary="Start a social login (query)",
        parameters=[CALLBACK_URL_QUERY, RETRY_AFTER_HEADER],
        responses={200: LOCATION, **START_ERRORS},
    )
    def get(self, request, provider: str):
        return self._start(request, provider, request.query_params.dict())

    @extend_schema(
        summary="Start a social login",
        description="`{location}`: the provider's authorization URL, with a "
        "state, a nonce and a PKCE challenge; the provider sends the browser "
        "back to `callback_url` with `code` and `state`.",
        parameters=[RETRY_AFTER_HEADER],
        request={
            "application/json": SocialLoginStartSerializer,
            "application/x-www-form-urlencoded": SocialLoginStartSerializer,
        },
        responses={200: LOCATION, **START_ERRORS, **errors(*BODY_ERRORS)},
    )
    def post(self, request, provider: str):
        return self._start(request, provider, request.data)


class SocialLoginCallbackApi(APIView):
    parser_classes = [StrictJSONParser, StrictFormParser]

    @extend_schema(
        summary="Finish a social login",
        description="The provider's `code` and `state` as the storefront's "
        "callback page received them. A customer token, or a registration "
        "token (`actor_id` empty: next `POST /store/customers` with "
        "`user_metadata.email`, then `POST /auth/token/refresh`). A state is "
        "good once, for SOCIAL_STATE_TTL. The callback of a link (`POST "
        "/store/customers/me/providers/{provider}`) needs the linking "
        "account's token or cookie (401 otherwise).",
        parameters=[*CALLBACK_QUERY, RETRY_AFTER_HEADER],
        responses={200: TokenSerializer, **FINISH_ERRORS},
    )
    def get(self, request, provider: str):
        return self._finish(request, provider)

    @extend_schema(
        summary="Finish a social login (POST)",
        description="As the GET, the parameters in the query or, for a "
        "provider in `form_post` mode (SOCIAL_<NAME>_RESPONSE_MODE), in the "
        "body as the provider posted them to the callback page.",
        parameters=[*CALLBACK_QUERY, RETRY_AFTER_HEADER],
        request={
            "application/json": SocialLoginCallbackSerializer,
            "application/x-www-form-urlencoded": SocialLoginCallbackSerializer,
        },
        responses={200: TokenSerializer, **FINISH_ERRORS, **errors(*BODY_ERRORS)},
    )
    def post(self, request, provider: str):
        data = request.data
        body = validated(SocialLoginCallbackSerializer, data) if data else {}
        return self._finish(request, provider, body)

    def _finish(self, request, provider: str, body=None) -> Response:
        params = {**request.query_params.dict(), **(body or {})}
        query = validated(SocialLoginCallbackSerializer, params)
        social_login_rate_limit(request)
        result = social_login_finish(
            provider=provider,
            code=query.get("code"),
            state=query.get("state"),
            issuer=query.get("iss"),
            user=query.get("user"),
            client=client_info(request),
            now=timezone.now(),
            caller_identity_id=_caller_identity_id(request),
        )
        return Response({"token": result.token})


def _caller_identity_id(request) -> str | None:
    """The identity of the customer credential the callback carries (a
    link must be finished by the account that started it), or None: a
    login's callback needs none, and a stale token the SDK still stores
    must not refuse it."""
    try:
        result = CustomerAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed:
        return None
    return result[0].identity.id if result else None


# ------------------------------------------------ a logged-in customer's logins

LINKED_PROVIDER_PARAMETER = OpenApiParameter(
    "provider",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=list(SOCIAL_PROVIDERS) or None,
    description="A social login provider of SOCIAL_PROVIDERS; any other: 404",
)
LOGINS = OpenApiResponse(
    {
        **list_of(
            "providers",
            {
                "type": "object",
                "required": ["provider", "email", "created_at"],
                "properties": {
                    "provider": {"type": "string"},
                    "email": {"type": "string", "nullable": True},
                    "created_at": {"type": "string", "format": "date-time"},
                },
                "additionalProperties": False,
            },
        ),
        "additionalProperties": False,
    },
    description="The account's ways to sign in, oldest first: each provider "
    "with the address it speaks for",
)
LOGGED_IN = requirement(CUSTOMER_TOKEN, SESSION_COOKIE)


def _logins(identity) -> Response:
    return Response(
        {
            "providers": [
                {
                    "provider": login.provider,
                    "email": login_email(login),
                    "created_at": login.created_at,
                }
                for login in selectors.logins_of(identity_id=identity.id)
            ]
        }
    )


class SocialLoginsApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="List the logged-in customer's ways to sign in",
        auth=LOGGED_IN,
        parameters=[PUBLISHABLE_KEY_HEADER],
        responses={200: LOGINS, **errors(400, 401, 503, unauthorized="either")},
    )
    def get(self, request):
        return _logins(request.user.identity)


class SocialLinkApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]
    parser_classes = [StrictJSONParser, StrictFormParser]

    @extend_schema(
        summary="Link a provider account to the logged-in customer",
        description="`{location}` as for a social login; the provider's "
        "callback (`GET /auth/customer/{provider}/callback`) then adds the "
        "provider account to this account and answers its token. 422 there "
        "when the provider account is linked to another account, or this "
        "account has another account of the provider; 401 when the "
        "account's tokens were revoked since.",
        auth=LOGGED_IN,
        parameters=[LINKED_PROVIDER_PARAMETER, PUBLISHABLE_KEY_HEADER],
        request={
            "application/json": SocialLoginStartSerializer,
            "application/x-www-form-urlencoded": SocialLoginStartSerializer,
        },
        responses={
            200: LOCATION,
            **errors(401, unauthorized="either"),
            **errors(*BODY_ERRORS, 404, 429),
        },
    )
    def post(self, request, provider: str):
        _known(provider)
        body = validated(SocialLoginStartSerializer, request.data)
        social_login_rate_limit(request)
        location = social_link_start(
            identity=request.user.identity,
            provider=provider,
            callback_url=body.get("callback_url"),
        )
        return Response({"location": location})

    @extend_schema(
        summary="Unlink a provider account from the logged-in customer",
        description="Never the last way to sign in (400 `not_allowed`): a "
        "customer who signs in with this provider only logs in by e-mailed "
        "code first (which adds that way in). The remaining ways answer.",
        auth=LOGGED_IN,
        parameters=[LINKED_PROVIDER_PARAMETER, PUBLISHABLE_KEY_HEADER],
        request=None,
        responses={200: LOGINS, **errors(400, 401, 404, 503, unauthorized="either")},
    )
    def delete(self, request, provider: str):
        _known(provider)
        social_unlink(identity=request.user.identity, provider=provider)
        return _logins(request.user.identity)


def _known(provider: str) -> None:
    if provider not in SOCIAL_PROVIDERS:
        raise NotFound(f"No social login provider {provider}")
