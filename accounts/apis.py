"""Medusa-compatible auth and customer routes, plus one-step signup.

Views parse, call a service, and shape the answer; the rules live in
accounts.services. Statuses and messages follow medusa-contract.md.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.authentication import (
    CustomerAuthentication,
    IsAuthIdentity,
    IsCustomer,
    bearer_token,
)
from accounts.models import Provider
from accounts.representations import customer_representation, fields_select
from accounts.schema import (
    CLAIMS_SCHEMA,
    CUSTOMER_ENVELOPE,
    CUSTOMER_SCHEMA,
    CUSTOMER_TOKEN,
    REGISTRATION_TOKEN,
    RESET_TOKEN,
    SESSION_COOKIE,
    LoginSerializer,
    PasswordUpdateSerializer,
    RegisterSerializer,
    SuccessSerializer,
    TokenSerializer,
    email_field,
    new_password_field,
    requirement,
)
from accounts.sessions import customer_session_create, customer_session_delete
from accounts.tokens import InvalidToken, access_token_decode
from config.api import (
    MetadataField,
    StrictCharField,
    StrictEmailField,
    StrictSerializer,
    validated,
)
from config.parsers import StrictFormParser, StrictJSONParser
from config.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    errors,
)
from core.emails import email_normalize
from core.errors import ApiError, InvalidData, NotFound, Unauthorized
from core.metrics import signup_outcome
from core.ratelimit import (
    client_is_known,
    client_key,
    client_remember,
    failures_limited,
    rate_limit,
)
from orphans.services import orphan_profile_failure_record, signups_open_check

UNKNOWN_PROVIDER = (
    "\nUnable to retrieve the auth provider with id: {provider}\n"
    "Please make sure that the provider is registered in the container and it "
    "is configured correctly in your application configuration file or in the "
    "module definition.\n"
)
PASSWORD_PROVIDERS = (Provider.EMAILPASS,)

PROVIDER_PARAMETER = OpenApiParameter(
    "provider",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=[Provider.EMAILPASS.value],
    description="Auth provider; any other is 401 `unauthorized`",
)
FIELDS_PARAMETER = OpenApiParameter(
    "fields", str, description="Medusa field selection, e.g. `id,email` or `*orders`"
)
SET_COOKIE_HEADER = OpenApiParameter(
    "Set-Cookie",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="`connect.sid`: HttpOnly, SameSite=Lax, 10 hours",
)


def _provider_check(provider: str, allowed: tuple[str, ...]) -> None:
    if provider not in allowed:
        raise Unauthorized(UNKNOWN_PROVIDER.format(provider=provider))


def _credentials(data: Any) -> tuple[str, str]:
    """Medusa's emailpass checks: password first, then email; 401 for both."""
    get = data.get if hasattr(data, "get") else lambda key: None
    password, email = get("password"), get("email")
    if not isinstance(password, str) or not password:
        raise Unauthorized("Password should be a string")
    if not isinstance(email, str) or not email:
        raise Unauthorized("Email should be a string")
    return email, password


def _signup_rate_limit(request) -> None:
    rate_limit(("signup-ip", client_key(request), settings.SIGNUP_LIMIT_PER_IP, 3600))


def _signup_failures_limited(email: str):
    """A refused registration of an address that has an identity tested a
    password against it: a few an hour per address."""
    return failures_limited(
        (
            "signup-fail-email",
            email_normalize(email),
            settings.SIGNUP_FAILURES_PER_EMAIL,
            3600,
        ),
        failure=Unauthorized,
    )


@contextmanager
def _login_failures_limited(request, email: str) -> Iterator[None]:
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
    with failures_limited(*limits, failure=Unauthorized):
        yield
    client_remember(
        scope="login", key=pair, seconds=settings.LOGIN_KNOWN_CLIENT_DAYS * 86400
    )


def _fields(request) -> list[str]:
    unknown = [key for key in request.query_params if key != "fields"]
    if unknown:
        raise InvalidData(
            f"Invalid request: Unrecognized fields: '{', '.join(unknown)}'"
        )
    return fields_select(request.query_params.get("fields"))


