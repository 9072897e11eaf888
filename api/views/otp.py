"""OTP routes: our /store/auth/otp/{send,verify} and the SDK-native
POST /auth/customer/email-otp (docs/medusa-contract.md, "The email-otp
provider route")."""

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.bodies import OtpLoginSerializer, OtpSendSerializer, OtpVerifySerializer
from api.fields import validated
from api.representations import customer_representation, fields_select
from api.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    error_schema,
    errors,
)
from api.shapes import CUSTOMER_SCHEMA, TokenSerializer
from core.client_info import client_info
from core.errors import ApiError, Unauthorized
from core.ratelimit import client_key
from flows.otp_login import otp_login
from otp import services

# A wrong code, an expired, used or missing one (invalid_data), or a locked
# challenge (not_allowed), each with its `code`; a wrong one says how many
# tries are left.
OTP_REFUSAL = OpenApiResponse(
    {
        "anyOf": [
            error_schema("invalid_data", "not_allowed"),
            {
                **error_schema("invalid_data"),
                "required": ["type", "message", "code", "remainingAttempts"],
                "properties": {
                    **error_schema("invalid_data")["properties"],
                    "code": {"type": "string", "enum": ["otp_invalid"]},
                    "remainingAttempts": {"type": "integer", "minimum": 0},
                },
            },
        ]
    },
    description="Invalid input, or the code is refused (`code` says why: "
    "otp_invalid, otp_expired, otp_not_found, otp_locked)",
)

# A code was mailed: `expiresIn` seconds to use it (the address verification
# send answers the same).
CODE_SENT = inline_serializer(
    "OtpSent",
    {"success": serializers.BooleanField(), "expiresIn": serializers.IntegerField()},
)


class OtpSendApi(APIView):
    @extend_schema(
        summary="E-mail a one-time code (same answer for known and unknown emails)",
        description="429 during the resend cooldown, over the hourly budget "
        "or the flood limits; 503 when the database is down (no code is left "
        "without its mail: the mail is written with the code, and sent even "
        "if the broker is down at the time).",
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=OtpSendSerializer,
        responses={
            200: CODE_SENT,
            **errors(429, *BODY_ERRORS),
        },
    )
    def post(self, request):
        data = validated(OtpSendSerializer, request.data)
        expires_in = services.otp_send(
            email=data["email"], ip=client_key(request), now=timezone.now()
        )
        return Response({"success": True, "expiresIn": expires_in})


class OtpVerifyApi(APIView):
    @extend_schema(
        summary="Verify a one-time code and log in (or start a profile)",
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=OtpVerifySerializer,
        responses={
            200: OpenApiResponse(
                {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["token", "customer", "isNewUser"],
                            "properties": {
                                "token": {"type": "string"},
                                "customer": CUSTOMER_SCHEMA,
                                "isNewUser": {"type": "boolean", "enum": [False]},
                            },
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "required": ["token", "requiresProfile", "isNewUser"],
                            "properties": {
                                "token": {"type": "string"},
                                "requiresProfile": {"type": "boolean", "enum": [True]},
                                "isNewUser": {"type": "boolean", "enum": [True]},
                            },
                            "additionalProperties": False,
                        },
                    ]
                },
                description="A customer token and the customer, or a "
                "registration token when the address has no customer yet",
            ),
            400: OTP_REFUSAL,
            **errors(429, 413, 415, 503),
        },
    )
    def post(self, request):
        data = validated(OtpVerifySerializer, request.data)
        login = otp_login(
            email=data["email"],
            code=data["code"],
            ip=client_key(request),
            client=client_info(request),
            now=timezone.now(),
        )
        if login.is_new_user:
            return Response(
                {"token": login.token, "requiresProfile": True, "isNewUser": True}
            )
        return Response(
            {
                "token": login.token,
                "customer": customer_representation(
                    login.customer,
                    fields_select(None),
                    addresses=login.addresses,
                    email_verified=True,  # the code proved the mailbox
                ),
                "isNewUser": False,
            }
        )


class OtpMedusaLoginApi(APIView):
    """`sdk.auth.login("customer", "email-otp", {email, code})`: Medusa's
    provider contract answers {token} or a 401 with the reason."""

    @extend_schema(
        summary="Log in with an e-mailed code (Medusa SDK provider route)",
        parameters=[RETRY_AFTER_HEADER],
        request=OtpLoginSerializer,
        responses={200: TokenSerializer, **errors(401, 429, *BODY_ERRORS)},
    )
    def post(self, request):
        data = validated(OtpLoginSerializer, request.data)
        email, code = data["email"], data["code"]
        try:
            login = otp_login(
                email=email,
                code=code,
                ip=client_key(request),
                client=client_info(request),
                now=timezone.now(),
            )
        except ApiError as error:
            if error.status >= 500 or error.status == 429:
                raise
            raise Unauthorized(error.message) from error
        return Response({"token": login.token})
