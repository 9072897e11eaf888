"""Domain errors every app raises; api/errors.py turns them into JSON bodies.

The kinds and statuses are Medusa's (`MedusaError.Types`) plus ours
(`too_many_requests`, `unavailable`), see API.md.
"""

from typing import Any


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

    def __init__(self, message: str, *, retry_after: int, **extra: Any):
        super().__init__(message, **extra)
        self.retry_after = retry_after


class Unavailable(ApiError):
    status = 503
    type = "unavailable"