def _customer_response(customer, fields: list[str]) -> Response:
    return Response({"customer": customer_representation(customer, fields)})


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
        _provider_check(provider, PASSWORD_PROVIDERS)
        signups_open_check()
        email, password = _credentials(request.data)
        _signup_rate_limit(request)
        now = timezone.now()
        with _signup_failures_limited(email):
            identity = services.identity_register_emailpass(
                email=email, password=password, now=now
            )
        token = services.access_token_for_identity(
            identity=identity, provider=provider, now=now
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
        _provider_check(provider, PASSWORD_PROVIDERS)
        email, password = _credentials(request.data)
        with _login_failures_limited(request, email):
            identity = services.identity_authenticate_emailpass(
                email=email, password=password
            )
        token = services.access_token_for_identity(
            identity=identity, provider=provider, now=timezone.now()
        )
        return Response({"token": token})


class AuthProvidersListApi(APIView):
    @extend_schema(
        summary="List the customer auth providers",
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "required": ["providers"],
                    "properties": {
                        "providers": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "identifier", "display_name"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "identifier": {"type": "string"},
                                    "display_name": {"type": "string"},
                                    "flow": {"type": "string"},
                                },
                            },
                        }
                    },
                },
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
            }
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
        token = services.access_token_for_identity(
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
        token = bearer_token(request)
        if token is None:
            raise _unauthorized()
        try:
            claims = access_token_decode(token)
        except InvalidToken:
            raise _unauthorized() from None
        if selectors.auth_identity_for_claims(claims=claims) is None:
            raise _unauthorized()
        response = Response({"user": claims.raw})
        response.set_cookie(
            settings.CUSTOMER_SESSION_COOKIE_NAME,
            customer_session_create(claims=claims.raw),
            max_age=int(settings.CUSTOMER_SESSION_TTL.total_seconds()),
            httponly=True,
            secure=settings.CUSTOMER_SESSION_COOKIE_SECURE,
            samesite="Lax",
        )
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
        if not cookie or not customer_session_delete(cookie_value=cookie):
            raise _unauthorized()
        response = Response({"success": True})
        response.delete_cookie(settings.CUSTOMER_SESSION_COOKIE_NAME, samesite="Lax")
        return response


def _unauthorized():
    from rest_framework.exceptions import NotAuthenticated

    return NotAuthenticated()


class PasswordResetRequestApi(APIView):
    @extend_schema_serializer(component_name="PasswordReset")
    class InputSerializer(StrictSerializer):
        identifier = StrictCharField(max_length=254)
        metadata = MetadataField(required=False, allow_null=True)

    @extend_schema(
        summary="Ask for a password reset e-mail",
        description="201 whether or not the identifier is known; the worker "
        "mails a 15-minute single-use token to a known one.",
        parameters=[PROVIDER_PARAMETER, RETRY_AFTER_HEADER],
        request=InputSerializer,
        responses={
            (201, "text/plain"): OpenApiResponse(
                {"type": "string", "enum": ["Created"]}, description="Queued"
            ),
            **errors(401, 429, *BODY_ERRORS),
        },
    )
    def post(self, request, provider: str):
        _provider_check(provider, PASSWORD_PROVIDERS)
        data = validated(self.InputSerializer, request.data)
        rate_limit(
            ("reset-ip", client_key(request), settings.RESET_LIMIT_PER_IP, 3600),
            (
                "reset-email",
                email_normalize(data["identifier"]),
                settings.RESET_LIMIT_PER_EMAIL,
                900,
            ),
        )
        services.password_reset_request(
            identifier=data["identifier"], provider=provider
        )
        # 201 "Created" whether or not the identity exists (no enumeration).
        return HttpResponse(
            "Created", status=201, content_type="text/plain; charset=utf-8"
        )


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class PasswordUpdateApi(APIView):
    @extend_schema(
        summary="Set a new password with the reset token from the e-mail",
        description="Tokens issued before now stop working. A missing password "
        "is 401 `Unauthorized` (Medusa); the token stays usable.",
        parameters=[PROVIDER_PARAMETER],
        auth=requirement(RESET_TOKEN),
        request=PasswordUpdateSerializer,
        responses={
            200: OpenApiResponse(SuccessSerializer, description="Password set"),
            **errors(401, *BODY_ERRORS),
        },
    )
    def post(self, request, provider: str):
        _provider_check(provider, PASSWORD_PROVIDERS)
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("Invalid token")
        data = request.data if isinstance(request.data, dict) else {}
        services.password_update_with_reset_token(
            token=token,
            provider=provider,
            password=data.get("password"),
            now=timezone.now(),
        )
        return Response({"success": True})


class CustomerProfileSerializer(StrictSerializer):
    company_name = StrictCharField(required=False, allow_null=True)
    first_name = StrictCharField(required=False, allow_null=True)
    last_name = StrictCharField(required=False, allow_null=True)
    phone = StrictCharField(required=False, allow_null=True, max_length=64)
    metadata = MetadataField(required=False, allow_null=True)


class CustomerCreateApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsAuthIdentity]

    class InputSerializer(CustomerProfileSerializer):
        email = StrictEmailField(required=False, allow_null=True)

    @extend_schema_serializer(component_name="CustomerCreate")
    class CustomerCreateBodySerializer(CustomerProfileSerializer):
        """The body as the schema states it: the view's own check makes
        `email` required, with Medusa's message."""

        email = StrictEmailField()

    @extend_schema(
        summary="Create the customer of a registration token",
        description="`email` is required and must be the address the token's "
        "identity proved (400 otherwise); a second customer for the identity "
        "or the address is 422 `duplicate_error`.",
        auth=requirement(REGISTRATION_TOKEN, SESSION_COOKIE),
        request=CustomerCreateBodySerializer,
        responses={
            200: CUSTOMER_ENVELOPE,
            **errors(401, 404, 422, *BODY_ERRORS, unauthorized="bare"),
        },
        parameters=[PUBLISHABLE_KEY_HEADER, FIELDS_PARAMETER],
    )
    def post(self, request):
        auth = request.user
        if auth.claims.actor_id:
            raise InvalidData("Request already authenticated as a customer.")
        now = timezone.now()
        try:
            fields = _fields(request)
            data = validated(self.InputSerializer, request.data)
            if not data.get("email"):
                raise InvalidData("Email is required to create a customer")
            customer = services.customer_create_for_identity(
                auth_identity_id=auth.identity.id,
                profile=services.Profile(**data),
                now=now,
            )
        except (ValidationError, ApiError, DatabaseError) as error:
            signup_outcome(flow="two_step", error=error)
            orphan_profile_failure_record(
                auth_identity_id=auth.identity.id, error=error, now=now
            )
            raise
        signup_outcome(flow="two_step")
        return _customer_response(customer, fields)


class CustomerMeApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    def _customer(self, request):
        customer = selectors.customer_of(request.user.identity)
        if customer is None or not request.user.customer_id:
            raise NotFound(
                f"Customer with id: {request.user.customer_id} was not found"
            )
        return customer

    @extend_schema(
        summary="Read the logged-in customer",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        parameters=[PUBLISHABLE_KEY_HEADER, FIELDS_PARAMETER],
        responses={
            200: CUSTOMER_ENVELOPE,
            **errors(400, 401, 404, 503, unauthorized="bare"),
        },
    )
    def get(self, request):
        return _customer_response(self._customer(request), _fields(request))

    @extend_schema(
        summary="Update the logged-in customer",
        description='`null` clears a field; metadata merges (`""` deletes a '
        "key, `metadata: null` clears it).",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        request=CustomerProfileSerializer,
        responses={
            200: CUSTOMER_ENVELOPE,
            **errors(401, 404, *BODY_ERRORS, unauthorized="bare"),
        },
        parameters=[PUBLISHABLE_KEY_HEADER, FIELDS_PARAMETER],
    )
    def post(self, request):
        fields = _fields(request)
        changes = validated(CustomerProfileSerializer, request.data)
        customer = services.customer_update(
            customer_id=request.user.customer_id, changes=changes, now=timezone.now()
        )
        return _customer_response(customer, fields)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class SignupApi(APIView):
    class InputSerializer(StrictSerializer):
        email = StrictCharField(max_length=254, allow_blank=False)
        password = StrictCharField(max_length=1024, allow_blank=False)
        first_name = StrictCharField(required=False, allow_null=True)
        last_name = StrictCharField(required=False, allow_null=True)
        phone = StrictCharField(required=False, allow_null=True, max_length=64)

    @extend_schema_serializer(component_name="Signup")
    class SchemaSerializer(InputSerializer):
        """The body as the schema states it (the services check the email
        and the password policy)."""

        email = email_field()
        password = new_password_field()

    @extend_schema(
        summary="Sign up in one step: identity, provider identity and customer",
        description="One transaction: no orphan is left behind. Signups paused "
        "by staff: 503.",
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=SchemaSerializer,
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "required": ["token", "customer"],
                    "properties": {
                        "token": {"type": "string"},
                        "customer": CUSTOMER_SCHEMA,
                    },
                },
                description="A customer token and the customer",
            ),
            **errors(401, 429, *BODY_ERRORS),
        },
    )
    def post(self, request):
        signups_open_check()
        data = dict(validated(self.InputSerializer, request.data))
        _signup_rate_limit(request)
        password = data.pop("password")
        now = timezone.now()
        try:
            with _signup_failures_limited(data["email"]):
                customer, identity = services.customer_signup(
                    password=password, profile=services.Profile(**data), now=now
                )
        except (ApiError, DatabaseError) as error:
            signup_outcome(flow="one_step", error=error)
            raise
        signup_outcome(flow="one_step")
        token = services.access_token_for_identity(
            identity=identity, provider=Provider.EMAILPASS, now=now
        )
        return Response(
            {
                "token": token,
                "customer": customer_representation(customer, fields_select(None)),
            }
        )
