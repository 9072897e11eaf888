"""OpenAPI: the customer credentials' security schemes, and the bodies and
fields the account routes share with the OTP routes.

All tokens are HS256 JWTs in `Authorization: Bearer`; they are told apart
here because each route takes a specific kind (api.authentication
reads the session cookie first, then the token).
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

# Names of security schemes, not secrets.
CUSTOMER_TOKEN = "customerToken"  # noqa: S105
REGISTRATION_TOKEN = "registrationToken"  # noqa: S105
RESET_TOKEN = "resetToken"  # noqa: S105
SESSION_COOKIE = "sessionCookie"

SECURITY_SCHEMES = {
    CUSTOMER_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A customer's access token (`actor_id` = the customer id): from "
            "login, refresh, one-step signup or OTP verify."
        ),
    },
    REGISTRATION_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "An access token without a customer yet (`actor_id` empty): from "
            "register, or login/OTP verify before `POST /store/customers`."
        ),
    },
    RESET_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The 15-minute single-use token of the reset e-mail.",
    },
    SESSION_COOKIE: {
        "type": "apiKey",
        "in": "cookie",
        "name": "connect.sid",
        "description": "The cookie session `POST /auth/session` opens.",
    },
}


# Any: drf-spectacular annotates extend_schema(auth=) as Sequence[str], yet
# puts the list in the operation's `security` as is, so it takes these
# security requirement objects (a list of {scheme: []}).
def requirement(*names: str) -> Any:
    """Alternatives (OR) for `extend_schema(auth=...)`."""
    return [{name: []} for name in names]


def add_security_schemes(result, generator, request, public):
    """drf-spectacular hook: the views name their schemes with
    `extend_schema(auth=...)`, which registers no definition; add them."""
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.update(SECURITY_SCHEMES)
    return result


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


ADDRESS_SCHEMA = {
    "type": "object",
    "description": "Medusa's customer address; `?fields=` selects the keys (id always)",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "address_name": {"type": "string", "nullable": True},
        "company": {"type": "string", "nullable": True},
        "customer_id": {"type": "string"},
        "first_name": {"type": "string", "nullable": True},
        "last_name": {"type": "string", "nullable": True},
        "address_1": {"type": "string", "nullable": True},
        "address_2": {"type": "string", "nullable": True},
        "city": {"type": "string", "nullable": True},
        "province": {"type": "string", "nullable": True},
        "postal_code": {"type": "string", "nullable": True},
        "country_code": {"type": "string", "nullable": True},
        "phone": {"type": "string", "nullable": True},
        "metadata": {"type": "object", "nullable": True},
        "is_default_shipping": {"type": "boolean"},
        "is_default_billing": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}
CUSTOMER_SCHEMA = {
    "type": "object",
    "description": "Medusa's customer; `?fields=` selects the keys (id always)",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "company_name": {"type": "string", "nullable": True},
        "first_name": {"type": "string", "nullable": True},
        "last_name": {"type": "string", "nullable": True},
        "phone": {"type": "string", "nullable": True},
        "metadata": {"type": "object", "nullable": True},
        "has_account": {"type": "boolean"},
        "deleted_at": {"type": "string", "format": "date-time", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "addresses": {"type": "array", "items": ADDRESS_SCHEMA},
        "orders": {"type": "array", "items": {"type": "object"}},
        "email_verified": {
            "type": "boolean",
            "description": "Ours, after Medusa's keys: the customer proved "
            "the mailbox (the sign-up mail's code or link, a code login, a "
            "reset link)",
        },
    },
    "additionalProperties": False,
}
CUSTOMER_ENVELOPE = OpenApiResponse(
    {
        "type": "object",
        "required": ["customer"],
        "properties": {"customer": CUSTOMER_SCHEMA},
    },
    description="The customer",
)
CLAIMS_SCHEMA = {
    "type": "object",
    "description": "The token's claims, as Medusa's session keeps them",
    "required": ["actor_id", "actor_type", "auth_identity_id"],
    "properties": {
        "actor_id": {"type": "string"},
        "actor_type": {"type": "string", "enum": ["customer"]},
        "auth_identity_id": {"type": "string"},
        "auth_provider": {"type": "string", "nullable": True},
        "app_metadata": {"type": "object"},
        "user_metadata": {"type": "object"},
        "iat": {"type": "integer"},
        "exp": {"type": "integer"},
    },
}
