"""POST /store/customers/me/password: change the password while logged in
(flows/password_change.py; docs/account.md, "Changing the password")."""

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors
from accounts.models import Provider
from api.authentication import CustomerAuthentication, IsCustomer
from api.bodies import PasswordChangeSerializer
from api.fields import validated
from api.limits import login_failures_limited
from api.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    error_schema,
    errors,
)
from api.session_cookie import client_token, session_renew
from api.shapes import CUSTOMER_TOKEN, SESSION_COOKIE, TokenSerializer, requirement
from api.views.auth import SET_COOKIE_HEADER
from core.client_info import client_info
from core.errors import NotFound
from core.ratelimit import client_key
from flows.password_change import PasswordChange, password_change

REFUSALS = OpenApiResponse(
    {
        "anyOf": [
            error_schema("invalid_data", "not_allowed"),
            {
                **error_schema("invalid_data"),
                "properties": {
                    **error_schema("invalid_data")["properties"],
                    "remainingAttempts": {"type": "integer", "minimum": 0},
                },
            },
        ]
    },
    description="Invalid input or a new password the policy refuses "
    "(`invalid_data`); a code that is wrong, expired or used (`invalid_data`, "
    "`code` otp_invalid / otp_expired / otp_not_found); a confirmation that "
    "does not fit the account (`not_allowed`, `code` password_not_set or "
    "current_password_required, or otp_locked)",
)


@method_decorator(
    sensitive_post_parameters("current_password", "new_password", "code"),
    name="dispatch",
)
class PasswordChangeApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Change the password of the logged-in customer",
        description="Confirmed by the current password, or, for an account "
        "without one, by a code sent to the account's address with "
        "`POST /store/auth/otp/send`. Every other token and cookie session "
        "of the account is refused from then on; the answer's token (and, "
        "for a cookie session, a new cookie) keeps this client logged in. "
        "A wrong current password is 401 and counts as a failed login of "
        "the address (429 once the login limits are reached). A notice is "
        "mailed to the address.",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER, SET_COOKIE_HEADER],
        request=PasswordChangeSerializer,
        responses={
            200: TokenSerializer,
            400: REFUSALS,
            **errors(401, unauthorized="either"),
            **errors(429, *[s for s in BODY_ERRORS if s != 400]),
        },
    )
    def post(self, request):
        auth = request.user
        data = validated(PasswordChangeSerializer, request.data)
        email = selectors.auth_identity_email(auth_identity_id=auth.identity.id)
        if email is None:  # a login-less identity cannot hold a token
            raise NotFound("The account has no login address")
        change = PasswordChange(
            identity=auth.identity,
            email=email,
            current_password=data.get("current_password"),
            code=data.get("code"),
            new_password=data["new_password"],
            session_id=auth.claims.session_id,
        )
        now = timezone.now()
        arguments = {"client": client_info(request), "ip": client_key(request)}
        if change.code is None:
            # Counted with the address's failed logins: no faster guessing here.
            with login_failures_limited(request, email):
                identity = password_change(change, **arguments, now=now)
        else:
            identity = password_change(change, **arguments, now=now)
        token = client_token(
            request,
            identity=identity,
            provider=auth.claims.auth_provider or Provider.EMAILPASS,
            now=now,
        )
        response = Response({"token": token})
        if auth.via_session:
            session_renew(request, response, token)
        return response
