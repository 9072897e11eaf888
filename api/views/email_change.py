"""Ours: changing the customer's address (flows/email_change.py;
docs/account.md, "Changing the email"): ask for a code at the new address,
confirm it, and, from the notice to the old address, undo."""

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.models import Provider
from api.authentication import CustomerAuthentication, IsCustomer
from api.bodies import (
    EmailChangeConfirmSerializer,
    EmailChangeSerializer,
    EmailChangeUndoSerializer,
)
from api.fields import validated
from api.representations import customer_representation, fields_select
from api.schema import PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER, errors
from api.session_cookie import client_token, session_renew
from api.shapes import CUSTOMER_SCHEMA, CUSTOMER_TOKEN, SESSION_COOKIE, requirement
from api.views.auth import SET_COOKIE_HEADER
from api.views.common import customer_addresses
from api.views.otp import CODE_SENT, OTP_REFUSAL
from core.errors import NotFound
from core.ratelimit import client_key
from flows import email_change

TOKEN_AND_CUSTOMER = OpenApiResponse(
    {
        "type": "object",
        "required": ["token", "customer"],
        "properties": {"token": {"type": "string"}, "customer": CUSTOMER_SCHEMA},
    },
    description="A new token (every older one is refused) and the customer",
)
UNDONE = OpenApiResponse(
    {
        "type": "object",
        "required": ["success", "message"],
        "properties": {
            "success": {"type": "boolean"},
            "message": {"type": "string"},
        },
    },
    description="The old address restored; every token and session refused",
)
UNDONE_MESSAGE = (
    "Your e-mail address was restored and every device signed out. "
    "Choose a new password now: whoever changed the address may know it."
)


class EmailChangeApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="E-mail a code to the customer's new address",
        description="The address is normalized and checked as at "
        "registration (400 `Invalid email address`); the account's own "
        "address is 400; an address of another account is 422 "
        "`duplicate_error` (register's wording). OTP send limits (429); 503 "
        "when the database is down.",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=EmailChangeSerializer,
        responses={
            200: CODE_SENT,
            **errors(400, 401, 422, 429, 413, 415, 503, unauthorized="bare"),
        },
    )
    def post(self, request):
        data = validated(EmailChangeSerializer, request.data)
        expires_in = email_change.email_change_request(
            identity=request.user.identity,
            email=data["email"],
            ip=client_key(request),
            now=timezone.now(),
        )
        return Response({"success": True, "expiresIn": expires_in})


@method_decorator(sensitive_post_parameters("code"), name="dispatch")
class EmailChangeConfirmApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Confirm the new address with its code",
        description="The account's logins, the customer's email and the "
        "proof of the mailbox move to the new address in one transaction; "
        "every older token and cookie session is refused, the answer's "
        "token (and a new cookie for a session) keeps this client logged "
        "in. The old address gets a notice with an undo link (72 hours). "
        "Code refusals as OTP verify's; an address taken meanwhile is 422 "
        "and nothing changes.",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER, SET_COOKIE_HEADER],
        request=EmailChangeConfirmSerializer,
        responses={
            200: TOKEN_AND_CUSTOMER,
            400: OTP_REFUSAL,
            **errors(401, 404, 422, 429, 413, 415, 503, unauthorized="bare"),
        },
    )
    def post(self, request):
        auth = request.user
        data = validated(EmailChangeConfirmSerializer, request.data)
        now = timezone.now()
        identity = email_change.email_change_confirm(
            identity=auth.identity,
            code=data["code"],
            ip=client_key(request),
            now=now,
            session_id=auth.claims.session_id,
        )
        customer = selectors.customer_of(identity)
        if customer is None:
            raise NotFound("The customer of this account was not found")
        token = client_token(
            request,
            identity=identity,
            provider=auth.claims.auth_provider or Provider.EMAILPASS,
            now=now,
        )
        fields = fields_select(None)
        response = Response(
            {
                "token": token,
                "customer": customer_representation(
                    customer,
                    fields,
                    addresses=customer_addresses(customer, fields),
                    email_verified=True,
                ),
            }
        )
        if auth.via_session:
            session_renew(request, response, token)
        return response


@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class EmailChangeUndoApi(APIView):
    @extend_schema(
        summary="Undo an e-mail change from the notice's link",
        description="No login: the token is the notice's (signed, valid 72 "
        "hours). The account moves back to the old address if that is still "
        "free (422 otherwise), every token and session is refused, and the "
        "customer is told (in the answer and by mail) to choose a new "
        "password. A forged, expired or spent token is 400 `undo_invalid`.",
        parameters=[PUBLISHABLE_KEY_HEADER],
        request=EmailChangeUndoSerializer,
        responses={200: UNDONE, **errors(400, 422, 413, 415, 503)},
    )
    def post(self, request):
        data = validated(EmailChangeUndoSerializer, request.data)
        email_change.email_change_undo(token=data["token"], now=timezone.now())
        return Response({"success": True, "message": UNDONE_MESSAGE})
