"""Ours: the export of everything held about the logged-in customer
(GDPR art. 20, docs/account.md "Export"). Deleting the account is
DELETE /store/customers/me (api/views/customers.py)."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import CustomerAuthentication, IsCustomer
from api.schema import PUBLISHABLE_KEY_HEADER, errors
from api.shapes import CUSTOMER_TOKEN, SESSION_COOKIE, requirement
from api.views.common import current_customer, unrecognized_keys_refuse
from flows.account_export import FORMAT, account_export

_OBJECT = {"type": "object"}
_NULLABLE_OBJECT = {"type": "object", "nullable": True}
_LIST = {"type": "array", "items": _OBJECT}

EXPORT_SCHEMA = {
    "type": "object",
    "required": [
        "format",
        "exported_at",
        "customer",
        "addresses",
        "auth_identity",
        "logins",
        "sessions",
        "password_reset_requests",
        "one_time_codes",
        "one_time_code_failures",
        "signup",
        "staff_actions",
        "earlier_accounts_erased",
    ],
    "properties": {
        "format": {"type": "string", "enum": [FORMAT]},
        "exported_at": {"type": "string", "format": "date-time"},
        "customer": _OBJECT,
        "addresses": _LIST,
        "auth_identity": _OBJECT,
        "logins": _LIST,
        "sessions": _LIST,
        "password_reset_requests": _LIST,
        "one_time_codes": _LIST,
        "one_time_code_failures": _NULLABLE_OBJECT,
        "signup": _OBJECT,
        "staff_actions": _LIST,
        "earlier_accounts_erased": _LIST,
    },
}

CONTENT_DISPOSITION_HEADER = OpenApiParameter(
    "Content-Disposition",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    required=True,
    description='`attachment; filename="account-<customer id>.json"`',
)


class CustomerExportApi(APIView):
    authentication_classes = [CustomerAuthentication]
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Export everything held about the logged-in customer (GDPR art. 20)",
        description="A JSON document, as a download: the profile, addresses, "
        "logins (never a password hash, token or code), reset requests, "
        "one-time codes of the address, the mailbox's verification time, "
        "sign-up records, staff actions on the account and erased earlier "
        "accounts of the address.",
        auth=requirement(CUSTOMER_TOKEN, SESSION_COOKIE),
        parameters=[PUBLISHABLE_KEY_HEADER, CONTENT_DISPOSITION_HEADER],
        responses={
            200: OpenApiResponse(EXPORT_SCHEMA, description="The export"),
            **errors(400, 401, 404, 503, unauthorized="bare"),
        },
    )
    def get(self, request):
        unrecognized_keys_refuse(list(request.query_params))
        customer = current_customer(request)
        document = account_export(
            customer=customer, identity=request.user.identity, now=timezone.now()
        )
        return Response(
            document,
            headers={
                "Content-Disposition": (
                    f'attachment; filename="account-{customer.id}.json"'
                ),
                "Cache-Control": "no-store",
            },
        )
