"""Medusa's password reset: ask for the mail, then set the password
with its token."""

from django.conf import settings
from django.http import HttpResponse
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
from api.bodies import PasswordResetSerializer, PasswordUpdateSerializer
from api.fields import validated
from api.schema import (
    BODY_ERRORS,
    RETRY_AFTER_HEADER,
    errors,
)
from api.shapes import (
    RESET_TOKEN,
    SuccessSerializer,
    requirement,
)
from api.views.common import (
    PASSWORD_PROVIDERS,
    PROVIDER_PARAMETER,
    provider_check,
)
from core.emails import email_normalize
from core.errors import Unauthorized
from core.http import bearer_token
from core.ratelimit import (
    client_key,
    rate_limit,
)
from flows.passwords import password_reset_complete


class PasswordResetRequestApi(APIView):
    @extend_schema(
        summary="Ask for a password reset e-mail",
        description="201 whether or not the identifier is known; the worker "
        "mails a 15-minute single-use token to a known one.",
        parameters=[PROVIDER_PARAMETER, RETRY_AFTER_HEADER],
        request=PasswordResetSerializer,
        responses={
            (201, "text/plain"): OpenApiResponse(
                {"type": "string", "enum": ["Created"]}, description="Queued"
            ),
            **errors(401, 429, *BODY_ERRORS),
        },
    )
    def post(self, request, provider: str):
        provider_check(provider, PASSWORD_PROVIDERS)
        data = validated(PasswordResetSerializer, request.data)
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
        provider_check(provider, PASSWORD_PROVIDERS)
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("Invalid token")
        data = validated(PasswordUpdateSerializer, request.data)
        password_reset_complete(
            token=token,
            provider=provider,
            password=data["password"],
            now=timezone.now(),
        )
        return Response({"success": True})
