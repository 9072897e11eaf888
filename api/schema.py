"""What the OpenAPI schema (drf-spectacular) says about answers every API
shares, so each view documents the statuses and bodies it really produces.

Error bodies are api/errors.py's: `{"type", "message", ...}` (plus `code` for
some kinds, `remainingAttempts` for a wrong OTP code), Medusa's bare
`{"message": "Unauthorized"}` when authentication fails, and 413 for bodies
over MAX_BODY_BYTES. tests/hardening/test_fuzz.py checks every answer of the
live server against this schema.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

# Error kinds (core.errors and api.errors) by status.
KINDS = {
    400: ("invalid_data", "not_allowed"),
    401: ("unauthorized",),
    404: ("not_found",),
    413: ("invalid_data",),
    415: ("invalid_data",),
    422: ("duplicate_error",),
    429: ("too_many_requests",),
    503: ("unavailable",),
}
DESCRIPTIONS = {
    400: "Invalid input (`invalid_data`) or a refused request (`not_allowed`)",
    401: "Not authenticated",
    404: "Not found",
    413: "Request body over MAX_BODY_BYTES",
    415: "Unsupported request media type",
    422: "Duplicate (`duplicate_error`)",
    429: "Too many requests; `Retry-After` says when to try again",
    503: "A dependency (PostgreSQL, the broker) is unavailable, or signups are "
    "paused; safe to retry",
}


def error_schema(*kinds: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "message"],
        "properties": {
            "code": {"type": "string"},
            "type": {"type": "string", "enum": list(kinds)},
            "message": {"type": "string"},
        },
    }


# Medusa's authenticate() middleware: no type.
BARE_UNAUTHORIZED_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "enum": ["Unauthorized"]}},
    "additionalProperties": False,
}


def errors(*statuses: int, unauthorized: str = "typed") -> dict[int, OpenApiResponse]:
    """Error responses for `extend_schema(responses=...)`. A 401 is `typed`
    (`{"type": "unauthorized", "message"}` from a route's own checks),
    `bare` (Medusa's `{"message": "Unauthorized"}` when a token or session
    is refused) or `either`."""
    result = {}
    for status in statuses:
        schema = error_schema(*KINDS[status])
        if status == 401 and unauthorized == "bare":
            schema = BARE_UNAUTHORIZED_SCHEMA
        elif status == 401 and unauthorized == "either":
            schema = {"anyOf": [schema, BARE_UNAUTHORIZED_SCHEMA]}
        result[status] = OpenApiResponse(schema, description=DESCRIPTIONS[status])
    return result


# Statuses any route that reads a JSON body can answer before its own logic:
# malformed or unsafe JSON, a body over MAX_BODY_BYTES, a media type no
# parser takes, PostgreSQL down.
BODY_ERRORS = (400, 413, 415, 503)

RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    required=True,
    response=[429],
    description="Seconds to wait before retrying",
)

# A header parameter, not a security scheme: without it /store/* answers
# 400 `not_allowed` (Medusa), which is not how OpenAPI security fails (401).
PUBLISHABLE_KEY_HEADER = OpenApiParameter(
    "x-publishable-api-key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "Publishable API key of the store. Missing or unknown: 400 `not_allowed`, "
        "checked before any token."
    ),
)


class DeleteWithBodySchema(AutoSchema):
    """For a view whose DELETE reads a body (DELETE /store/customers/me: the
    proof): drf-spectacular documents the bodies of PUT, PATCH and POST
    only. The serializer states the fields (and their `oneOf`)."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            body = super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
        if body:
            # Every field is optional, one of them is required (`oneOf`):
            # the body is.
            body["required"] = True
        return body


class StrictSerializerExtension(OpenApiSerializerExtension):
    """api.fields.StrictSerializer refuses unknown keys: say so."""

    target_class = "api.fields.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        # Fields a request must send to succeed, though a missing one is
        # answered by the serializer's own check (api/bodies.py).
        for name in getattr(self.target, "schema_required", ()):
            schema.setdefault("required", []).append(name)
            schema["properties"][name].pop("nullable", None)
        # Exactly one of these groups of fields (api/bodies.py refuses
        # neither and both alike).
        one_of = getattr(self.target, "schema_one_of", ())
        if one_of:
            schema["oneOf"] = [{"required": list(names)} for names in one_of]
        return schema


HEALTH_PATH = {
    "get": {
        "operationId": "health_retrieve",
        "summary": "Liveness and readiness: 200 while PostgreSQL answers",
        "tags": ["operations"],
        "responses": {
            status: {
                "description": description,
                "content": {
                    "text/plain": {"schema": {"type": "string", "enum": [text]}},
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["status", "database", "redis"],
                            "properties": {
                                "status": {"type": "string", "enum": [json_status]},
                                "database": {"type": "string", "enum": [json_status]},
                                "redis": {
                                    "type": "string",
                                    "enum": ["ok", "unavailable"],
                                },
                            },
                        }
                    },
                },
            }
            for status, description, text, json_status in (
                ("200", "PostgreSQL answers", "OK", "ok"),
                (
                    "503",
                    "PostgreSQL does not answer",
                    "Service Unavailable",
                    "unavailable",
                ),
            )
        },
    }
}

METRICS_PATH = {
    "get": {
        "operationId": "metrics_retrieve",
        "summary": "Prometheus metrics of all web and worker processes",
        "tags": ["operations"],
        # Open when METRICS_TOKEN is empty, a bearer token otherwise.
        "security": [{"metricsToken": []}, {}],
        "responses": {
            "200": {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "401": {
                "description": "METRICS_TOKEN is set and the bearer token differs",
                "content": {"application/json": {"schema": BARE_UNAUTHORIZED_SCHEMA}},
            },
        },
    }
}


def add_plain_django_routes(result, generator, request, public):
    """GET /health and GET /metrics are plain Django views, which
    drf-spectacular does not see; document them too."""
    result["paths"]["/health"] = HEALTH_PATH
    result["paths"]["/metrics"] = METRICS_PATH
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["metricsToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICS_TOKEN, when set",
    }
    return result


# core.errors.Unavailable's header: every 503 `unavailable` says when to
# try again (nginx's own 502 too).
UNAVAILABLE_RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 1},
    "required": True,
    "description": "Seconds to wait before retrying (nothing was done)",
}


def add_retry_after_to_unavailable(result, generator, request, public):
    """Every documented 503 `unavailable` answer carries `Retry-After`
    (core.errors.Unavailable): say so on each, whichever view declared it
    (errors(503), BODY_ERRORS). /health's plain 503 has no such header."""
    for operations in result["paths"].values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("503")
            if not answer:
                continue
            json = answer.get("content", {}).get("application/json", {})
            kinds = json.get("schema", {}).get("properties", {}).get("type", {})
            if "unavailable" in kinds.get("enum", ()):
                answer.setdefault("headers", {})["Retry-After"] = dict(
                    UNAVAILABLE_RETRY_AFTER
                )
    return result


def list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """`{key: [item, ...]}`, the envelope of a list answer."""
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": item}},
    }
