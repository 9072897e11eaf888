"""Medusa-compatible auth and customer routes, plus one-step signup.

Views parse, call a service, and shape the answer; the rules live in
accounts.services. Statuses and messages follow medusa-contract.md.
"""

from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
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
from accounts.emails import email_normalize
from accounts.models import Provider
from accounts.representations import customer_representation, fields_select
from accounts.sessions import customer_session_create, customer_session_delete
from accounts.tokens import InvalidToken, access_token_decode
from config.api import (
    MetadataField,
    StrictCharField,
    StrictEmailField,
    StrictSerializer,
    validated,
)
from config.errors import ApiError, InvalidData, NotFound, Unauthorized
from config.parsers import StrictFormParser, StrictJSONParser
from config.ratelimit import client_ip, rate_limit
from orphans.metrics import signup_outcome
from orphans.services import orphan_profile_failure_record, signups_open_check

UNKNOWN_PROVIDER = (
    "\nUnable to retrieve the auth provider with id: {provider}\n"
    "Please make sure that the provider is registered in the container and it "
    "is configured correctly in your application configuration file or in the "
    "module definition.\n"
)
PASSWORD_PROVIDERS = (Provider.EMAILPASS,)

TokenSerializer = inline_serializer("Token", {"token": serializers.CharField()})
CredentialsSerializer = inline_serializer(
    "Credentials",
    {"email": serializers.CharField(), "password": serializers.CharField()},
)
CustomerSerializer = inline_serializer(
    "CustomerEnvelope", {"customer": serializers.DictField()}
)
FIELDS_PARAMETER = OpenApiParameter(
    "fields", str, description="Medusa field selection, e.g. `id,email` or `*orders`"
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
    rate_limit(("signup-ip", client_ip(request), settings.SIGNUP_LIMIT_PER_IP, 3600))


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
        request=CredentialsSerializer,
        responses={200: TokenSerializer},
    )
    def post(self, request, provider: str):
        _provider_check(provider, PASSWORD_PROVIDERS)
        signups_open_check()
        email, password = _credentials(request.data)
        _signup_rate_limit(request)
        now = timezone.now()
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
        request=CredentialsSerializer,
        responses={200: TokenSerializer},
    )
    def post(self, request, provider: str):
        _provider_check(provider, PASSWORD_PROVIDERS)
        email, password = _credentials(request.data)
        rate_limit(
            ("login-ip", client_ip(request), settings.LOGIN_LIMIT_PER_IP, 600),
            (
                "login-email",
                email_normalize(email),
                settings.LOGIN_LIMIT_PER_EMAIL,
                600,
            ),
        )
        identity = services.identity_authenticate_emailpass(
            email=email, password=password
        )
        token = services.access_token_for_identity(
            identity=identity, provider=provider, now=timezone.now()
        )
        return Response({"token": token})


class AuthProvidersListApi(APIView):
    @extend_schema(summary="List the customer auth providers")
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
        request=None,
        responses={200: TokenSerializer},
    )
    def post(self, request):
        claims = request.user.claims
        if not claims.auth_provider:
            raise Unauthorized("The auth provider is not set while refreshing token")
        token = services.access_token_for_identity(
            identity=request.user.identity,
            provider=claims.auth_provider,
            now=timezone.now(),
        )
        return Response({"token": token})


class AuthSessionApi(APIView):
    """Exempt from CSRF like every API view: POST takes its credential from
    the Authorization header, which a cross-site form cannot send."""

    @extend_schema(summary="Open a cookie session from a Bearer token", request=None)
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

    @extend_schema(summary="Close the cookie session", request=None)
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
    class InputSerializer(StrictSerializer):
        identifier = StrictCharField(max_length=254)
        metadata = MetadataField(required=False, allow_null=True)

    @extend_schema(
        summary="Ask for a password reset e-mail",
        request=InputSerializer,
        responses={201: str},
    )
    def post(self, request, provider: str):
        _provider_check(provider, PASSWORD_PROVIDERS)
        data = validated(self.InputSerializer, request.data)
        rate_limit(
            ("reset-ip", client_ip(request), settings.RESET_LIMIT_PER_IP, 3600),
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
        request=inline_serializer(
            "PasswordUpdate", {"password": serializers.CharField()}
        ),
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

    @extend_schema(
        summary="Create the customer of a registration token",
        request=InputSerializer,
        responses={200: CustomerSerializer},
        parameters=[FIELDS_PARAMETER],
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
        customer = selectors.customer_get(customer_id=request.user.customer_id)
        if customer is None:
            raise NotFound(
                f"Customer with id: {request.user.customer_id} was not found"
            )
        return customer

    @extend_schema(
        summary="Read the logged-in customer",
        parameters=[FIELDS_PARAMETER],
        responses={200: CustomerSerializer},
    )
    def get(self, request):
        return _customer_response(self._customer(request), _fields(request))

    @extend_schema(
        summary="Update the logged-in customer",
        request=CustomerProfileSerializer,
        responses={200: CustomerSerializer},
        parameters=[FIELDS_PARAMETER],
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

    @extend_schema(
        summary="Sign up in one step: identity, provider identity and customer",
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "Signup",
                {"token": serializers.CharField(), "customer": serializers.DictField()},
            )
        },
    )
    def post(self, request):
        signups_open_check()
        data = dict(validated(self.InputSerializer, request.data))
        _signup_rate_limit(request)
        password = data.pop("password")
        now = timezone.now()
        try:
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
