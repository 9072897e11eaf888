"""Ours: one-step signup (identity, login and customer in one
transaction)."""

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from api.bodies import SignupSerializer
from api.fields import validated
from api.limits import signup_failures_limited, signup_rate_limit
from api.representations import customer_representation, fields_select
from api.schema import (
    BODY_ERRORS,
    PUBLISHABLE_KEY_HEADER,
    RETRY_AFTER_HEADER,
    errors,
)
from api.shapes import CUSTOMER_SCHEMA
from core.client_info import client_info
from core.ratelimit import client_key
from flows.signup import signup
from orphans.services import signups_open_check


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class SignupApi(APIView):
    @extend_schema(
        summary="Sign up in one step: identity, provider identity and customer",
        description="One transaction: no orphan is left behind. Signups paused "
        "by staff: 503.",
        parameters=[PUBLISHABLE_KEY_HEADER, RETRY_AFTER_HEADER],
        request=SignupSerializer,
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
        data = dict(validated(SignupSerializer, request.data))
        signup_rate_limit(request)
        password = data.pop("password")
        now = timezone.now()
        with signup_failures_limited(data["email"]):
            customer, token = signup(
                password=password,
                profile=services.Profile(**data),
                ip=client_key(request),
                client=client_info(request),
                now=now,
            )
        return Response(
            {
                "token": token,
                # A new customer: no addresses, and no read after the commit.
                "customer": customer_representation(
                    customer, fields_select(None), addresses=(), email_verified=False
                ),
            }
        )
