"""Ours: the logged-in customer's sessions and devices (docs/account.md,
"Sessions and devices"): list them, end one, end every other."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import LoginSession
from api.authentication import CustomerAuthentication, IsCustomer
from api.parsers import text_is_safe
from api.schema import PUBLISHABLE_KEY_HEADER, errors
from api.shapes import CUSTOMER_TOKEN, SESSION_COOKIE, requirement
from api.views.common import unrecognized_keys_refuse
from core.errors import NotFound

AUTH = requirement(CUSTOMER_TOKEN, SESSION_COOKIE)
SESSION_SCHEMA = {
    "type": "object",
    "required": [
        "id",
        "current",
        "created_at",
        "last_used_at",
        "user_agent",
        "ip_prefix",
        "auth_provider",
    ],
    "properties": {
        "id": {"type": "string"},
        "current": {
            "type": "boolean",
            "description": "The session of the request's token or cookie",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "last_used_at": {
            "type": "string",
            "format": "date-time",
            "description": "To the minute",
        },
        "user_agent": {"type": "string", "description": "Shortened; may be empty"},
        "ip_prefix": {
            "type": "string",
            "description": "The network (an IPv4 /24 or IPv6 /48), never the "
            "address; may be empty",
        },
        "auth_provider": {"type": "string"},
    },
}
SESSION_ID_PARAMETER = OpenApiParameter(
    "session_id", OpenApiTypes.STR, OpenApiParameter.PATH
)


def _session(session: LoginSession, *, current_id: str | None) -> dict[str, object]:
    return {
        "id": session.id,
        "current": session.id == current_id,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "user_agent": session.user_agent,
        "ip_prefix": session.ip_prefix,
        "auth_provider": session.auth_provider,
    }


class SessionListApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="store_customers_me_sessions_list",
        summary="List the logged-in customer's sessions",
        description="Every session a token or cookie may still use, the most "
        "recently used first. A token from before sessions existed belongs "
        "to none (and no session is `current`).",
        auth=AUTH,
        parameters=[PUBLISHABLE_KEY_HEADER],
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "required": ["sessions"],
                    "properties": {
                        "sessions": {"type": "array", "items": SESSION_SCHEMA}
                    },
                },
                description="The sessions",
            ),
            **errors(400, 401, 503, unauthorized="bare"),
        },
    )
    def get(self, request):
        unrecognized_keys_refuse(list(request.query_params))
        auth = request.user
        sessions = selectors.login_sessions_live(
            auth_identity_id=auth.identity.id, now=timezone.now()
        )
        current = auth.claims.session_id
        return Response(
            {"sessions": [_session(s, current_id=current) for s in sessions]}
        )

    @extend_schema(
        operation_id="store_customers_me_sessions_destroy_others",
        summary="End every session but this one",
        description="Their tokens and cookies are refused here from then on "
        "(Medusa's own routes check only a token's expiry), and so is every "
        "token from before sessions existed (this one too, if it is one).",
        auth=AUTH,
        parameters=[PUBLISHABLE_KEY_HEADER],
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "required": ["deleted"],
                    "properties": {"deleted": {"type": "integer"}},
                },
                description="How many sessions ended",
            ),
            **errors(400, 401, 503, unauthorized="bare"),
        },
    )
    def delete(self, request):
        auth = request.user
        ended = services.login_sessions_end_others(
            auth_identity_id=auth.identity.id,
            keep_session_id=auth.claims.session_id,
            now=timezone.now(),
        )
        return Response({"deleted": ended})


class SessionDetailApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        operation_id="store_customers_me_sessions_destroy",
        summary="End one of the logged-in customer's sessions",
        description="Its tokens and cookies are refused here from then on "
        "(Medusa's own routes check only a token's expiry), and so is every "
        "token from before sessions existed; ending the current one is "
        "logging out.",
        auth=AUTH,
        parameters=[PUBLISHABLE_KEY_HEADER, SESSION_ID_PARAMETER],
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "required": ["id", "object", "deleted"],
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"type": "string", "enum": ["session"]},
                        "deleted": {"type": "boolean", "enum": [True]},
                    },
                },
                description="The session ended",
            ),
            **errors(400, 401, 404, 503, unauthorized="bare"),
        },
    )
    def delete(self, request, session_id: str):
        ended = text_is_safe(session_id) and services.login_session_end(
            auth_identity_id=request.user.identity.id,
            session_id=session_id,
            now=timezone.now(),
        )
        if not ended:
            # Another customer's session is not found either.
            raise NotFound(
                f"Session with id: {session_id.replace(chr(0), '')} was not found"
            )
        return Response({"id": session_id, "object": "session", "deleted": True})
