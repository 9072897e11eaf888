"""Medusa's auth routes: register, login, the provider list, token
refresh and cookie sessions."""

from django.conf import settings
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Provider
from accounts.sessions import customer_session_delete
from api.authentication import (
    CustomerAuthentication,
    IsAuthIdentity,
    bearer_authenticate,
)
from api.bodies import LoginSerializer, RegisterSerializer
from api.fields import validated
from api.limits import (
    login_failures_limited,
    signup_failures_limited,
    signup_rate_limit,
)
from api.parsers import StrictFormParser, StrictJSONParser
from api.schema import (
    BODY_ERRORS,
    RETRY_AFTER_HEADER,
    errors,
    list_of,
)
from api.session_cookie import client_token, session_cookie_set
from api.shapes import (
    CLAIMS_SCHEMA,
    CUSTOMER_TOKEN,
    REGISTRATION_TOKEN,
    SESSION_COOKIE,
    SuccessSerializer,
    TokenSerializer,
    requirement,
)
from api.views.common import (
    PASSWORD_PROVIDERS,
    PROVIDER_PARAMETER,
    provider_check,
)
from core.client_info import client_info
from core.errors import Unauthorized
from core.ratelimit import rate_limit
from flows import passwords, signup
from orphans.services import signups_open_check
from social.services import display_names as social_display_names

SET_COOKIE_HEADER = OpenApiParameter(
    "Set-Cookie",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="`connect.sid`: HttpOnly, SameSite=Lax, 10 hours",
)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class AuthRegisterApi(APIView):
    parser_classes = [StrictJSONParser, StrictFormParser]

    @extend_schema(
        summary="Register an emailpass identity",
        description="A registration token (`actor_id` empty); next: "
        "`POST /store/customers`. Signups paused by staff: 503.",
        parameters=[PROVIDER_PARAMETER, RETRY_AFTER_HEADER],
        request={
            "application/json": RegisterSerializer,
            "application/x-www-form-urlencoded": RegisterSerializer,
        },
        responses={200: TokenSerializer, **errors(401, 429, *BODY_ERRORS)},
    )
    def post(self, request, provider: str):
        provider_check(provider, PASSWORD_PROVIDERS)
        signups_open_check()
        data = validated(RegisterSerializer, request.data)
        email, password = data["email"], data["password"]
        signup_rate_limit(request)
        now = timezone.now()
        with signup_failures_limited(email):
            identity = signup.register(email=email, password=password, now=now)
        token = services.access_token_for_login(
            identity=identity, provider=provider, client=client_info(request), now=now
        )
        return Response({"token": token})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class AuthLoginApi(APIView):
    parser_classes = [StrictJSONParser, StrictFormParser]

    @extend_schema(
        summary="Log in with email and password",
        parameters=[PROVIDER_PARAMETER, RETRY_AFTER_HEADER],
        request={
            "application/json": LoginSerializer,
            "application/x-www-form-urlencoded": LoginSerializer,
        },
        responses={200: TokenSerializer, **errors(401, 429, *BODY_ERRORS)},
    )
    def post(self, request, provider: str):
        provider_check(provider, PASSWORD_PROVIDERS)
        data = validated(LoginSerializer, request.data)
        email, password = data["email"], data["password"]
        with login_failures_limited(request, email):
            identity = passwords.password_login(email=email, password=password)
        token = services.access_token_for_login(
            identity=identity,
            provider=provider,
            client=client_info(request),
            now=timezone.now(),
            announce=True,
        )
        return Response({"token": token})


class AuthProvidersListApi(APIView):
    @extend_schema(
        summary="List the customer auth providers",
        responses={
            200: OpenApiResponse(
                list_of(
                    "providers",
                    {
                        "type": "object",
                        "required": ["id", "identifier", "display_name"],
                        "properties": {
                            "id": {"type": "string"},
                            "identifier": {"type": "string"},
                            "display_name": {"type": "string"},
                            "flow": {"type": "string"},
                        },
                    },
                ),
                description="The providers",
            )
        },
    )
    def get(self, request):
        providers = [
            {
                "id": Provider.EMAILPASS.value,
                "identifier": Provider.EMAILPASS.value,
                "display_name": "Email/Password Authentication",
                "flow": "credentials",
            },
            *(
                {
                    "id": name,
                    "identifier": name,
                    "display_name": display_name,
                    "flow": "redirect",
                }
                for name, display_name in social_display_names().items()
            ),
        ]
        return Response({"providers": providers})


class AuthTokenRefreshApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsAuthIdentity]

    @extend_schema(
        summary="Exchange a valid token for a fresh one",
        description="A registration token becomes a customer token once the "
        "customer exists.",
        request=None,
        parameters=[RETRY_AFTER_HEADER],
        auth=requirement(CUSTOMER_TOKEN, REGISTRATION_TOKEN, SESSION_COOKIE),
        responses={
            200: TokenSerializer,
            **errors(401, 429, 503, unauthorized="either"),
        },
    )
    def post(self, request):
        claims = request.user.claims
        if not claims.auth_provider:
            raise Unauthorized("The auth provider is not set while refreshing token")
        rate_limit(
            (
                "refresh-identity",
                request.user.identity.id,
                settings.REFRESH_LIMIT_PER_IDENTITY,
                600,
            )
        )
        token = client_token(
            request,
            identity=request.user.identity,
            provider=claims.auth_provider,
            now=timezone.now(),
        )
        return Response({"token": token})


class AuthSessionApi(APIView):
    """Exempt from CSRF like every API view: POST takes its credential from
    the Authorization header, which a cross-site form cannot send."""

    @extend_schema(
        summary="Open a cookie session from a Bearer token",
        request=None,
        auth=requirement(CUSTOMER_TOKEN, REGISTRATION_TOKEN),
        parameters=[SET_COOKIE_HEADER],
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "required": ["user"],
                    "properties": {"user": CLAIMS_SCHEMA},
                },
                description="The session is open",
            ),
            **errors(401, 503, unauthorized="bare"),
        },
    )
    def post(self, request):
        # The Bearer token only: a session cookie does not open another.
        auth = bearer_authenticate(request)
        if auth is None:
            raise _unauthorized()
        claims = auth.claims
        response = Response({"user": claims.raw})
        session_cookie_set(response, claims=claims.raw)
        return response

    @extend_schema(
        summary="Close the cookie session",
        request=None,
        auth=requirement(SESSION_COOKIE),
        responses={
            200: OpenApiResponse(SuccessSerializer, description="Closed"),
            **errors(401, 503, unauthorized="bare"),
        },
    )
    def delete(self, request):
        cookie = request.COOKIES.get(settings.CUSTOMER_SESSION_COOKIE_NAME)
        claims = customer_session_delete(cookie_value=cookie) if cookie else None
        if claims is None:
            raise _unauthorized()
        # Logging out ends the login session: its tokens too.
        identity_id, session_id = claims.get("auth_identity_id"), claims.get("sid")
        if isinstance(identity_id, str) and isinstance(session_id, str):
            services.login_session_end(
                auth_identity_id=identity_id, session_id=session_id, now=timezone.now()
            )
        response = Response({"success": True})
        response.delete_cookie(settings.CUSTOMER_SESSION_COOKIE_NAME, samesite="Lax")
        return response


def _unauthorized():
    from rest_framework.exceptions import NotAuthenticated

    return NotAuthenticated()
