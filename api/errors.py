"""The one error path: DRF's exception handler for every API view, and the
handlers config/urls.py gives Django for the rest.

Bodies follow Medusa: `{"type", "message", ...}` for domain errors,
`{"message": "Unauthorized"}` (no type) when authentication fails, and zod's
`Invalid request: <m1>; <m2>; <m3>` for invalid bodies (docs/medusa-contract.md,
"Error bodies").
"""

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from core.errors import (
    UNAUTHORIZED_BODY,
    UNAVAILABLE_MESSAGE,
    ApiError,
    InvalidData,
    MethodNotAllowed,
    NotAllowed,
    NotFound,
    TooManyRequests,
    Unavailable,
)

logger = logging.getLogger("api.errors")

MAX_REPORTED_ISSUES = 3


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Response(UNAUTHORIZED_BODY, status=401)
    error = _api_error(exc)
    if error is None:
        return None  # a 500: Django's handler answers (config/urls.py)
    return Response(error.body(), status=error.status, headers=error.headers())


def _api_error(exc: Exception) -> ApiError | None:
    """What DRF and Django raise, as our errors."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, exceptions.ValidationError):
        return InvalidData(validation_message(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return InvalidData(str(exc.detail))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return _invalid(str(exc.detail), status=415)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, exceptions.Throttled):
        # DRF sets `wait` in Throttled.__init__; djangorestframework-stubs
        # leaves the attribute out.
        wait: float | None = exc.wait  # type: ignore[attr-defined]
        return TooManyRequests(
            str(exc.detail), retry_after=int(wait) + 1 if wait else None
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return NotFound("Not found")
    if isinstance(exc, exceptions.PermissionDenied):
        return _with_status(NotAllowed(str(exc.detail)), 403)
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
        return Unavailable(UNAVAILABLE_MESSAGE)
    return None


def _invalid(message: str, status: int) -> ApiError:
    return _with_status(InvalidData(message), status)


def _with_status(error: ApiError, status: int) -> ApiError:
    error.status = status
    return error


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
