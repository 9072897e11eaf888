"""Errors every layer raises, and their one JSON shape.

The kinds and statuses are Medusa's (`MedusaError.Types`) plus ours
(`too_many_requests`, `unavailable`), listed in docs/api.md. DRF views get
their answer from api/errors.py's exception handler; everything else that
answers an error itself (middleware, plain views, Django's error handlers)
uses `error_response`, so the bodies are the same everywhere.
"""

from typing import Any

from django.http import JsonResponse

# Medusa's answer when authentication fails: a bare message, no type.
UNAUTHORIZED_BODY = {"message": "Unauthorized"}
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable, please try again"


class ApiError(Exception):
    status = 400
    type = "invalid_data"
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra

    def headers(self) -> dict[str, str]:
        """Headers the answer carries (Retry-After for a 429 and a 503)."""
        retry_after = getattr(self, "retry_after", None)
        return {} if retry_after is None else {"Retry-After": str(retry_after)}

    def body(self) -> dict[str, Any]:
        # Medusa's order: code (when set), type, message.
        body: dict[str, Any] = {} if self.code is None else {"code": self.code}
        body.update({"type": self.type, "message": self.message}, **self.extra)
        return body


class InvalidData(ApiError):
    status = 400
    type = "invalid_data"


class NotAllowed(ApiError):
    status = 400
    type = "not_allowed"


class MethodNotAllowed(NotAllowed):
    status = 405


class Unauthorized(ApiError):
    status = 401
    type = "unauthorized"


class NotFound(ApiError):
    status = 404
    type = "not_found"


class DuplicateError(ApiError):
    status = 422
    type = "duplicate_error"
    code = "invalid_request_error"


class TooManyRequests(ApiError):
    status = 429
    type = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int | None, **extra: Any):
        super().__init__(message, **extra)
        self.retry_after = retry_after


class Unavailable(ApiError):
    """A dependency is down (PostgreSQL, the broker, a provider) or sign-ups
    are paused: nothing was done, and the client may try again in
    RETRY_AFTER seconds (the Retry-After of nginx's own 502 too)."""

    status = 503
    type = "unavailable"
    retry_after = 5


class UnknownError(ApiError):
    """Medusa's body for an error nobody expected: every one is a bug."""

    status = 500
    type = "unknown_error"
    code = "unknown_error"


def error_response(error: ApiError) -> JsonResponse:
    return JsonResponse(error.body(), status=error.status, headers=error.headers())


def unauthorized_response() -> JsonResponse:
    return JsonResponse(UNAUTHORIZED_BODY, status=401)
