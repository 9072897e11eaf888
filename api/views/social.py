"""Medusa's social login routes for OpenID Connect providers
(docs/social-login.md): `sdk.auth.login("customer", "google", …)` starts,
`sdk.auth.callback("customer", "google", query)` finishes."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.bodies import SocialLoginCallbackSerializer, SocialLoginStartSerializer
from api.fields import validated
from api.limits import social_login_rate_limit
from api.parsers import StrictFormParser, StrictJSONParser
from api.schema import BODY_ERRORS, RETRY_AFTER_HEADER, errors
from api.shapes import TokenSerializer
from core.client_info import client_info
from flows.social_login import social_login_finish, social_login_start

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
        "good once, for SOCIAL_STATE_TTL.",
        parameters=[*CALLBACK_QUERY, RETRY_AFTER_HEADER],
        responses={200: TokenSerializer, **FINISH_ERRORS},
    )
    def get(self, request, provider: str):
        return self._finish(request, provider)

    @extend_schema(
        summary="Finish a social login (POST)",
        description="As the GET: the parameters in the query.",
        parameters=[*CALLBACK_QUERY, RETRY_AFTER_HEADER],
        request=None,
        responses={200: TokenSerializer, **FINISH_ERRORS},
    )
    def post(self, request, provider: str):
        return self._finish(request, provider)

    def _finish(self, request, provider: str) -> Response:
        query = validated(SocialLoginCallbackSerializer, request.query_params.dict())
        social_login_rate_limit(request)
        result = social_login_finish(
            provider=provider,
            code=query.get("code"),
            state=query.get("state"),
            issuer=query.get("iss"),
            client=client_info(request),
            now=timezone.now(),
        )
        return Response({"token": result.token})
