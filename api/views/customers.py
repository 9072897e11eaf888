"""Medusa's customer routes: step 2 of the two-step signup (create
the customer of a registration token) and the logged-in customer."""

from django.db import DatabaseError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from accounts import services
from api.authentication import (
    CustomerAuthentication,
    IsAuthIdentity,
    IsCustomer,
)
from api.bodies import CustomerCreateSerializer, CustomerProfileSerializer
from api.fields import validated
from api.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
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
)
from core.errors import ApiError, InvalidData
from core.ratelimit import client_key
from flows import signup


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
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

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
            addresses=customer_addresses(customer, fields),
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
