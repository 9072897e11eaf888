"""The one error path: DRF's exception handler for every API view, and the
handlers config/urls.py gives Django for the rest.

Bodies follow Medusa: `{"type", "message", ...}` for domain errors,
`{"message": "Unauthorized"}` (no type) when authentication fails, and zod's
`Invalid request: <m1>; <m2>; <m3>` for invalid bodies (medusa-contract §2.1).
"""

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from core.errors import ApiError

logger = logging.getLogger("api.errors")

UNAUTHORIZED_BODY = {"message": "Unauthorized"}
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable, please try again"
MAX_REPORTED_ISSUES = 3


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = _response_for(exc)
    if response is not None and isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait) + 1)
    if response is not None and isinstance(exc, ApiError):
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
    return response


def _response_for(exc: Exception) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(exc.body(), status=exc.status)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Response(UNAUTHORIZED_BODY, status=401)
    if isinstance(exc, exceptions.ValidationError):
        return _invalid(validation_message(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return _invalid(str(exc.detail))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _invalid(str(exc.detail), status=415)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response({"type": "not_allowed", "message": str(exc.detail)}, 405)
    if isinstance(exc, exceptions.Throttled):
        return Response({"type": "too_many_requests", "message": str(exc.detail)}, 429)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response({"type": "not_found", "message": "Not found"}, status=404)
    if isinstance(exc, exceptions.PermissionDenied):
        return Response({"type": "not_allowed", "message": str(exc.detail)}, 403)
    if isinstance(exc, RequestDataTooBig):
        return _invalid("Request body is too large", status=413)
    if isinstance(exc, exceptions.APIException) and exc.status_code < 500:
        # Any other client error DRF knows (406, ...): its own status, our shape.
        return _invalid(str(exc.detail), status=exc.status_code)
    if isinstance(exc, DatabaseError):
        # The database is down or refused the statement: the transaction was
        # rolled back, so a retry is safe. Log the kind, never the statement
        # parameters (they may hold an email).
        logger.error(
            "Database error while handling a request",
            extra={"error": type(exc).__name__},
        )
        return Response({"type": "unavailable", "message": UNAVAILABLE_MESSAGE}, 503)
    return None


def _invalid(message: str, status: int = 400) -> Response:
    return Response({"type": "invalid_data", "message": message}, status=status)


def validation_message(detail: Any) -> str:
    issues = list(_issues(detail, path=""))
    return "Invalid request: " + "; ".join(issues[:MAX_REPORTED_ISSUES])


def _issues(detail: Any, path: str):
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = path if key == "non_field_errors" else _join(path, str(key))
            yield from _issues(value, name)
    elif isinstance(detail, list):
        for item in detail:
            yield from _issues(item, path)
    elif getattr(detail, "code", None) == "required":
        yield f"Field '{path}' is required"
    else:
        yield str(detail)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def js_string(value: Any) -> str:
    """What JavaScript's String(value) prints, for zod-style messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(js_string(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
