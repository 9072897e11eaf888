"""The publishable-key check of every /store/* request
(docs/medusa-contract.md, "Publishable key").

It runs before authentication, as in Medusa: a missing key (400) wins over a
missing token (401).

A key found active is remembered by the process for
PUBLISHABLE_KEY_CACHE_SECONDS (default 10; 0 turns it off): the lookup was a
third of the database round trips of GET /store/customers/me
(docs/performance.md). Only active keys are remembered, so an unknown key is
looked up every time, and a revoked key stops working within that time.
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from accounts import selectors
from core.errors import (
    UNAVAILABLE_MESSAGE,
    NotAllowed,
    Unavailable,
    error_response,
)
from core.http import is_storefront
from core.locale import language_from_headers, request_language_set

logger = logging.getLogger("api")

KEY_HEADER = "x-publishable-api-key"
KEY_MISSING = (
    "Publishable API key required in the request header: x-publishable-api-key. "
    "You can manage your keys in settings in the dashboard."
)
KEY_INVALID = "A valid publishable key is required to proceed with the request"


class PublishableKeyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.active_until: dict[str, float] = {}  # key -> monotonic deadline

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path.startswith("/store/") and request.method != "OPTIONS":
            refusal = self._refusal(request.headers.get(KEY_HEADER, ""))
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, key: str) -> HttpResponse | None:
        if not key:
            return error_response(NotAllowed(KEY_MISSING))
        if self.active_until.get(key, 0.0) > time.monotonic():
            return None
        try:
            active = selectors.publishable_key_is_active(token=key)
        except DatabaseError:
            logger.error("Database error while checking a publishable key")
            return error_response(Unavailable(UNAVAILABLE_MESSAGE))
        if not active:
            self.active_until.pop(key, None)
            return error_response(NotAllowed(KEY_INVALID))
        if settings.PUBLISHABLE_KEY_CACHE_SECONDS > 0:
            self.active_until[key] = (
                time.monotonic() + settings.PUBLISHABLE_KEY_CACHE_SECONDS
            )
        return None


class RequestLanguageMiddleware:
    """The language of a storefront request (`x-medusa-locale`, then
    `Accept-Language`, core/locale.py) for the mails it queues and the
    customer it touches. Only /store/* and /auth/*: a staff member's browser
    language is not the customer's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_storefront(request):
            return self.get_response(request)
        with request_language_set(language_from_headers(request.headers)):
            return self.get_response(request)
