"""Medusa's customer routes: step 2 of the two-step signup (create
the customer of a registration token) and the logged-in customer; ours:
deleting the account (docs/account.md)."""

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.sessions import customer_session_delete
from api.authentication import (
    CustomerAuthentication,
    CustomerReadAuthentication,
    IsAuthIdentity,
    IsCustomer,
)
from api.bodies import (
    CustomerCreateSerializer,
    CustomerDeleteSerializer,
    CustomerProfileSerializer,
)
from api.fields import validated
from api.limits import login_failures_limited
from api.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    DeleteWithBodySchema,
    errors,
)
from api.shapes import (
    CUSTOMER_ENVELOPE,
    CUSTOMER_TOKEN,
    REGISTRATION_TOKEN,
    SESSION_COOKIE,
    requirement,
)
from api.views.common import (
    FIELDS_PARAMETER,
    current_customer,
    customer_addresses,
    customer_response,
    email_verified,
    query_fields,
    unrecognized_keys_refuse,
)
from api.views.otp import OTP_REFUSAL
from core.errors import ApiError, InvalidData
from core.ratelimit import client_key
from flows import erasure, signup

CUSTOMER_DELETED = OpenApiResponse(
    {
        "type": "object",
        "required": ["id", "object", "deleted"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["customer"]},
            "deleted": {"type": "boolean", "enum": [True]},
        },
        "additionalProperties": False,
    },
    description="The account is erased; every token and session of it is "
    "refused from now on",
)


class CustomerCreateApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsAuthIdentity]

    @extend_schema(
        summary="Create the customer of a registration token",
        description="`email` is required and must be the address the token's "
        "identity proved (400 otherwise); a second customer for the identity "
        "or the address is 422 `duplicate_error`.",
        auth=requirement(REGISTRATION_TOKEN, SESSION_COOKIE),
        request=CustomerCreateSerializer,
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
            fields = query_fields(request)
            data = validated(CustomerCreateSerializer, request.data)
            customer = signup.profile_create(
                auth_identity_id=auth.identity.id,
                profile=services.Profile(**data),
                ip=client_key(request),
                now=now,
            )
        except (ValidationError, ApiError, DatabaseError) as error:
            signup.profile_failed(
                auth_identity_id=auth.identity.id, error=error, now=now
            )
            raise
        # A new customer has no addresses: no read after the commit, whose
        # failure would answer 503 for a customer that exists.
        return customer_response(
            customer, fields, addresses=(), email_verified=email_verified(request)
        )


class CustomerMeApi(APIView):
    authentication_classes = [CustomerReadAuthentication]
    permission_classes = [IsCustomer]
    schema = DeleteWithBodySchema()

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
        customer = current_customer(request)
        fields = query_fields(request)
        return customer_response(
            customer,
            fields,
            addresses=customer_addresses(customer, fields, request.user.addresses),
            email_verified=email_verified(request),
        )

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
        fields = query_fields(request)
        changes = validated(CustomerProfileSerializer, request.data)
        customer = services.customer_update(
            customer_id=request.user.customer_id, changes=changes, now=timezone.now()
        )
        return customer_response(
            customer,
            fields,
            addresses=customer_addresses(customer, fields),
            email_verified=email_verified(request),
        )

    @extend_schema(
        summary="Delete the logged-in customer's account (GDPR art. 17)",
        description="With the password, or a code e-mailed to the customer's "
        "own address by `POST /store/auth/otp/send`. Logins, addresses and "
        "the profile are erased (in Medusa's replica too: the row stays for "
        "orders, without the person); an audit row keeps the email's HMAC "
        "only; a notice is mailed. A wrong password is 401 and counts like a "
        "failed login; a wrong code is counted like any (400, `code` says "
        "why). The address can sign up again.",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        request=CustomerDeleteSerializer,
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        responses={
            200: CUSTOMER_DELETED,
            400: OTP_REFUSAL,
            **errors(401, 404, 413, 415, 429, 503, unauthorized="either"),
        },
    )
    def delete(self, request):
        unrecognized_keys_refuse(list(request.query_params))
        customer = current_customer(request)
        data = validated(CustomerDeleteSerializer, request.data)
        identity, email, now = (
            request.user.identity,
            customer.email or "",
            timezone.now(),
        )
        if "password" in data:
            with login_failures_limited(request, email):
                erased = erasure.erase_with_password(
                    identity=identity, email=email, password=data["password"], now=now
                )
        else:
            erased = erasure.erase_with_code(
                identity=identity,
                email=email,
                code=data["code"],
                ip=client_key(request),
                now=now,
            )
        response = Response(
            {"id": erased.customer_id, "object": "customer", "deleted": True}
        )
        cookie = request.COOKIES.get(settings.CUSTOMER_SESSION_COOKIE_NAME)
        if cookie:
            # The session's identity is gone (it is refused already); the
            # row goes too, and the browser forgets the cookie.
            customer_session_delete(cookie_value=cookie)
            response.delete_cookie(
                settings.CUSTOMER_SESSION_COOKIE_NAME, samesite="Lax"
            )
        return response
