"""OTP routes: our /store/auth/otp/{send,verify} and the SDK-native
POST /auth/customer/email-otp (medusa-contract.md section 9)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.representations import customer_representation, fields_select
from config.api import StrictCharField, StrictSerializer, validated
from config.errors import ApiError, Unauthorized
from config.ratelimit import client_ip
from otp import services


class OtpSendApi(APIView):
    class InputSerializer(StrictSerializer):
        email = StrictCharField(max_length=254, allow_blank=False)

    @extend_schema(
        summary="E-mail a one-time code (same answer for known and unknown emails)",
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "OtpSent",
                {
                    "success": serializers.BooleanField(),
                    "expiresIn": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        expires_in = services.otp_send(
            email=data["email"], ip=client_ip(request), now=timezone.now()
        )
        return Response({"success": True, "expiresIn": expires_in})


class OtpVerifyInput(StrictSerializer):
    email = StrictCharField(max_length=254, allow_blank=False)
    code = StrictCharField(max_length=32, allow_blank=False)


class OtpVerifyApi(APIView):
    @extend_schema(
        summary="Verify a one-time code and log in (or start a profile)",
        request=OtpVerifyInput,
        responses={
            200: inline_serializer(
                "OtpVerified",
                {
                    "token": serializers.CharField(),
                    "customer": serializers.DictField(required=False),
                    "requiresProfile": serializers.BooleanField(required=False),
                    "isNewUser": serializers.BooleanField(),
                },
            )
        },
    )
    def post(self, request):
        data = validated(OtpVerifyInput, request.data)
        login = services.otp_verify(
            email=data["email"],
            code=data["code"],
            ip=client_ip(request),
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
                    login.customer, fields_select(None)
                ),
                "isNewUser": False,
            }
        )


class OtpMedusaLoginApi(APIView):
    """`sdk.auth.login("customer", "email-otp", {email, code})`: Medusa's
    provider contract answers {token} or a 401 with the reason."""

    @extend_schema(
        summary="Log in with an e-mailed code (Medusa SDK provider route)",
        request=OtpVerifyInput,
        responses={
            200: inline_serializer("OtpToken", {"token": serializers.CharField()})
        },
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        email, code = data.get("email"), data.get("code")
        if not isinstance(email, str) or not email:
            raise Unauthorized("Email should be a string")
        if not isinstance(code, str) or not code:
            raise Unauthorized("Code should be a string")
        try:
            login = services.otp_verify(
                email=email, code=code, ip=client_ip(request), now=timezone.now()
            )
        except ApiError as error:
            if error.status >= 500 or error.status == 429:
                raise
            raise Unauthorized(error.message) from error
        return Response({"token": login.token})
