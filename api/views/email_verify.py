"""Ours: verifying the address of an account (docs/account.md, "Verifying
the address"): ask for the mail again, and confirm by its code (logged in)
or by its link's token (no login needed)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import CustomerAuth, CustomerAuthentication, IsCustomer
from api.bodies import EmailVerifySerializer
from api.fields import validated
from api.representations import fields_select
from api.schema import (
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    errors,
)
from api.shapes import CUSTOMER_ENVELOPE, CUSTOMER_TOKEN, SESSION_COOKIE, requirement
from api.views.common import customer_addresses, customer_response
from api.views.otp import CODE_SENT, OTP_REFUSAL
from core.errors import NotFound
from core.ratelimit import client_key
from flows import email_verify


class EmailVerifySendApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="E-mail a code and a link that confirm the customer's address",
        description="Sign-up sends this mail by itself; this route sends it "
        "again, with the OTP send limits (429 during the resend cooldown, "
        "over the hourly budget or the flood limits). An address already "
        "proven answers 200 with `expiresIn: 0` and sends nothing. 503 when "
        "the database is down (no code is left without its mail).",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=None,
        responses={
            200: CODE_SENT,
            **errors(400, 401, 429, 413, 415, 503, unauthorized="bare"),
        },
    )
    def post(self, request):
        expires_in = email_verify.verification_send(
            identity=request.user.identity, ip=client_key(request), now=timezone.now()
        )
        return Response({"success": True, "expiresIn": expires_in})


class EmailVerifyApi(APIView):
    authentication_classes = [CustomerAuthentication]

    def perform_authentication(self, request):
        """Lazy: only a code needs the customer's login; a link's token is
        checked without one (a stale token the page sends along must not
        refuse the link)."""

    @extend_schema(
        summary="Confirm the customer's address with the mailed code or link",
        description="`{code}` needs the customer's token or session (401 "
        "without); `{token}`, the link's, needs no login. Either proves the "
        "mailbox: the password stays valid after later code logins, and no "
        "token or session is revoked. An address already proven answers 200 "
        "(a code is then not checked). Code refusals as OTP verify's "
        "(`otp_invalid` with `remainingAttempts`, `otp_locked`, "
        "`otp_expired`, `otp_not_found`); a link's: `otp_not_found` (unknown, "
        "used or replaced), `otp_expired`, `otp_locked`.",
        # Or none: the link's token needs no login.
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE) + [{}],
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=EmailVerifySerializer,
        responses={
            200: CUSTOMER_ENVELOPE,
            400: OTP_REFUSAL,
            **errors(401, 404, 429, 413, 415, 503, unauthorized="bare"),
        },
    )
    def post(self, request):
        data = validated(EmailVerifySerializer, request.data)
        ip, now = client_key(request), timezone.now()
        if "code" in data:
            auth = request.user
            if not isinstance(auth, CustomerAuth) or not auth.customer_id:
                raise exceptions.NotAuthenticated()
            verified = email_verify.verify_by_code(
                identity=auth.identity, code=data["code"], ip=ip, now=now
            )
        else:
            verified = email_verify.verify_by_link(token=data["token"], ip=ip, now=now)
        customer = verified.customer
        if customer is None:
            raise NotFound("The customer of this address was not found")
        fields = fields_select(None)
        return customer_response(
            customer,
            fields,
            addresses=customer_addresses(customer, fields),
            email_verified=verified.identity.email_verified_at is not None,
        )
